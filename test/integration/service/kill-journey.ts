/**
 * Killing the service at a chosen point of a job, driven by the job's journey (what has happened), not by sleeps:
 * the kill comes once the job has recorded that it entered a stage (journey `stage-started`, written before the
 * stage runs), and the service is started again at once, as a supervisor (systemd, Kubernetes) would.
 */
import type { Job, JourneyEvent } from '../../../src/jobs/types';
import { api, type ServiceChild, type Stack, waitFor } from './stack';

export const journeyOf = async (s: Stack, id: number) => (await api<{ journey: JourneyEvent[] }>(s, `/api/jobs/${id}`)).journey;

/**
 * Waits until attempt `attempt` (or a later one) of job `id` is running and has entered `stage` (it may have moved
 * on to a later stage by the time the signal lands: the journey says where it died), SIGKILLs the service and
 * starts it again. Returns the attempt killed.
 */
export async function killWhenEntering(s: Stack, service: ServiceChild, id: number, stage: string, attempt: number, timeoutMs: number): Promise<number> {
  const killed = await waitFor(async () => {
    const { job, journey } = await api<{ job: Job; journey: JourneyEvent[] }>(s, `/api/jobs/${id}`);
    const claims = journey.filter((e) => e.event === 'claimed').length;
    const current = journey.slice(journey.map((e) => e.event).lastIndexOf('claimed'));
    const entered = current.some((e) => e.event === 'stage-started' && e.details?.stage === stage);
    return job.state === 'running' && claims >= attempt && entered && !current.some((e) => e.event === 'lease-expired') ? claims : undefined;
  }, timeoutMs, `attempt ${attempt} of job ${id} to enter stage ${stage}`);
  await service.kill('SIGKILL');
  await service.start();
  return killed;
}
