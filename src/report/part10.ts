/** Writing a dcmjs naturalized dataset as a DICOM Part 10 file (Explicit VR Little Endian). */
// dcmjs ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

import { assertDatasetValues } from '../dicom/vr';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const { DicomMetaDictionary, DicomMessage, datasetToBuffer } = dcmjs.data;

/** dcmjs silently drops unknown keywords; a typo must fail loudly instead. */
export function assertKnownKeywords(ds: Record<string, any>, where = 'dataset'): void {
  for (const [k, v] of Object.entries(ds)) {
    if (k === '_vrMap' || k === '_meta') continue;
    if (!DicomMetaDictionary.nameMap[k]) throw new Error(`${where}: unknown DICOM keyword "${k}"`);
    if (DicomMetaDictionary.nameMap[k].vr === 'SQ') {
      if (!Array.isArray(v)) throw new Error(`${where}.${k}: a sequence must be an array of items`);
      v.forEach((item, i) => assertKnownKeywords(item, `${where}.${k}[${i}]`));
    }
  }
}

export function toPart10(dataset: Record<string, any>): Buffer {
  assertKnownKeywords(dataset);
  assertDatasetValues(dataset);
  const ds = { ...dataset, _meta: { TransferSyntaxUID: { Value: [EXPLICIT_VR_LITTLE_ENDIAN] } } };
  return datasetToBuffer(ds) as Buffer;
}

/** Reads a Part 10 buffer back into a naturalized dataset (used by tests and verification). */
export function fromPart10(buf: Buffer | ArrayBuffer | Uint8Array): Record<string, any> {
  const u8 = buf instanceof ArrayBuffer ? new Uint8Array(buf) : buf;
  const ab = u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength) as ArrayBuffer;
  const dict = DicomMessage.readFile(ab);
  return { ...DicomMetaDictionary.naturalizeDataset(dict.dict), _meta: DicomMetaDictionary.naturalizeDataset(dict.meta) };
}
