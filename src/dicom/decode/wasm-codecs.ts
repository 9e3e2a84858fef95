/**
 * The Cornerstone WebAssembly codecs (CharLS for JPEG-LS, OpenJPEG for JPEG 2000, libjpeg-turbo for baseline JPEG),
 * instantiated synchronously on first use. Emscripten modules normally initialise asynchronously; handing them an
 * `instantiateWasm` hook that compiles the bundled .wasm with the synchronous WebAssembly API (allowed in Node for
 * any size) makes the module ready when the factory returns, so decodeFrame can stay synchronous.
 */
import * as fs from 'fs';

export interface DecodedImage {
  pixels: Uint8Array; // raw little-endian samples, copied out of WASM memory
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean;
}

type Emscripten = Record<string, any>;
const modules = new Map<string, Emscripten>();

function loadSync(name: string): Emscripten {
  let m = modules.get(name);
  if (m) return m;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require(`${name}/decodewasmjs`) as (arg: Emscripten) => Promise<unknown>;
  const bytes = fs.readFileSync(require.resolve(`${name}/decodewasm`));
  m = {
    // OpenJPEG reports progress on stdout; the CLI's --json output must stay clean.
    print: () => undefined,
    printErr: () => undefined,
    instantiateWasm(imports: WebAssembly.Imports, receive: (i: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
      receive(instance);
      return instance.exports;
    },
  };
  const ready = factory(m);
  ready.catch(() => undefined);
  modules.set(name, m);
  return m;
}

function copyOut(buf: Uint8Array): Uint8Array {
  return new Uint8Array(buf); // the WASM view dies with decoder.delete()
}

export function decodeJpegLs(encoded: Uint8Array): DecodedImage {
  const charls = loadSync('@cornerstonejs/codec-charls');
  const decoder = new charls.JpegLSDecoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const fi = decoder.getFrameInfo();
    return {
      pixels: copyOut(decoder.getDecodedBuffer()),
      width: fi.width,
      height: fi.height,
      bitsPerSample: fi.bitsPerSample,
      componentCount: fi.componentCount,
      isSigned: false,
    };
  } finally {
    decoder.delete();
  }
}

export function decodeJpeg2000(encoded: Uint8Array): DecodedImage {
  const openjpeg = loadSync('@cornerstonejs/codec-openjpeg');
  const decoder = new openjpeg.J2KDecoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const fi = decoder.getFrameInfo();
    return {
      pixels: copyOut(decoder.getDecodedBuffer()),
      width: fi.width,
      height: fi.height,
      bitsPerSample: fi.bitsPerSample,
      componentCount: fi.componentCount,
      isSigned: !!fi.isSigned,
    };
  } finally {
    decoder.delete();
  }
}

export function decodeJpegBaseline(encoded: Uint8Array): DecodedImage {
  const turbo = loadSync('@cornerstonejs/codec-libjpeg-turbo-8bit');
  const decoder = new turbo.JPEGDecoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const fi = decoder.getFrameInfo();
    return {
      pixels: copyOut(decoder.getDecodedBuffer()),
      width: fi.width,
      height: fi.height,
      bitsPerSample: fi.bitsPerSample,
      componentCount: fi.componentCount,
      isSigned: false,
    };
  } finally {
    decoder.delete();
  }
}
