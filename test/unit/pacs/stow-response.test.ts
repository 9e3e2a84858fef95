import { describePart10, describeFailureReason, interpretStowResponse } from '../../../src/pacs/stow-response';
import { authHeaders, transferSyntaxFrom } from '../../../src/pacs/dicomweb';

/** A minimal Part 10 header: preamble, DICM, group 0002 with the given elements (explicit VR LE). */
function part10(elements: [number, string, string][]): ArrayBuffer {
  const chunks: number[] = [...new Array(128).fill(0), ...Buffer.from('DICM')];
  for (const [el, vr, value] of elements) {
    const v = Buffer.from(value.length % 2 ? `${value}\0` : value, 'latin1');
    chunks.push(0x02, 0x00, el & 0xff, el >> 8, ...Buffer.from(vr), v.length & 0xff, v.length >> 8, ...v);
  }
  chunks.push(0x08, 0x00, 0x16, 0x00); // start of the data set
  return new Uint8Array(chunks).buffer;
}

const item = (sop: string, extra: Record<string, unknown> = {}) => ({
  '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
  '00081155': { vr: 'UI', Value: [sop] },
  ...extra,
});

test('describePart10 reads the SOP Instance UID from the meta header, or says what is wrong', () => {
  expect(describePart10(part10([[0x0002, 'UI', '1.2.840.10008.5.1.4.1.1.2'], [0x0003, 'UI', '1.2.3.45']]), 0)).toEqual({ index: 0, sopInstanceUID: '1.2.3.45' });
  expect(describePart10(part10([[0x0002, 'UI', '1.2.840.10008.5.1.4.1.1.2']]), 1).problem).toMatch(/no SOP Instance UID/);
  expect(describePart10(new TextEncoder().encode('hello').buffer as ArrayBuffer, 2).problem).toMatch(/not a DICOM Part 10 file/);
});

test('a STOW response: referenced instances are stored, failed ones carry their reason, missing ones fail too', () => {
  const body = {
    '00081199': { vr: 'SQ', Value: [item('1.1')] },
    '00081198': { vr: 'SQ', Value: [item('1.2', { '00081197': { vr: 'US', Value: [0xc000] } })] },
  };
  const sent = [
    { index: 0, sopInstanceUID: '1.1' },
    { index: 1, sopInstanceUID: '1.2' },
    { index: 2, sopInstanceUID: '1.3' },
    { index: 3, problem: 'not a DICOM Part 10 file (no DICM preamble)' },
  ];
  const r = interpretStowResponse(body, sent, 202);
  expect(r.stored.map((s) => s.sopInstanceUID)).toEqual(['1.1']);
  expect(r.failed).toEqual([
    expect.objectContaining({ sopInstanceUID: '1.2', failureCode: 0xc000, reason: 'cannot understand (0xC000), HTTP 202' }),
    expect.objectContaining({ sopInstanceUID: '1.3', reason: expect.stringMatching(/missing from the server's STOW-RS response/) }),
    expect.objectContaining({ sopInstanceUID: 'part #4', reason: expect.stringMatching(/^not a DICOM Part 10 file/) }),
  ]);
});

test('an empty body (Orthanc 400 for unparsable parts) makes every sent instance a failure', () => {
  const r = interpretStowResponse(undefined, [{ index: 0, sopInstanceUID: '9.9' }], 400);
  expect(r.stored).toEqual([]);
  expect(r.failed[0].reason).toMatch(/HTTP 400/);
});

test('failure reason codes are named', () => {
  expect(describeFailureReason(0x0110)).toBe('processing failure (0x0110)');
  expect(describeFailureReason(0xa700)).toBe('out of resources (0xA700)');
  expect(describeFailureReason(0x1234)).toBe('failure (0x1234)');
  expect(describeFailureReason(undefined)).toMatch(/no reason/);
});

test('transfer syntax from a multipart Content-Type, also inside the quoted type (Orthanc)', () => {
  expect(transferSyntaxFrom('multipart/related; type="image/jls; transfer-syntax=1.2.840.10008.1.2.4.80"; boundary=x')).toBe('1.2.840.10008.1.2.4.80');
  expect(transferSyntaxFrom('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1')).toBe('1.2.840.10008.1.2.1');
  expect(transferSyntaxFrom('application/octet-stream; transfer-syntax=*')).toBeUndefined();
  expect(transferSyntaxFrom(null)).toBeUndefined();
});

test('authentication headers from config', () => {
  expect(authHeaders({ type: 'none' })).toEqual({});
  expect(authHeaders({ type: 'basic', username: 'lens', password: 'pa:ss' })).toEqual({ Authorization: `Basic ${Buffer.from('lens:pa:ss').toString('base64')}` });
  expect(authHeaders({ type: 'bearer', token: 'abc' })).toEqual({ Authorization: 'Bearer abc' });
});
