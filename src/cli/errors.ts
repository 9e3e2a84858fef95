/** An error the user can act on: printed as one clear message with a non-zero exit, never a stack trace. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'UserError';
  }
}
