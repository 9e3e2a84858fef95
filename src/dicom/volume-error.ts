/** A series that cannot become a volume; the message says why in words a user can act on. */
export class VolumeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VolumeError';
  }
}
