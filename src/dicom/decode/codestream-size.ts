/**
 * The image size a compressed frame declares in its own header (JPEG / JPEG Lossless / JPEG-LS SOF, JPEG 2000
 * SIZ), read before the frame is handed to a codec: a codec allocates what its codestream says, so a frame that
 * claims 60000 x 60000 inside a 512 x 512 instance is refused for the mismatch instead of costing gigabytes.
 */

/** Width and height from the codestream header; undefined when no size marker is found (the codec decides). */
export function codestreamSize(encoded: Uint8Array): { width: number; height: number } | undefined {
  const n = encoded.byteLength;
  const be16 = (p: number) => (encoded[p] << 8) | encoded[p + 1];
  const be32 = (p: number) => ((encoded[p] << 24) | (encoded[p + 1] << 16) | (encoded[p + 2] << 8) | encoded[p + 3]) >>> 0;
  if (n < 4 || encoded[0] !== 0xff) return undefined;
  if (encoded[1] === 0x4f) {
    // JPEG 2000: SOC, then SIZ: Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz.
    if (n < 4 + 2 + 2 + 16 || encoded[2] !== 0xff || encoded[3] !== 0x51) return undefined;
    const p = 4 + 2 + 2;
    return known(be32(p) - be32(p + 8), be32(p + 4) - be32(p + 12));
  }
  if (encoded[1] !== 0xd8) return undefined;
  // JPEG family: marker segments after SOI up to a start of frame (SOF0-15 but DHT, JPG, DAC; SOF55 for JPEG-LS).
  for (let p = 2; p + 4 <= n; ) {
    if (encoded[p] !== 0xff) return undefined;
    const m = encoded[p + 1];
    if (m === 0xff) {
      p++; // fill byte
      continue;
    }
    if (m === 0xda) return undefined; // start of scan without a frame header
    const len = be16(p + 2);
    const sof = (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7;
    if (sof) return p + 9 <= n ? known(be16(p + 7), be16(p + 5)) : undefined;
    p += 2 + len;
  }
  return undefined;
}

/** A height of 0 (JPEG: given later by a DNL marker) or a negative extent says nothing: the codec decides. */
function known(width: number, height: number): { width: number; height: number } | undefined {
  return width > 0 && height > 0 ? { width, height } : undefined;
}
