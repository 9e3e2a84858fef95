import { LensError } from '../errors';

/** The worker no longer holds the job (its lease expired and another worker took it): it must stop quietly. */
export class LeaseLostError extends LensError {
  constructor(message: string) {
    super(message, 'lease-lost');
  }
}
