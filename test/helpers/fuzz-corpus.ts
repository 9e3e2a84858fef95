/**
 * A corpus of malformed DICOM files and damaged series, generated from one real CT slice (read at run time, never
 * committed) and deterministic by seed, and a runner that puts each case through the offline tools (`lens
 * inspect`, `lens detect --no-report`) in a child process under /usr/bin/time, recording exit code, first line of
 * stderr, wall time and peak RSS. Used by `scripts/fuzz-corpus.ts` (the whole corpus, figures per class) and by
 * test/integration/dicom/fuzz-corpus.test.ts (a modest corpus, outcome asserted per class).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../../src/synth/rng';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

// dcmjs reports what it cannot name while writing through loglevel; the corpus is odd on purpose.
for (const logger of [dcmjs.log, ...Object.values(dcmjs.log?.getLoggers?.() ?? {})]) (logger as any)?.setLevel?.('silent');

const ROOT = path.resolve(__dirname, '../..');
export const DEFAULT_SOURCE_SERIES = path.resolve(ROOT, '../shared/data/ct/lung-dx-a0001/series3_5mm_kernelB');
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** One case: a folder of files given to the tools. `series`: a damaged series (the rest of it is good). */
export interface FuzzCase {
  cls: string;
  name: string;
  files: Record<string, Buffer>;
  /** The file of a damaged series that is damaged (it must be named, or the series refused). */
  damaged?: string;
}

export interface FuzzOptions {
  seed: number;
  /** Variants per single-file class (each from the seed); the suite uses 1. */
  variants: number;
  /** Nesting depths of the deep-nesting class. */
  depths: number[];
  /** Slices of each damaged series (at least the selection's minimum of 20). */
  seriesSlices: number;
  sourceSeries: string;
}

export const DEFAULT_FUZZ_OPTIONS: FuzzOptions = { seed: 1, variants: 3, depths: [3000, 20000, 100000], seriesSlices: 24, sourceSeries: DEFAULT_SOURCE_SERIES };


type Dataset = Record<string, any>;

/** A naturalized dataset (sequences dropped, so top-level bytes are simple to edit) -> explicit VR LE Part 10. */
function writePart10(ds: Dataset, transferSyntaxUID = EXPLICIT_LE): Buffer {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: ds.SOPInstanceUID,
    TransferSyntaxUID: transferSyntaxUID,
    ImplementationClassUID: '1.2.826.0.1.3680043.9.7433.1.99',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  return Buffer.from(dict.write());
}

