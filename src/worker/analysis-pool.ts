/**
 * The service's analysis processes: one long-lived child per worker (jobs.concurrency), each loading the model
 * once and serving studies one after another, started again after a death. Measured on this repository's model
 * (bench/healthz-latency.ts prints it): loading the model in a fresh process costs seconds, so a process per job
 * would add that to every study; a warm child costs it once, and again only after a death.
 *
 * A promotion or rollback (model-reload.ts) switches the pool to another model without a restart: a new set of
 * children loads it beside the old set, which keeps analysing meanwhile; once every new child has loaded, jobs
 * dispatched from then on go to the new set, and each old child ends when its running job has ended (with the model
 * it started with). A model that fails to load in any new child leaves the old set in place.
 */
import type { JobRunContext } from '../jobs/worker';
import type { JobCompletion } from '../jobs/types';
import type { StudyJobRef } from '../pipeline/run-job';
import { AnalysisProcess, type AnalysisProcessOptions } from './analysis-process';
import { workerDevice } from './gpu-devices';
import type { LoadedModel } from './protocol';

/** One set of children that loaded the same model folder. */
interface Generation {
  processes: AnalysisProcess[];
  model: LoadedModel;
  modelDir: string | undefined;
  /** Where each child's model runs, by worker index ('cuda:0', 'cuda:1', 'cpu'). */
  devices: string[];
}

export class AnalysisPool {
  /** Children of earlier models still finishing their job. */
  private readonly retiring = new Set<AnalysisProcess>();
  private switching?: Promise<LoadedModel>;

  private constructor(
    private readonly size: number,
    private readonly o: AnalysisProcessOptions,
    private generation: Generation,
  ) {}

  /**
   * Starts `size` children and waits until they have loaded the model (o.modelDir, else the registry's current
   * one); a model that cannot load fails the start. Child i keeps its device (node.gpus: i mod N) across restarts
   * after a death and across model switches.
   */
  static async start(size: number, o: AnalysisProcessOptions): Promise<AnalysisPool> {
    return new AnalysisPool(size, o, await AnalysisPool.load(size, o, o.modelDir));
  }

  private static async load(size: number, o: AnalysisProcessOptions, modelDir: string | undefined): Promise<Generation> {
    const { node, model } = o.config;
    const processes = Array.from({ length: size }, (_, i) => new AnalysisProcess({ ...o, modelDir, device: workerDevice(i, node.gpus, model.executionProviders) }));
    try {
      const models = await Promise.all(processes.map((p) => p.start()));
      return { processes, model: models[0], modelDir, devices: models.map((m) => m.device ?? m.executionProvider) };
    } catch (e) {
      await Promise.all(processes.map((p) => p.stop()));
      throw e;
    }
  }

  /** The model the children of the current set loaded (readiness, logs). */
  get model(): LoadedModel {
    return this.generation.model;
  }

  get devices(): string[] {
    return this.generation.devices;
  }

  /** Process ids of the current set's children (a child being started again has none). */
  get pids(): (number | undefined)[] {
    return this.generation.processes.map((p) => p.pid);
  }

  /**
   * Loads the model folder in a new set of children and makes it the one jobs go to; resolves with the loaded model
   * once the switch is made. Throws (the current set unchanged) when a child cannot load it. One switch at a time.
   */
  async switchModel(modelDir: string): Promise<LoadedModel> {
    if (this.switching) throw new Error('a model switch is already in progress');
    this.switching = AnalysisPool.load(this.size, this.o, modelDir).then((next) => {
      const previous = this.generation;
      this.generation = next;
      for (const p of previous.processes) {
        this.retiring.add(p);
        void p.retire().finally(() => this.retiring.delete(p));
      }
      return next.model;
    });
    try {
      return await this.switching;
    } finally {
      this.switching = undefined;
    }
  }

  /** Runs the study in an idle child of the current set (the worker pool runs at most `size` analyses at once). */
  run(job: StudyJobRef, ctx: JobRunContext): Promise<JobCompletion> {
    const idle = this.generation.processes.find((p) => !p.busy);
    if (!idle) throw new Error(`no idle analysis process for job ${job.id} (more workers than processes)`);
    return idle.run(job, ctx);
  }

  async stop(): Promise<void> {
    // A switch still loading: its children are stopped when it has settled (it may not be the current set yet).
    await this.switching?.catch(() => undefined);
    // Old children still running a job past the workers' grace are ended like current ones (their job left to its lease).
    await Promise.all([...this.generation.processes, ...this.retiring].map((p) => p.stop()));
  }
}
