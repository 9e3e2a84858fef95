/** The worker no longer holds the job (its lease expired and another worker took it): it must stop quietly. */
export class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}
