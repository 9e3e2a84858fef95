/**
 * The File Meta Information (PS3.10 7.1) that turns a dataset received over the network into a Part 10 file: the
 * dataset bytes are written exactly as they arrived (no re-encoding by a library), behind this header.
 */
import { deriveUid } from '../dicom/uid';

const IMPLEMENTATION_CLASS_UID = deriveUid('lens-pacs', 'dimse', 'implementation');
const IMPLEMENTATION_VERSION = 'LENS_PACS';

export interface FileMetaFields {
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  /** The calling AE title of the sender. */
  sourceAeTitle?: string;
}

function element(elementNo: number, vr: string, value: Buffer): Buffer {
  const long = vr === 'OB';
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(0x0002, 0);
  head.writeUInt16LE(elementNo, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}

/** UIs pad with NUL, text VRs with a space, to an even length. */
function padded(text: string, pad: '\0' | ' '): Buffer {
  return Buffer.from(text.length % 2 ? text + pad : text, 'latin1');
}

/** The 128-byte preamble, "DICM" and group 0002 in Explicit VR Little Endian. */
export function fileMetaHeader(f: FileMetaFields): Buffer {
  const body = Buffer.concat([
    element(0x0001, 'OB', Buffer.from([0, 1])),
    element(0x0002, 'UI', padded(f.sopClassUID, '\0')),
    element(0x0003, 'UI', padded(f.sopInstanceUID, '\0')),
    element(0x0010, 'UI', padded(f.transferSyntaxUID, '\0')),
    element(0x0012, 'UI', padded(IMPLEMENTATION_CLASS_UID, '\0')),
    element(0x0013, 'SH', padded(IMPLEMENTATION_VERSION, ' ')),
    ...(f.sourceAeTitle ? [element(0x0016, 'AE', padded(f.sourceAeTitle.trim(), ' '))] : []),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), element(0x0000, 'UL', length), body]);
}
