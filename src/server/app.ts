/**
 * The service's HTTP surface (express): the Orthanc webhook (shared secret required), the REST API, health and
 * readiness, Prometheus metrics and the dashboard. With server.apiToken set, everything except the webhook and
 * /healthz requires the token (Authorization: Bearer, or the session cookie of the login page: auth.ts).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import path from 'node:path';
import { isValidUid } from '../dicom/uid';
import { JobStoreUnavailableError } from '../jobs/errors';
import { log } from '../log';
import {
  JOB_KINDS, JOB_STATES,
  type EnqueueResult, type JobKind, type Leadership, type JobState, type JobStore, type LesionSummary, type StudyAnalysisJob, type StudyAnalysisRequest,
} from '../jobs/types';
import { bearer, installAuth, safeEqual, withLogout } from './auth';
import { picturePath, readHarvestDataset, renderHarvest } from './dashboard/harvest';
import { overviewData, renderOverview } from './dashboard/overview';
import { parseStudyListRequest, renderStudyList, studyUrl, toStudyQuery } from './dashboard/studies';
import { currentJob, renderStudyPage } from './dashboard/study';
import type { IntakeState } from './intake-gate';
import type { ServiceMetrics } from './metrics';
import type { NodeView } from './node-status';
import { isOrthancId, parseJobId, parseLesionId, queryString, RequestError } from './validate';

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
  /** Whether new studies are taken now (intake-gate.ts); the webhook answers 503 while not. Always open when absent. */
  intake?: { readonly state: IntakeState; report(e: unknown): boolean };
  /** The nodes sharing the job store and the leader of each role (node-status.ts); absent: one node, not shown. */
  nodes?(): Promise<{ nodes: NodeView[]; leaders: Leadership[] }>;
  /** The harvest dataset folder (harvest.outDir): its runs and pictures on the dashboard's harvest page. */
  harvestDir?: string;
}

/** The webhook body is a few identifiers (plugin/lens-push.lua); anything bigger is not from Orthanc. */
const WEBHOOK_BODY_LIMIT = '8kb';
/** Seconds a client refused for lack of resources is told to wait (the change feed redelivers in any case). */
const RETRY_AFTER_SECONDS = 30;

/** Fixed answers for the body parser's errors: its own messages quote the body. */
const BODY_ERRORS: Record<string, string> = {
  'entity.parse.failed': 'the body is not valid JSON',
  'entity.too.large': `the body is larger than ${WEBHOOK_BODY_LIMIT}`,
  'encoding.unsupported': 'unsupported content encoding',
  'charset.unsupported': 'unsupported charset',
  'request.aborted': 'the request was aborted',
  'request.size.invalid': 'the body is shorter than its Content-Length',
};


/** Express 4 does not see a rejected handler: hand the error to the error handler at the end. */
const handle =
  (fn: (req: Request, res: Response) => Promise<unknown>) =>
  (req: Request, res: Response, next: NextFunction): void =>
    void fn(req, res).catch(next);


/** 503 for work refused while the job store cannot take it: the sender (or the change feed) delivers it again. */
function refuseForNow(res: Response, reason: string): void {
  res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  res.status(503).json({ error: 'the service cannot take new work now (job store full or unavailable); send it again later', reason });
}

