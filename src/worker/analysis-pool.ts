/**
 * The service's analysis processes: one long-lived child per worker (jobs.concurrency), each loading the model
 * once and serving studies one after another, started again after a death. Measured on this repository's model
 * (bench/healthz-latency.ts prints it): loading the model in a fresh process costs seconds, so a process per job
 * would add that to every study; a warm child costs it once, and again only after a death.
 */
import type { JobRunContext } from '../jobs/worker';
import type { JobCompletion } from '../jobs/types';
import type { StudyJobRef } from '../pipeline/run-job';
import { AnalysisProcess, type AnalysisProcessOptions } from './analysis-process';
import { workerDevice } from './gpu-devices';
import type { LoadedModel } from './protocol';

export class AnalysisPool {
  private constructor(
    private readonly processes: AnalysisProcess[],
    /** The model the children loaded (readiness, start log). */
    readonly model: LoadedModel,
    /** Where each child's model runs, by worker index ('cuda:0', 'cuda:1', 'cpu'). */
    readonly devices: string[],
  ) {}

  /**
   * Starts `size` children and waits until they have loaded the model; a model that cannot load fails the start.
   * Child i keeps its device (node.gpus: i mod N) across restarts after a death.
   */
  static async start(size: number, o: AnalysisProcessOptions): Promise<AnalysisPool> {
    const { node, model } = o.config;
    const processes = Array.from({ length: size }, (_, i) => new AnalysisProcess({ ...o, device: workerDevice(i, node.gpus, model.executionProviders) }));
    try {
      const models = await Promise.all(processes.map((p) => p.start()));
      return new AnalysisPool(processes, models[0], models.map((m) => m.device ?? m.executionProvider));
    } catch (e) {
      await Promise.all(processes.map((p) => p.stop()));
      throw e;
    }
  }

  /** Runs the study in an idle child (the worker pool runs at most `size` analyses at once). */
  run(job: StudyJobRef, ctx: JobRunContext): Promise<JobCompletion> {
    const idle = this.processes.find((p) => !p.busy);
    if (!idle) throw new Error(`no idle analysis process for job ${job.id} (more workers than processes)`);
    return idle.run(job, ctx);
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
  }
}
