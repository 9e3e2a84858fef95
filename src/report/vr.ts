/** Value formatting for DICOM VRs whose length is limited. */

/** A Decimal String (DS) of at most 16 characters. */
export function formatDS(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`DS value must be finite (got ${value})`);
  if (Object.is(value, -0)) value = 0;
  let s = String(value);
  for (let p = 15; s.length > 16 && p > 0; p--) s = value.toPrecision(p).replace(/(\.\d*?)0+(e|$)/, '$1$2').replace(/\.(e|$)/, '$1');
  if (s.length > 16) throw new Error(`DS value ${value} does not fit 16 characters`);
  return s;
}

/** DICOM DA and TM of a date (local time). */
export function dicomDateTime(d: Date): { date: string; time: string } {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return {
    date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`,
    time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`,
  };
}
