/**
 * Some transcoders write sequences they could not type as UN with undefined length, whose content is Implicit VR
 * Little Endian (CP-246). dcmjs (0.51) mistakes such elements for encapsulated pixel data and throws. When that
 * happens, part10.ts retries without them: this removes every top-level UN element of undefined length from an
 * explicit VR Little Endian Part 10 file. They are references (ReferencedImageSequence and the like), never
 * attributes that selection or assembly read.
 */
const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);

function vrAt(b: Uint8Array, p: number): string {
  return String.fromCharCode(b[p], b[p + 1]);
}

/** Returns the bytes without top-level undefined-length UN elements, or undefined when there are none. */
export function stripUndefinedLengthUN(buf: Uint8Array): { bytes: Uint8Array; removed: number } | undefined {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u16 = (p: number) => dv.getUint16(p, true);
  const u32 = (p: number) => dv.getUint32(p, true);

  const skipSequence = (pos: number, implicit: boolean): number => {
    for (;;) {
      const g = u16(pos), e = u16(pos + 2), len = u32(pos + 4);
      pos += 8;
      if (g === 0xfffe && e === 0xe0dd) return pos;
      if (g !== 0xfffe || e !== 0xe000) throw new Error('malformed sequence');
      if (len !== UNDEFINED) pos += len;
      else {
        // Item of undefined length: elements up to the item delimiter.
        while (!(u16(pos) === 0xfffe && u16(pos + 2) === 0xe00d)) pos = skipElement(pos, implicit);
        pos += 8;
      }
    }
  };
  const skipElement = (pos: number, implicit: boolean): number => {
    let len: number, hdr: number, vr = '';
    if (implicit) {
      len = u32(pos + 4);
      hdr = 8;
    } else {
      vr = vrAt(buf, pos + 4);
      if (LONG_VRS.has(vr)) {
        len = u32(pos + 8);
        hdr = 12;
      } else {
        len = u16(pos + 6);
        hdr = 8;
      }
    }
    if (len === UNDEFINED) return skipSequence(pos + hdr, implicit || vr === 'UN');
    return pos + hdr + len;
  };

  // The file meta group (explicit VR LE) ends where its group length says.
  let pos = 132;
  if (!(u16(pos) === 2 && u16(pos + 2) === 0 && vrAt(buf, pos + 4) === 'UL')) return undefined;
  pos = pos + 12 + u32(pos + 8);
  const cuts: [number, number][] = [];
  while (pos + 8 <= buf.byteLength) {
    const start = pos;
    const isUN = vrAt(buf, pos + 4) === 'UN' && u32(pos + 8) === UNDEFINED;
    pos = skipElement(pos, false);
    if (isUN) cuts.push([start, pos]);
  }
  if (cuts.length === 0) return undefined;
  const out = new Uint8Array(buf.byteLength - cuts.reduce((s, [a, b]) => s + b - a, 0));
  let o = 0, from = 0;
  for (const [a, b] of cuts) {
    out.set(buf.subarray(from, a), o);
    o += a - from;
    from = b;
  }
  out.set(buf.subarray(from), o);
  return { bytes: out, removed: cuts.length };
}
