/**
 * The dashboard's study list as one SQL statement shared by the SQLite and PostgreSQL stores (window functions,
 * the same in both): one row per study, whose job is its latest that is not a skip for our own outputs, with the
 * study information of its latest job that recorded some. Filtered by the row job's state and by an accession
 * number or the start of a StudyInstanceUID; paged with LIMIT/OFFSET.
 */
import { toJob, type JobRow } from './job-rows';
import type { StudyInfo, StudyPage, StudyQuery } from './types';

/** A skip for our own outputs: the re-announcement of a study by the SR/SEG we stored, folded into the study. */
const OWN_OUTPUT = `(state = 'skipped' AND reason = 'own-output')`;

export interface StudyListSql {
  /** The page, each row with the number of matching studies (total_rows). */
  rows: { sql: string; args: unknown[] };
  /** The number of matching studies alone: for a page past the end, which has no row to carry it. */
  count: { sql: string; args: unknown[] };
}

/** `placeholder(n)` writes the n-th (1-based) parameter: `?` for SQLite, `$n` for PostgreSQL. */
export function studyListSql(q: StudyQuery, placeholder: (n: number) => string): StudyListSql {
  // Parameters are numbered in the order they appear in the text (SQLite's `?` are positional).
  const args: unknown[] = [];
  const p = (v: unknown) => (args.push(v), placeholder(args.length));
  const search = q.search?.trim() ?? '';
  // The window functions see narrow rows only (ids, states, the accession): sorting whole jobs, with their lesions
  // and timings, would spill the sort out of memory on a large store. Whole rows are read for the page alone.
  const ranked = `SELECT id, study_uid, state,
  ROW_NUMBER() OVER (PARTITION BY study_uid ORDER BY CASE WHEN ${OWN_OUTPUT} THEN 1 ELSE 0 END, id DESC) AS rn,
  COUNT(*) OVER (PARTITION BY study_uid) AS study_jobs,
  SUM(CASE WHEN ${OWN_OUTPUT} THEN 1 ELSE 0 END) OVER (PARTITION BY study_uid) AS own_events,
  MAX(CASE WHEN study_info IS NOT NULL THEN id END) OVER (PARTITION BY study_uid) AS info_job,
  MAX(CASE WHEN UPPER(accession_number) = ${p(search.toUpperCase())} THEN 1 ELSE 0 END) OVER (PARTITION BY study_uid) AS accession_hit
FROM jobs WHERE kind = 'study-analysis'`;
  const where = ['rn = 1'];
  if (q.state) where.push(`state = ${p(q.state)}`);
  // A UID is digits and dots, so LIKE's wildcards never occur in a prefix that is searched for.
  if (search) where.push(`(accession_hit = 1 OR study_uid LIKE ${p(/^[0-9.]+$/.test(search) ? `${search}%` : '')})`);
  const from = `FROM (${ranked}) s WHERE ${where.join(' AND ')}`;
  const count = { sql: `SELECT COUNT(*) AS n ${from}`, args: [...args] };
  // The page first (with the number of matches, counted in the same pass), then its jobs and the study information
  // of its rows only.
  const rows = `SELECT j.*, p.study_jobs, p.own_events, p.total_rows, (SELECT i.study_info FROM jobs i WHERE i.id = p.info_job) AS latest_study_info
FROM (SELECT s.id, s.study_jobs, s.own_events, s.info_job, COUNT(*) OVER () AS total_rows ${from} ORDER BY id DESC LIMIT ${p(q.limit)} OFFSET ${p(q.offset ?? 0)}) p
JOIN jobs j ON j.id = p.id ORDER BY j.id DESC`;
  return { rows: { sql: rows, args }, count };
}

/** What the study list adds to a job row. */
export interface StudyListRow extends JobRow {
  study_jobs: number | string;
  own_events: number | string;
  latest_study_info: string | object | null;
  total_rows: number | string;
}

/** The page; `count` is asked only when the page is empty and not the first (past the end). */
export async function toStudyPage(rows: StudyListRow[], q: StudyQuery, count: () => Promise<number | string>): Promise<StudyPage> {
  return {
    total: rows.length ? Number(rows[0].total_rows) : q.offset ? Number(await count()) : 0,
    studies: rows.map((r) => {
      const job = toJob(r);
      if (job.kind !== 'study-analysis') throw new Error(`job ${job.id} is not a study analysis`);
      const info = r.latest_study_info;
      return {
        studyInstanceUID: job.studyInstanceUID,
        job,
        study: info ? ((typeof info === 'string' ? JSON.parse(info) : info) as StudyInfo) : undefined,
        jobs: Number(r.study_jobs),
        ownOutputEvents: Number(r.own_events),
      };
    }),
  };
}
