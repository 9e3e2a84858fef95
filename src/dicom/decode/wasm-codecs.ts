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

/** The three codecs share one decoder interface; only the module, the class and signedness differ. */
function decodeWith(moduleName: string, decoderClass: string, encoded: Uint8Array, signedFromFrameInfo: boolean): DecodedImage {
  const codec = loadSync(moduleName);
  const decoder = new codec[decoderClass]();
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
      isSigned: signedFromFrameInfo && !!fi.isSigned,
    };
  } finally {
    decoder.delete();
  }
}

export function decodeJpegLs(encoded: Uint8Array): DecodedImage {
  return decodeWith('@cornerstonejs/codec-charls', 'JpegLSDecoder', encoded, false);
}

export function decodeJpeg2000(encoded: Uint8Array): DecodedImage {
  return decodeWith('@cornerstonejs/codec-openjpeg', 'J2KDecoder', encoded, true);
}

export function decodeJpegBaseline(encoded: Uint8Array): DecodedImage {
  return decodeWith('@cornerstonejs/codec-libjpeg-turbo-8bit', 'JPEGDecoder', encoded, false);
}