export function createApp(d: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  // The secret is checked before a byte of the body is read; the body is parsed only for a caller that has it.
  const webhookGuard = (req: Request, res: Response, next: NextFunction) => {
    if (!d.webhook.enabled) return void res.status(404).json({ error: 'webhook disabled (listener.webhook.enabled)' });
    if (!d.webhook.secret) return void res.status(503).json({ error: 'webhook secret not configured (listener.webhook.secret)' });
    const header = req.headers['x-lens-secret'];
    const given = typeof header === 'string' ? header : bearer(req);
    if (!given || !safeEqual(given, d.webhook.secret)) {
      log.warn('webhook call with a wrong or missing secret', { ip: req.ip });
      // Close rather than drain a body nobody will read.
      res.setHeader('Connection', 'close');
      return void res.status(401).json({ error: 'wrong or missing secret' });
    }
    const intake = d.intake?.state;
    if (intake && !intake.open) return void refuseForNow(res, intake.reason);
    next();
  };
  app.post('/webhook/orthanc', webhookGuard, express.json({ limit: WEBHOOK_BODY_LIMIT, strict: true }), handle(async (req, res) => {
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new RequestError('the body must be a JSON object');
    // `lens doctor` asks Orthanc to push this: the echo proves that Orthanc's push reaches us with the right secret.
    const probe = (body as { lensProbe?: unknown }).lensProbe;
    if (typeof probe === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(probe)) return res.json({ lensProbe: probe });
    const { studyInstanceUID, orthancStudyId } = body as { studyInstanceUID?: unknown; orthancStudyId?: unknown };
    if (studyInstanceUID !== undefined && !isValidUid(studyInstanceUID)) throw new RequestError('studyInstanceUID is not a DICOM UID');
    if (orthancStudyId !== undefined && !isOrthancId(orthancStudyId)) throw new RequestError('orthancStudyId is not an Orthanc study id');
    let uid = studyInstanceUID;
    try {
      if (!uid && orthancStudyId && d.studyUidFromOrthancId) uid = await d.studyUidFromOrthancId(orthancStudyId);
    } catch (e) {
      log.warn('webhook: Orthanc study lookup failed', { orthancStudyId, error: (e as Error).message });
      return res.status(502).json({ error: 'cannot look up the Orthanc study' });
    }
    if (!isValidUid(uid)) throw new RequestError('body needs studyInstanceUID (a DICOM UID) or orthancStudyId');
    const { job, created } = await d.enqueue({
      studyInstanceUID: uid,
      source: 'webhook',
      details: orthancStudyId ? { orthancStudyId } : undefined,
    });
    log.info('webhook event', { jobId: job.id, studyInstanceUID: uid, created });
    res.status(202).json({ jobId: job.id, created });
  }));

  // Everything below requires server.apiToken when set (bearer header or the login's session cookie): auth.ts.
  installAuth(app, { apiToken: d.apiToken });

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
    const state = queryString(req.query, 'state');
    if (state && !JOB_STATES.includes(state as JobState))
      return res.status(400).json({ error: `state must be one of ${JOB_STATES.join(', ')}` });
    const kind = queryString(req.query, 'kind');
    if (kind && !JOB_KINDS.includes(kind as JobKind)) return res.status(400).json({ error: `kind must be one of ${JOB_KINDS.join(', ')}` });
    const rawLimit = queryString(req.query, 'limit');
    const limit = rawLimit === undefined ? 100 : /^[1-9][0-9]{0,3}$/.test(rawLimit) ? Number(rawLimit) : NaN;
    if (!(limit >= 1 && limit <= 1000)) return res.status(400).json({ error: 'limit must be an integer 1..1000' });
    const study = queryString(req.query, 'study');
    if (study !== undefined && !isValidUid(study)) return res.status(400).json({ error: 'study is not a DICOM UID' });
    const jobs = await d.store.list({ kind: kind as JobKind | undefined, state: state as JobState | undefined, studyInstanceUID: study, limit });
    res.json({ jobs, counts: await d.store.countByState() });
  }));

  app.get('/api/jobs/:id', handle(async (req, res) => {
    const id = parseJobId(req.params.id);
    const job = await d.store.get(id);
    if (!job) return res.status(404).json({ error: `no job ${id}` });
    res.json({ job, journey: await d.store.journey(job.id) });
  }));

  app.get('/api/nodes', handle(async (_req, res) => {
    if (!d.nodes) return res.status(404).json({ error: 'no node registry' });
    res.json(await d.nodes());
  }));

  // The two actions, for the API (JSON) and the dashboard (a redirect to a page that says what was done).
  const REASON = /^[a-z0-9][a-z0-9-]{0,63}$/;
  const rerun = (uid: string) => d.enqueue({ studyInstanceUID: uid, source: 'manual', force: true });
  const redrive = async (rawReason: string | undefined, by: 'api' | 'dashboard') => {
    if (rawReason !== undefined && !REASON.test(rawReason)) throw new RequestError('reason must be a failure reason such as pacs-unreachable');
    const jobIds = await d.store.redrive({ state: 'dead', reason: rawReason, details: { by } });
    log.info('dead jobs re-driven', { jobs: jobIds.length, reason: rawReason ?? '(all)', by });
    return jobIds;
  };
  const studyUid = (raw: string) => {
    if (!isValidUid(raw)) throw new RequestError('studyUID is not a DICOM UID');
    return raw;
  };

  app.post('/api/studies/:studyUID/rerun', handle(async (req, res) => {
    const { job, created } = await rerun(studyUid(req.params.studyUID));
    res.status(202).json({ jobId: job.id, created });
  }));

  // Re-drive: dead study analyses (all, or ?reason=<reason>) queued again with a fresh attempt budget.
  app.post('/api/jobs/redrive', handle(async (req, res) => {
    const jobIds = await redrive(queryString(req.query, 'reason'), 'api');
    res.status(202).json({ redriven: jobIds.length, jobIds });
  }));

  // One row per study, filtered and paged as the dashboard's list (dashboard/studies.ts).
  app.get('/api/studies', handle(async (req, res) => {
    res.json(await d.store.listStudies(toStudyQuery(parseStudyListRequest(req.query))));
  }));

  app.get('/', (_req, res) => res.redirect('/dashboard'));

  // The dashboard (src/server/dashboard/): pages for the people who run the service, behind the login.
  const html = (res: Response, body: string) => res.type('html').setHeader('Cache-Control', 'no-store').send(withLogout(body, res));
  // After an action, the page it redirects to says what was done: from numbers and fixed words only, so that a link
  // made elsewhere cannot put its own sentence on the dashboard.
  const rerunDone = (req: Request, jobId: number) => {
    const how = queryString(req.query, 'queued');
    if (how === 'new') return `Re-run queued as job #${jobId}.`;
    if (how === 'joined') return `A job for this study was already waiting (#${jobId}): the re-run joined it.`;
    return undefined;
  };
  const redriveDone = (req: Request) => {
    const n = queryString(req.query, 'redriven'), reason = queryString(req.query, 'reason');
    if (!n || !/^[0-9]{1,9}$/.test(n) || (reason !== undefined && !REASON.test(reason))) return undefined;
    return `${n} dead job${n === '1' ? '' : 's'}${reason ? ` (${reason})` : ''} queued again.`;
  };

  app.get('/dashboard', handle(async (req, res) => {
    const r = parseStudyListRequest(req.query);
    html(res, renderStudyList(r, await d.store.listStudies(toStudyQuery(r))));
  }));

  app.get('/dashboard/studies/:studyUID', handle(async (req, res) => {
    const uid = studyUid(req.params.studyUID);
    const jobs = (await d.store.list({ kind: 'study-analysis', studyInstanceUID: uid, limit: 100 })).filter((j) => j.kind === 'study-analysis');
    const asked = queryString(req.query, 'job');
    const job = asked === undefined ? currentJob(jobs) : jobs.find((j) => j.id === parseJobId(asked));
    if (!job) return res.status(404).json({ error: asked === undefined ? 'no job for this study' : `no job ${asked} of this study` });
    html(res, renderStudyPage({ studyInstanceUID: uid, jobs, job, journey: await d.store.journey(job.id), done: rerunDone(req, job.id) }));
  }));

  app.post('/dashboard/studies/:studyUID/rerun', handle(async (req, res) => {
    const uid = studyUid(req.params.studyUID);
    const { job, created } = await rerun(uid);
    res.redirect(303, `${studyUrl(uid, job.id)}&queued=${created ? 'new' : 'joined'}`);
  }));

  app.get('/dashboard/jobs/:id', handle(async (req, res) => {
    const job = await d.store.get(parseJobId(req.params.id));
    if (!job) return res.status(404).json({ error: `no job ${req.params.id}` });
    res.redirect(303, job.kind === 'study-analysis' ? studyUrl(job.studyInstanceUID, job.id) : '/dashboard/harvest');
  }));

  app.get('/dashboard/overview', handle(async (req, res) => {
    const nodes = d.nodes ? (await d.nodes()).nodes : undefined;
    html(res, renderOverview({ ...(await overviewData(d.store)), nodes, done: redriveDone(req) }));
  }));

  app.get('/dashboard/overview/counts', handle(async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await d.store.countByState());
  }));

  app.post('/dashboard/redrive', handle(async (req, res) => {
    const reason = queryString(req.query, 'reason');
    const jobIds = await redrive(reason, 'dashboard');
    res.redirect(303, `/dashboard/overview?redriven=${jobIds.length}${reason ? `&reason=${reason}` : ''}`);
  }));

  app.get('/dashboard/harvest', handle(async (_req, res) => {
    const jobs = (await d.store.list({ kind: 'harvest-run', limit: 20 })).filter((j) => j.kind === 'harvest-run');
    const runs = await Promise.all(jobs.map(async (job) => ({ job, journey: await d.store.journey(job.id) })));
    const dataset = d.harvestDir ? await readHarvestDataset(d.harvestDir) : undefined;
    const datasetMissing = !d.harvestDir ? 'no harvest dataset folder configured (harvest.outDir)' : dataset ? undefined : 'the harvest dataset folder does not exist yet (no harvest has run)';
    html(res, renderHarvest({ runs, dataset, datasetMissing }));
  }));

  app.get('/dashboard/harvest/pictures/:study/:name.png', handle(async (req, res) => {
    const file = d.harvestDir ? picturePath(d.harvestDir, req.params.study, req.params.name) : undefined;
    if (!file) return res.status(404).json({ error: 'no such picture' });
    res.type('png').setHeader('Cache-Control', 'private, max-age=3600');
    res.sendFile(path.resolve(file), (e) => {
      if (e && !res.headersSent) res.status(404).json({ error: 'no such picture' });
    });
  }));

  app.get('/dashboard/jobs/:id/lesions/:lesion.png', handle(async (req, res) => {
    const job = await d.store.get(parseJobId(req.params.id));
    const lesionId = parseLesionId(req.params.lesion);
    const lesion = job?.kind === 'study-analysis' ? job.lesions?.find((l) => l.id === lesionId) : undefined;
    if (job?.kind !== 'study-analysis' || !lesion) return res.status(404).json({ error: 'no such lesion' });
    try {
      const png = await d.keySlicePng(job, lesion);
      res.type('png').setHeader('Cache-Control', 'private, max-age=86400');
      res.send(png);
    } catch (e) {
      log.warn('key slice rendering failed', { jobId: job.id, lesion: lesion.id, error: (e as Error).message });
      res.status(502).json({ error: 'cannot render the key slice' });
    }
  }));

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });

  // Every error ends here, as JSON: never a stack trace, a path or a library's message quoting the request.
  app.use((e: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.end();
    if (e instanceof RequestError) return void res.status(400).json({ error: e.message });
    if (e instanceof JobStoreUnavailableError) {
      d.intake?.report(e);
      return void refuseForNow(res, e.reason);
    }
    // body-parser and express mark client errors with a 4xx status (bad JSON, too large, a malformed %-escape).
    const status = (e as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const type = (e as { type?: unknown }).type;
      return void res.status(status).json({ error: (typeof type === 'string' && BODY_ERRORS[type]) || 'bad request' });
    }
    log.error('request failed', { method: req.method, path: req.path, error: (e as Error)?.message ?? String(e) });
    res.status(500).json({ error: 'internal error' });
  });

  return app;
}
