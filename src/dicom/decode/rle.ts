/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15 segment offsets, one PackBits segment per
 * byte plane, most significant byte plane first. Small enough that a library would add more than it saves.
 * Returns little-endian samples, interleaved by pixel.
 */
export function decodeRle(encoded: Uint8Array, rows: number, columns: number, bitsAllocated: number, samplesPerPixel: number): Uint8Array {
  const bytesPerSample = bitsAllocated / 8;
  const pixels = rows * columns;
  const stride = bytesPerSample * samplesPerPixel;
  const out = new Uint8Array(pixels * stride);
  if (encoded.byteLength < 64) throw new Error('RLE header shorter than 64 bytes');
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const nSegments = view.getUint32(0, true);
  if (nSegments !== stride) throw new Error(`RLE frame has ${nSegments} segments, expected ${stride}`);
  for (let s = 0; s < nSegments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < nSegments ? view.getUint32(8 + 4 * s, true) : encoded.byteLength;
    if (start < 64 || end > encoded.byteLength || start > end) throw new Error(`RLE segment ${s + 1} offsets out of range`);
    const sample = Math.floor(s / bytesPerSample);
    // Segment 0 of a sample holds its most significant byte.
    let o = sample * bytesPerSample + (bytesPerSample - 1 - (s % bytesPerSample));
    let i = start;
    let written = 0;
    while (i < end && written < pixels) {
      const n = (encoded[i++] << 24) >> 24;
      if (n >= 0) {
        for (let k = 0; k <= n && i < end && written < pixels; k++, written++, o += stride) out[o] = encoded[i++];
      } else if (n !== -128) {
        const v = encoded[i++];
        for (let k = 0; k < 1 - n && written < pixels; k++, written++, o += stride) out[o] = v;
      }
    }
    if (written < pixels) throw new Error(`RLE segment ${s + 1} decodes to ${written} of ${pixels} pixels (truncated?)`);
  }
  return out;
}