function readDataset(file: string): Dataset {
  const buf = fs.readFileSync(file);
  const msg = dcmjs.data.DicomMessage.readFile(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(msg.dict);
  for (const k of Object.keys(ds)) {
    const sequence = Array.isArray(ds[k]) && ds[k].length && typeof ds[k][0] === 'object' && !(ds[k][0] instanceof ArrayBuffer);
    // Sequences, private and retired elements are dropped: the base file stays simple to edit byte by byte.
    if (sequence || /^[0-9A-F]{8}$/i.test(k) || k.startsWith('RETIRED_')) delete ds[k];
  }
  ds._vrMap = { PixelData: 'OW' };
  return ds;
}

interface Element {
  tag: number;
  /** Offset of the element header, of its value, and the value length. */
  at: number;
  valueAt: number;
  len: number;
  lenAt: number;
  lenSize: 2 | 4;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);

/** Top-level elements of an explicit VR LE file without sequences (what writePart10 makes). */
function elements(buf: Buffer): Element[] {
  const out: Element[] = [];
  let p = 132;
  while (p + 8 <= buf.length) {
    const tag = ((buf.readUInt16LE(p) << 16) | buf.readUInt16LE(p + 2)) >>> 0;
    const vr = buf.toString('latin1', p + 4, p + 6);
    const long = LONG_VRS.has(vr);
    const lenAt = long ? p + 8 : p + 6;
    const len = long ? buf.readUInt32LE(lenAt) : buf.readUInt16LE(lenAt);
    const valueAt = p + (long ? 12 : 8);
    out.push({ tag, at: p, valueAt, len, lenAt, lenSize: long ? 4 : 2 });
    p = valueAt + len;
  }
  return out;
}

function element(buf: Buffer, tag: number): Element {
  const e = elements(buf).find((x) => x.tag === tag);
  if (!e) throw new Error(`no element ${tag.toString(16)} in the base file`);
  return e;
}

const PIXEL_DATA = 0x7fe00010;

/** A sequence nested `depth` levels (explicit VR LE, undefined lengths), inserted before the first later tag. */
export function withNesting(buf: Buffer, depth: number): Buffer {
  const open = Buffer.from([0x08, 0x00, 0x40, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
  const close = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  const at = elements(buf).find((e) => e.tag > 0x00081140)!.at;
  return Buffer.concat([buf.subarray(0, at), Buffer.concat(Array(depth).fill(open)), Buffer.concat(Array(depth).fill(close)), buf.subarray(at)]);
}

function setLength(buf: Buffer, e: Element, len: number): Buffer {
  const out = Buffer.from(buf);
  if (e.lenSize === 4) out.writeUInt32LE(len >>> 0, e.lenAt);
  else out.writeUInt16LE(len & 0xffff, e.lenAt);
  return out;
}

/** Every case of the corpus, from the first slices of `sourceSeries`. */
export function generateCorpus(o: FuzzOptions): FuzzCase[] {
  const rng = Rng.unmixed(o.seed);
  const int = (lo: number, hi: number) => rng.int(lo, hi);
  const sources = fs.readdirSync(o.sourceSeries).filter((f) => f.endsWith('.dcm')).sort().slice(0, o.seriesSlices);
  if (sources.length < o.seriesSlices) throw new Error(`${o.sourceSeries} holds fewer than ${o.seriesSlices} slices`);
  const datasets = sources.map((f) => readDataset(path.join(o.sourceSeries, f)));
  const good = (ds: Dataset = datasets[0]) => writePart10(ds);
  const base = good();
  const pixel = element(base, PIXEL_DATA);
  const cases: FuzzCase[] = [];
  const single = (cls: string, name: string, data: Buffer) => cases.push({ cls, name, files: { [`${name}.dcm`]: data } });
  const edited = (patch: Dataset, ts?: string) => writePart10({ ...datasets[0], ...patch }, ts);

  for (let v = 0; v < o.variants; v++) {
    single('truncated', `in-header-${v}`, base.subarray(0, int(140, pixel.at - 1)));
    single('truncated', `in-pixels-${v}`, base.subarray(0, int(pixel.valueAt + 1, base.length - 2)));
    const bad = Buffer.from(base);
    bad.write(['DICN', '\0\0\0\0', 'MCID'][v % 3], 128, 'latin1');
    single('bad-preamble', `dicm-${v}`, bad);
    const els = elements(base).filter((e) => e.tag !== PIXEL_DATA && e.tag >>> 16 !== 0x0002);
    const victim = els[int(0, els.length - 1)];
    single('length-past-eof', `element-${v}`, setLength(base, victim, victim.lenSize === 4 ? 0xfffffff0 : 0xfff0));
    single('length-past-eof', `pixel-data-${v}`, setLength(base, pixel, pixel.len + int(2, 1 << 20) * 2));
    single('non-dicom', `random-${v}`, Buffer.from(Array.from({ length: int(0, 4096) }, () => int(0, 255))));
    const flipped = Buffer.from(base);
    for (let k = 0; k < 16; k++) flipped[int(132, pixel.at)] = int(0, 255);
    single('byte-flips', `header-${v}`, flipped);
  }
  for (const frames of [2, 60000, 10000000, 100000000]) single('huge-frames', `frames-${frames}`, edited({ NumberOfFrames: String(frames) }));
  single('huge-rows-columns', 'rows-65535', edited({ Rows: 65535, Columns: 65535 }));
  single('huge-rows-columns', 'rows-4096', edited({ Rows: 4096, Columns: 4096 }));
  for (const depth of o.depths) single('deep-nesting', `depth-${depth}`, withNesting(base, depth));
  single('bad-transfer-syntax', 'garbage-uid', edited({}, '1.2.3.4.garbage'));
  single('bad-transfer-syntax', 'jpeg-uid-native-data', edited({}, '1.2.840.10008.1.2.4.70'));
  single('bad-transfer-syntax', 'big-endian-uid', edited({}, '1.2.840.10008.1.2.2'));
  const pixels = datasets[0].PixelData[0] as ArrayBuffer;
  single('pixel-data-wrong-size', 'half', edited({ PixelData: [pixels.slice(0, pixels.byteLength / 2)] }));
  single('pixel-data-wrong-size', 'double', edited({ PixelData: [new Uint8Array([...new Uint8Array(pixels), ...new Uint8Array(pixels)]).buffer] }));
  single('pixel-data-wrong-size', 'rows-swapped', edited({ Rows: 256 }));
  const garbage = Buffer.from(Array.from({ length: 2048 }, () => int(0, 255)));
  const undef = Buffer.from([0x09, 0x00, 0x10, 0x10, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]); // (0009,1010) OB, undefined length
  single('undefined-length-garbage', 'private-ob', Buffer.concat([base.subarray(0, pixel.at), undef, garbage]));
  single('non-dicom', 'empty', Buffer.alloc(0));
  single('non-dicom', 'text', Buffer.from('this is not DICOM\n'.repeat(40)));
  single('non-dicom', 'dicm-only', Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]));

  // Damaged series: every slice good but one.
  const series = (name: string, damaged: string, replace: (ds: Dataset, good: Buffer) => Buffer) => {
    const files: Record<string, Buffer> = {};
    datasets.forEach((ds, k) => (files[`slice-${String(k + 1).padStart(3, '0')}.dcm`] = good(ds)));
    const target = Object.keys(files).sort().at(-1)!;
    files[damaged] = replace(datasets[datasets.length - 1], files[target]);
    if (damaged !== target) delete files[target];
    cases.push({ cls: 'damaged-series', name, files, damaged });
  };
  series('truncated-last-slice', 'slice-last-truncated.dcm', (_ds, g) => g.subarray(0, g.length - 1000));
  series('one-huge-frames-slice', 'slice-last-frames.dcm', (ds) => writePart10({ ...ds, NumberOfFrames: '100000000' }));
  series('one-deep-slice', 'slice-last-deep.dcm', (_ds, g) => withNesting(g, 20000));
  series('one-non-image', 'slice-last-no-pixels.dcm', (ds) => {
    const { PixelData: _p, Rows: _r, Columns: _c, ...rest } = ds;
    return writePart10(rest);
  });
  return cases;
}

/** Writes each case to its folder out/<class>/<name>/; returns the folders in case order. */
export function writeCorpus(cases: FuzzCase[], out: string): string[] {
  return cases.map((c) => {
    const dir = path.join(out, c.cls, c.name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, data] of Object.entries(c.files)) fs.writeFileSync(path.join(dir, f), data);
    return dir;
  });
}

