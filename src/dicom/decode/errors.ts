import { describeTransferSyntax } from '../transfer-syntax';
import { LensError } from '../../errors';

/** A frame that cannot be decoded; the message always names the transfer syntax (UID and name). */
export class DicomDecodeError extends LensError {
  constructor(
    readonly transferSyntaxUID: string | undefined,
    why: string,
  ) {
    super(`cannot decode pixel data in transfer syntax ${describeTransferSyntax(transferSyntaxUID)}: ${why}`, 'undecodable');
  }
}
