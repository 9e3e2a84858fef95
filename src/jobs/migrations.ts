/**
 * Numbered schema migrations, shared by every JobStore implementation: each store keeps an ordered list of SQL
 * steps in its own dialect (numbered 1..n), records the versions applied in a `schema_version` table, and at
 * open applies the missing ones in one transaction. A database written by a newer lens-pacs is refused rather than
 * used: its columns may mean things this code does not know.
 */
import { LensError } from '../errors';

export interface Migration {
  version: number;
  /** One line for the log and the schema_version record. */
  description: string;
  sql: string;
}

export class SchemaTooNewError extends LensError {
  constructor(where: string, found: number, known: number) {
    super(
      `job database ${where} has schema version ${found}, but this lens-pacs knows versions up to ${known}: it was written by a newer lens-pacs; upgrade lens-pacs or use another jobs.database`,
      'schema-too-new',
    );
  }
}

/** The migrations a database at `current` needs, in order; refuses a database newer than `migrations`. */
export function pendingMigrations(current: number, migrations: readonly Migration[], where: string): Migration[] {
  migrations.forEach((m, i) => {
    // A gap or a reordering would skip a step on some databases: a bug in the list, caught on every open.
    if (m.version !== i + 1) throw new Error(`migration list out of order: position ${i + 1} holds version ${m.version}`);
  });
  if (current > migrations.length) throw new SchemaTooNewError(where, current, migrations.length);
  return migrations.slice(current);
}
