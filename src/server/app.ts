/**
 * The service's HTTP surface (express): the Orthanc webhook (shared secret required), the REST API, health and
 * readiness, Prometheus metrics and the dashboard. With server.apiToken set, everything except the webhook and
 * /healthz requires the token (Authorization: Bearer, or the cookie set by opening /dashboard?token=...).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { log } from '../log';
import {
  JOB_KINDS, JOB_STATES,
  type EnqueueResult, type JobKind, type JobState, type JobStore, type LesionSummary, type StudyAnalysisJob, type StudyAnalysisRequest,
} from '../jobs/types';
import { renderJobDetail, renderJobList } from './dashboard';
import type { ServiceMetrics } from './metrics';

export interface ReadinessCheck {
  ok: boolean;
  detail?: string;
}

export interface AppDeps {
  store: JobStore;
  metrics: ServiceMetrics;
  apiToken?: string;
  webhook: { enabled: boolean; secret?: string };
  enqueue(req: StudyAnalysisRequest): Promise<EnqueueResult>;
  /** Maps an Orthanc study ID to its StudyInstanceUID (for webhook bodies that carry only the ID). */
  studyUidFromOrthancId?(id: string): Promise<string | undefined>;
  readiness(): Promise<Record<string, ReadinessCheck>>;
  keySlicePng(job: StudyAnalysisJob, lesion: LesionSummary): Promise<Buffer>;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

/** Express 4 does not see a rejected handler: hand the error to the error handler at the end. */
const handle =
  (fn: (req: Request, res: Response) => Promise<unknown>) =>
  (req: Request, res: Response, next: NextFunction): void =>
    void fn(req, res).catch(next);

function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}

export function createApp(d: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  app.post('/webhook/orthanc', express.json({ limit: '64kb' }), handle(async (req, res) => {
    if (!d.webhook.enabled) return res.status(404).json({ error: 'webhook disabled (listener.webhook.enabled)' });
    if (!d.webhook.secret) return res.status(503).json({ error: 'webhook secret not configured (listener.webhook.secret)' });
    const given = (req.headers['x-lens-secret'] as string | undefined) ?? bearer(req);
    if (!given || !safeEqual(given, d.webhook.secret)) {
      log.warn('webhook call with a wrong or missing secret', { ip: req.ip });
      return res.status(401).json({ error: 'wrong or missing secret' });
    }
    const body = (req.body ?? {}) as { studyInstanceUID?: unknown; orthancStudyId?: unknown; event?: unknown };
    let uid = typeof body.studyInstanceUID === 'string' ? body.studyInstanceUID : undefined;
    try {
      if (!uid && typeof body.orthancStudyId === 'string' && d.studyUidFromOrthancId) uid = await d.studyUidFromOrthancId(body.orthancStudyId);
    } catch (e) {
      return res.status(502).json({ error: `cannot look up Orthanc study: ${(e as Error).message}` });
    }
    if (!uid || !UID.test(uid)) return res.status(400).json({ error: 'body needs studyInstanceUID (a DICOM UID) or orthancStudyId' });
    const { job, created } = await d.enqueue({
      studyInstanceUID: uid,
      source: 'webhook',
      details: typeof body.orthancStudyId === 'string' ? { orthancStudyId: body.orthancStudyId } : undefined,
    });
    log.info('webhook event', { jobId: job.id, studyInstanceUID: uid, created });
    res.status(202).json({ jobId: job.id, created });
  }));

  // Everything below may require the token.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!d.apiToken) return next();
    const q = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (q && safeEqual(q, d.apiToken)) {
      res.setHeader('Set-Cookie', `lens_token=${encodeURIComponent(q)}; HttpOnly; SameSite=Strict; Path=/`);
      return next();
    }
    const given = bearer(req) ?? cookie(req, 'lens_token');
    if (given && safeEqual(given, d.apiToken)) return next();
    res.status(401).json({ error: 'authentication required (server.apiToken): Authorization: Bearer <token>' });
  });

  app.get('/readyz', handle(async (_req, res) => {
    const checks = await d.readiness();
    const ok = Object.values(checks).every((c) => c.ok);
    res.status(ok ? 200 : 503).json({ ok, checks });
  }));

  app.get('/metrics', handle(async (_req, res) => {
    res.setHeader('Content-Type', d.metrics.registry.contentType);
    res.send(await d.metrics.registry.metrics());
  }));

  app.get('/api/jobs', handle(async (req, res) => {
    const state = req.query.state as string | undefined;
    if (state && !JOB_STATES.includes(state as JobState))
      return res.status(400).json({ error: `state must be one of ${JOB_STATES.join(', ')}` });
    const kind = req.query.kind as string | undefined;
    if (kind && !JOB_KINDS.includes(kind as JobKind)) return res.status(400).json({ error: `kind must be one of ${JOB_KINDS.join(', ')}` });
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return res.status(400).json({ error: 'limit must be an integer 1..1000' });
    const study = req.query.study as string | undefined;
    const jobs = await d.store.list({ kind: kind as JobKind | undefined, state: state as JobState | undefined, studyInstanceUID: study, limit });
    res.json({ jobs, counts: await d.store.countByState() });
  }));

  app.get('/api/jobs/:id', handle(async (req, res) => {
    const job = await d.store.get(Number(req.params.id));
    if (!job) return res.status(404).json({ error: `no job ${req.params.id}` });
    res.json({ job, journey: await d.store.journey(job.id) });
  }));

  app.post('/api/studies/:studyUID/rerun', handle(async (req, res) => {
    const uid = req.params.studyUID;
    if (!UID.test(uid)) return res.status(400).json({ error: 'studyUID is not a DICOM UID' });
    const { job, created } = await d.enqueue({ studyInstanceUID: uid, source: 'manual', force: true });
    res.status(202).json({ jobId: job.id, created });
  }));

  app.get('/', (_req, res) => res.redirect('/dashboard'));

  app.get('/dashboard', handle(async (_req, res) => {
    res.type('html').send(renderJobList(await d.store.list({ limit: 200 }), await d.store.countByState()));
  }));

  app.get('/dashboard/jobs/:id', handle(async (req, res) => {
    const job = await d.store.get(Number(req.params.id));
    if (!job) return res.status(404).type('text').send(`no job ${req.params.id}`);
    res.type('html').send(renderJobDetail(job, await d.store.journey(job.id)));
  }));

  app.get('/dashboard/jobs/:id/lesions/:lesion.png', handle(async (req, res) => {
    const job = await d.store.get(Number(req.params.id));
    const lesion = job?.kind === 'study-analysis' ? job.lesions?.find((l) => l.id === Number(req.params.lesion)) : undefined;
    if (job?.kind !== 'study-analysis' || !lesion) return res.status(404).type('text').send('no such lesion');
    try {
      const png = await d.keySlicePng(job, lesion);
      res.type('png').setHeader('Cache-Control', 'private, max-age=86400');
      res.send(png);
    } catch (e) {
      log.warn('key slice rendering failed', { jobId: job.id, lesion: lesion.id, error: (e as Error).message });
      res.status(502).type('text').send(`cannot render the key slice: ${(e as Error).message}`);
    }
  }));

  // The job store failed (a handler's rejection): no stack trace to the client.
  app.use((e: Error, req: Request, res: Response, _next: NextFunction) => {
    log.error('request failed', { path: req.path, error: e.message });
    res.status(500).json({ error: `internal error: ${e.message}` });
  });

  return app;
}
