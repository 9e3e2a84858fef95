import { LensError } from '../errors';

/** A series that cannot become a volume; the message says why in words a user can act on. */
export class VolumeError extends LensError {
  constructor(message: string) {
    super(message, 'volume-invalid');
  }
}
