/**
 * Several `lens serve` nodes (child processes) beside one test stack, sharing one job store: each node gets its
 * own port and work dir, and the stack's config with `jobs.database` pointing at the shared store (a SQLite file
 * in the stack's folder, or a PostgreSQL URL). Used by the multi-node test, scripts/burst-soak.ts and
 * bench/throughput.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ACTIVE_STATES, type Job, type Leadership } from '../../../src/jobs/types';
import { freePort } from '../../../src/pacs/free-port';
import type { NodeView } from '../../../src/server/node-status';
import { generateStudy } from '../../../src/synth/study';
import { writeStudyDicom } from '../../../src/synth/write-dicom';
import { api, seriesByModality, ServiceChild, type Stack } from './stack';

export interface ServiceNode {
  name: string;
  /** The node's own view of the stack: its config file, URL and folder. */
  stack: Stack;
  service: ServiceChild;
}

export interface NodeOptions {
  /** The shared store: a file path or postgres:// URL (default: jobs.sqlite in the stack's folder). */
  database?: string;
  /** Merged into each node's config section by section (e.g. { jobs: { concurrency: 2 }, node: { leaderTtlSeconds: 3 } }). */
  config?: Record<string, Record<string, unknown>>;
  /** Names (and folders) of the nodes: prefix0, prefix1, ... (default `node`). */
  prefix?: string;
}

/** Writes the config of `count` nodes (not started); node i listens on its own free port. */
export async function prepareNodes(stack: Stack, count: number, o: NodeOptions = {}): Promise<ServiceNode[]> {
  const base = JSON.parse(fs.readFileSync(stack.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
  const database = o.database ?? path.join(stack.dir, 'jobs.sqlite');
  const nodes: ServiceNode[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${o.prefix ?? 'node'}${i}`;
    const dir = path.join(stack.dir, name);
    fs.mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const raw: Record<string, unknown> = { ...base, workDir: path.join(dir, 'work') };
    for (const [section, values] of Object.entries(o.config ?? {})) raw[section] = { ...(base[section] ?? {}), ...values };
    raw.jobs = { ...(raw.jobs as object), database };
    raw.server = { ...(raw.server as object), port };
    const configFile = path.join(dir, 'lens.json');
    fs.writeFileSync(configFile, JSON.stringify(raw, null, 2));
    const nodeStack: Stack = { ...stack, dir, configFile, serviceUrl: `http://127.0.0.1:${port}` };
    nodes.push({ name, stack: nodeStack, service: new ServiceChild(nodeStack) });
  }
  return nodes;
}

export async function nodesView(n: ServiceNode): Promise<{ nodes: NodeView[]; leaders: Leadership[] }> {
  return api(n.stack, '/api/nodes');
}

/** Whether this node leads `role` now, by its own word (its /metrics). */
export async function leads(n: ServiceNode, role = 'events'): Promise<boolean> {
  const m = await api<string>(n.stack, '/metrics');
  return m.includes(`lens_is_leader{role="${role}"} 1`);
}

/**
 * `count` small synthetic CT studies (seeds seed, seed+1, ...) written under dir, one folder each. (Imported
 * statically, unlike stack.ts's synthStudy, so that scripts run by tsx's CommonJS hook can use it too.)
 */
export function makeStudies(dir: string, count: number, seed: number, o: { size?: number; slices?: number } = {}): { studyUID: string; dir: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const study = generateStudy(seed + i, { size: o.size ?? 128, slices: o.slices ?? 24 });
    const folder = path.join(dir, `study-${i}`);
    writeStudyDicom(study, folder);
    return { studyUID: study.volume.studyInstanceUID, dir: folder };
  });
}

/** Every job of the store (up to 1000), by study. */
export async function jobsByStudy(n: ServiceNode): Promise<Map<string, Job[]>> {
  const { jobs } = await api<{ jobs: Job[] }>(n.stack, '/api/jobs?limit=1000');
  const by = new Map<string, Job[]>();
  for (const j of jobs) if (j.kind === 'study-analysis') (by.get(j.studyInstanceUID) ?? by.set(j.studyInstanceUID, []).get(j.studyInstanceUID)!).push(j);
  return by;
}

/** Analysed, and the events of our own SR/SEG handled too: no job of the study has work left. */
export const studySettled = (jobs: Job[] | undefined) => !!jobs?.some((j) => j.state === 'succeeded') && jobs.every((j) => !ACTIVE_STATES.includes(j.state));

/**
 * What is wrong with a finished study (empty: nothing): exactly one succeeded job, every other job skipped as our
 * own output, and in Orthanc exactly the SR (one instance) and SEG (when lesions were found) that job recorded.
 */
export async function studyProblems(n: ServiceNode, studyUID: string, jobs: Job[]): Promise<string[]> {
  const problems: string[] = [];
  const done = jobs.filter((j) => j.state === 'succeeded');
  if (done.length !== 1) problems.push(`${done.length} succeeded jobs`);
  for (const j of jobs) if (j.state !== 'succeeded' && !(j.state === 'skipped' && j.reason === 'own-output')) problems.push(`job ${j.id} ${j.state} (${j.reason})`);
  const series = await seriesByModality(n.stack, studyUID);
  const out = done[0]?.outputs;
  const sr = (series.SR ?? []).map((s) => `${s.uid}/${s.instances}`);
  if (sr.length !== 1 || sr[0] !== `${out?.srSeriesUID}/1`) problems.push(`SR in Orthanc ${JSON.stringify(sr)}, store says ${out?.srSeriesUID}`);
  const seg = (series.SEG ?? []).map((s) => s.uid);
  const wantSeg = done[0]?.lesionCount ? [out?.segSeriesUID] : [];
  if (JSON.stringify(seg) !== JSON.stringify(wantSeg)) problems.push(`SEG in Orthanc ${JSON.stringify(seg)}, store says ${JSON.stringify(wantSeg)}`);
  return problems;
}

/** The node's owner string (its workers' lease owner) in its current run, read from its log. */
export function ownerOf(n: ServiceNode): string | undefined {
  const lines = n.service.output().split('\n').filter((l) => l.includes('"workers started"'));
  return lines.length ? /"owner":"([^"]+)"/.exec(lines[lines.length - 1])?.[1] : undefined;
}
