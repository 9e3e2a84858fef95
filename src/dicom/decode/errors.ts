import { describeTransferSyntax } from '../transfer-syntax';

/** A frame that cannot be decoded; the message always names the transfer syntax (UID and name). */
export class DicomDecodeError extends Error {
  constructor(
    readonly transferSyntaxUID: string | undefined,
    reason: string,
  ) {
    super(`cannot decode pixel data in transfer syntax ${describeTransferSyntax(transferSyntaxUID)}: ${reason}`);
    this.name = 'DicomDecodeError';
  }
}
