/** The JobStore contract (test/helpers/job-store-contract.ts) against the embedded SQLite store. */
import { SqliteJobStore } from '../../../src/jobs/sqlite-store';
import { jobStoreContract } from '../../helpers/job-store-contract';

describe('SqliteJobStore', () => {
  jobStoreContract(async (o) => new SqliteJobStore({ file: ':memory:', ...o }));
});