export interface FuzzOutcome {
  code: number | null;
  /** Killed by the time limit. */
  hung: boolean;
  /** A stack trace or an uncaught error on stderr, a signal, or an exit code other than 0 and 2. */
  crashed: boolean;
  stdout: string;
  stderr: string;
  /** Wall time; on a shared machine mostly node's start when the file is refused. */
  seconds: number;
  /** User + system CPU time of the child: what the file cost, whatever else runs on the machine. */
  cpuSeconds: number;
  maxRssMb: number;
}

/**
 * Runs `lens <args>` in a child process under /usr/bin/time (wall time, peak RSS), killed by `timeout` past the
 * limit (so the kill reaches node itself, not only the time process).
 */
export function runLens(args: string[], timeoutMs: number): FuzzOutcome {
  const t = process.hrtime.bigint();
  const limit = String(Math.ceil(timeoutMs / 1000));
  const r = spawnSync('/usr/bin/time', ['-f', '__TIME__ %e %U %S %M', 'timeout', '-s', 'KILL', limit, 'node', 'bin/lens.js', ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: timeoutMs + 30000, killSignal: 'SIGKILL', maxBuffer: 64 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const m = /__TIME__ ([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(r.stderr ?? '');
  const stderr = (r.stderr ?? '').replace(/(Command (exited|terminated)[^\n]*\n)?__TIME__[^\n]*\n?$/, '');
  // `timeout` exits 137 after its SIGKILL; the kernel's OOM killer gives the same status earlier: a crash.
  const hung = r.error !== undefined || ((r.status === 137 || r.status === 124) && seconds >= Number(limit) - 1);
  const stack = /\n\s+at .+:\d+:\d+/.test(stderr + r.stdout) || /FATAL ERROR|heap out of memory|Segmentation/i.test(stderr);
  return {
    code: r.status, hung, crashed: !hung && (stack || (r.status !== 0 && r.status !== 2)), stdout: r.stdout ?? '', stderr,
    seconds: m ? Number(m[1]) : seconds, cpuSeconds: m ? Number(m[2]) + Number(m[3]) : NaN, maxRssMb: m ? Number(m[4]) / 1024 : NaN,
  };
}

export type Verdict = 'clean-error' | 'success' | 'wrong-success' | 'unclean-error' | 'crash' | 'hang';

/**
 * What an outcome means for a case. A single malformed file can never be analysed (one slice is below any
 * series' minimum), so it must end in a clean error: exit 2 and one line on stderr. A damaged series may succeed
 * only when the output names the damaged file (excluded, never silently dropped); else it must be refused cleanly.
 */
export function verdict(c: FuzzCase, o: FuzzOutcome): Verdict {
  if (o.hung) return 'hang';
  if (o.crashed) return 'crash';
  if (o.code === 0) return c.damaged && (o.stdout + o.stderr).includes(c.damaged) ? 'success' : 'wrong-success';
  return o.code === 2 && o.stderr.trim().split('\n').length === 1 ? 'clean-error' : 'unclean-error';
}
