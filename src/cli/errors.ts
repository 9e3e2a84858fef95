import { LensError } from '../errors';

/**
 * A mistake in how lens was called (an option, a path) or a failure the command has put in the user's words. The
 * CLI prints every LensError as one line (classifyError in src/errors.ts); this one also chooses the exit status.
 */
export class UserError extends LensError {
  constructor(message: string, readonly exitCode = 2, options?: { cause?: unknown }) {
    super(message, 'user-input', false, options);
  }
}
