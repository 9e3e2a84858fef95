/** JPEG Lossless (Process 14; SV1 and other predictors) through jpeg-lossless-decoder-js. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Decoder } = require('jpeg-lossless-decoder-js') as { Decoder: new () => any };

/** Returns the raw little-endian samples (bytesPerSample each) as decoded; signedness is left to the caller. */
export function decodeJpegLossless(encoded: Uint8Array, bytesPerSample: number): Uint8Array {
  const decoder = new Decoder();
  const out = decoder.decode(encoded.buffer, encoded.byteOffset, encoded.byteLength, bytesPerSample);
  const bytes = out instanceof Uint8Array ? out : new Uint8Array(out.buffer ?? out, out.byteOffset ?? 0, out.byteLength);
  return bytes;
}
