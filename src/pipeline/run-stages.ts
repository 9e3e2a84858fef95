/**
 * The one orchestrator of an analysis: runs the stages in order, each on the previous one's output, and tells an
 * observer before and after each. The service's jobs (run-job.ts) and `lens detect` both run through it.
 */
import type { StudyPipeline } from './study-pipeline';
import type { Detection, FetchedVolume, ReceivedStudy, ReportObjects, SelectedSeries, Stage, StageName, StoredReport } from './stages';

/** What the stages produced so far: a failed run keeps the outputs of the stages before the failure. */
export interface PipelineProgress {
  selected?: SelectedSeries;
  fetched?: FetchedVolume;
  detected?: Detection;
  built?: ReportObjects;
  stored?: StoredReport;
  /** Duration of each finished stage, ms, by stage name. */
  timingsMs: Partial<Record<StageName, number>>;
}

export type PipelineResult = Required<PipelineProgress>;

export interface StageObserver {
  /** Before each stage; a throw ends the run (the service checks its lease here). */
  beforeStage?(name: StageName): void | Promise<void>;
  /** After each stage (its output is already in the progress), with its duration and journey details. */
  afterStage?(name: StageName, ms: number, details: Record<string, unknown>): void | Promise<void>;
}

export function newProgress(): PipelineProgress {
  return { timingsMs: {} };
}

export async function runStages(
  study: ReceivedStudy,
  p: StudyPipeline,
  observer: StageObserver = {},
  progress: PipelineProgress = newProgress(),
): Promise<PipelineResult> {
  async function step<I, O>(stage: Stage<I, O>, input: I, keep: (out: O) => void): Promise<O> {
    await observer.beforeStage?.(stage.name);
    const start = Date.now();
    const out = await stage.run(input);
    const ms = Date.now() - start;
    progress.timingsMs[stage.name] = ms;
    keep(out);
    await observer.afterStage?.(stage.name, ms, stage.describe(out));
    return out;
  }
  const selected = await step(p.select, study, (o) => (progress.selected = o));
  const fetched = await step(p.fetch, selected, (o) => (progress.fetched = o));
  const detected = await step(p.detect, fetched, (o) => (progress.detected = o));
  const built = await step(p.build, detected, (o) => (progress.built = o));
  const stored = await step(p.store, built, (o) => (progress.stored = o));
  return { selected, fetched, detected, built, stored, timingsMs: progress.timingsMs };
}
