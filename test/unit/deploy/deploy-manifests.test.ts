/**
 * The deployment files checked as far as this machine allows (no Docker engine, kubectl or kubeconform here):
 * docker-compose.yml (+ docker-compose.postgres.yml), the Dockerfile and deploy/k8s/*.yaml are parsed, every
 * LENS__ variable each container gets (image ENV + compose environment, or k8s env/envFrom with the referenced
 * Secret and ConfigMap values) is loaded by the real config loader (which refuses unknown keys) and must make a
 * startable service (serviceConfigProblems); every health check and probe command is run against the real HTTP
 * app with the API token on; references between Kubernetes objects (selectors, ports, secrets, config maps,
 * GPU requests) must resolve; and the compose profiles start one service each while workers scale.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { serviceConfigProblems } from '../../../src/config/service-requirements';
import { startTestApp, type TestApp } from '../../helpers/test-app';

import { parse as parseYaml, parseAllDocuments } from 'yaml';

const REPO = path.resolve(__dirname, '../../..');
const read = (f: string) => fs.readFileSync(path.join(REPO, f), 'utf8');
const TOKEN = 'probe-token-0123456789abcdef';
const SERVICE_PORT = 8700;

let app: TestApp;
let port: number;

beforeAll(async () => {
  app = await startTestApp({ apiToken: TOKEN });
  ({ port } = app);
});

afterAll(() => app.close());

/** Runs a health-check command against the test app (its port in place of the service's), returning the exit code. */
function runCheck(argv: string[], token: string): Promise<number> {
  const args = argv.map((a) => a.replaceAll(`127.0.0.1:${SERVICE_PORT}`, `127.0.0.1:${port}`));
  expect(args.join(' ')).toContain(`127.0.0.1:${port}/`);
  const cmd = args[0] === 'node' ? process.execPath : args[0];
  return new Promise((resolve) =>
    execFile(cmd, args.slice(1), { env: { ...process.env, LENS__SERVER__APITOKEN: token }, timeout: 15000 }, (err) =>
      resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0),
    ),
  );
}

/** Every LENS__ variable must be a config key the loader knows, and the whole must make a startable service. */
function expectStartable(env: Record<string, string>, where: string): ReturnType<typeof loadConfig> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ env });
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  expect({ where, problems: serviceConfigProblems(config) }).toEqual({ where, problems: [] });
  return config;
}

// ---------------------------------------------------------------------------------------------- Docker

/** ENV of each Dockerfile stage (`FROM ... AS name`), and the stage's HEALTHCHECK command. */
function dockerfileStages(): Record<string, { env: Record<string, string>; healthcheck?: string }> {
  const stages: Record<string, { env: Record<string, string>; healthcheck?: string }> = {};
  let current: { env: Record<string, string>; healthcheck?: string } | undefined;
  for (const line of read('Dockerfile').split('\n')) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from) current = stages[from[1]] = { env: {} };
    else if (current && /^ENV\s/.test(line))
      for (const m of line.slice(4).matchAll(/(\w+)=('[^']*'|"[^"]*"|\S+)/g)) current.env[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
    else if (current && /^HEALTHCHECK\s/.test(line)) current.healthcheck = /\bCMD\s+(.*)$/.exec(line)?.[1];
  }
  return stages;
}

/** `${VAR}`, `${VAR:-default}`, `${VAR:?message}`: a value for each variable, as an operator following the header would set. */
const interpolate = (v: unknown) => String(v).replace(/\$\{(\w+)(?::?[-?][^}]*)?\}/g, (_m, name: string) => `${name.toLowerCase()}-0123456789abcdef`);

type ComposeService = Record<string, any>;
function composeServices(...files: string[]): Record<string, ComposeService> {
  const merged: Record<string, ComposeService> = {};
  for (const f of files)
    for (const [name, svc] of Object.entries((parseYaml(read(f), { merge: true }) as { services: Record<string, ComposeService> }).services)) {
      const base = merged[name] ?? {};
      merged[name] = { ...base, ...svc, environment: { ...(base.environment ?? {}), ...(svc.environment ?? {}) } };
    }
  return merged;
}

const lensServices = (services: Record<string, ComposeService>) => Object.entries(services).filter(([, s]) => String(s.image ?? '').startsWith('lens-pacs'));
const stageOf = (s: ComposeService) => s.build?.target ?? (String(s.image).endsWith(':gpu') ? 'gpu' : 'cpu');
const envOf = (s: ComposeService, stages: ReturnType<typeof dockerfileStages>) => {
  const env: Record<string, string> = { ...stages[stageOf(s)].env };
  for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = interpolate(v);
  return env;
};

test('compose: every lens service (SQLite and PostgreSQL) gets known config keys making a startable service', () => {
  const stages = dockerfileStages();
  expect(Object.keys(stages)).toEqual(expect.arrayContaining(['cpu', 'gpu']));
  for (const files of [['docker-compose.yml'], ['docker-compose.yml', 'docker-compose.postgres.yml']]) {
    const services = composeServices(...files);
    const lens = lensServices(services);
    expect(lens.map(([n]) => n).sort()).toEqual(['lens', 'lens-gpu', 'lens-gpu-worker', 'lens-worker']);
    const databases = new Set<string>();
    for (const [name, svc] of lens) {
      const config = expectStartable(envOf(svc, stages), `${files.join(' + ')}: ${name}`);
      // The worker's database is the front node's (its default, in the same volume, or the URL).
      const db = config.jobs.database ?? path.posix.join(config.workDir, 'jobs.sqlite');
      const volume = (svc.volumes as string[]).find((v) => v.includes(':') && db.startsWith(v.split(':')[1]));
      databases.add(volume ? `${volume.split(':')[0]}${db.slice(volume.split(':')[1].length)}` : db);
      if (stageOf(svc) === 'gpu') {
        expect(config.model.executionProviders[0]).toBe('cuda');
        expect(config.node.gpus).toBe(svc.deploy.resources.reservations.devices[0].count);
      }
    }
    expect({ files, databases: [...databases] }).toEqual({ files, databases: [files.length > 1 ? expect.stringMatching(/^postgres:\/\/lens:[^@]+@postgres:5432\/lens$/) : 'lens-data/jobs.sqlite'] });
  }
});

test('compose: profiles start one lens service each, workers scale (no name, no host port, own work dir)', () => {
  const services = composeServices('docker-compose.yml');
  const hostPorts = (profile: string) =>
    lensServices(services)
      .filter(([, s]) => !s.profiles || s.profiles.includes(profile))
      .flatMap(([n, s]) => ((s.ports ?? []) as string[]).map((p) => `${n} ${p}`));
  expect(hostPorts('cpu')).toEqual([expect.stringMatching(/^lens \S*:8700:8700$/)]);
  expect(hostPorts('gpu')).toEqual([expect.stringMatching(/^lens-gpu \S*:8700:8700$/)]);
  for (const name of ['lens-worker', 'lens-gpu-worker']) {
    const w = services[name];
    expect(w.container_name).toBeUndefined();
    expect(w.ports).toBeUndefined();
    expect(w.hostname).toBeUndefined();
    expect(w.profiles).toHaveLength(1);
    // The work dir is a volume of its own (anonymous), never another node's.
    expect(w.volumes).toContain('/data');
    expect(w.networks.default.aliases).toEqual(['lens']);
  }
  const pg = composeServices('docker-compose.yml', 'docker-compose.postgres.yml');
  expect(pg.postgres.profiles).toBeUndefined();
  const password = /\$\{(\w+)/.exec(pg.postgres.environment.POSTGRES_PASSWORD)![1];
  for (const [name, s] of lensServices(pg)) {
    expect({ name, dependsOn: s.depends_on }).toMatchObject({ name, dependsOn: { postgres: { condition: 'service_healthy' } } });
    expect(s.environment.LENS__JOBS__DATABASE).toContain(`\${${password}`);
  }
});

test('Dockerfile: the images build from registries only (images, npm, NuGet for the CUDA provider), no other download', () => {
  const dockerfile = read('Dockerfile');
  const runs = dockerfile.split('\n').filter((l) => /^RUN\s/.test(l));
  expect(runs.length).toBeGreaterThan(0);
  // apt repositories, install scripts piped to a shell, git clones: none.
  for (const run of runs) expect({ run, fetches: /\b(curl|wget|apt-get|apt|git|pip)\b|https?:\/\//.test(run) }).toEqual({ run, fetches: false });
  const stages = dockerfileStages();
  // onnxruntime-node's install script downloads only what ONNXRUNTIME_NODE_INSTALL asks for: nothing (CPU) or CUDA 12.
  expect(stages.cpu.env.ONNXRUNTIME_NODE_INSTALL).toBe('skip');
  const gpuModules = /^COPY --from=(\S+) \/app\/node_modules/m.exec(dockerfile.slice(dockerfile.indexOf(' AS gpu\n')))!;
  expect(stages[gpuModules[1]].env.ONNXRUNTIME_NODE_INSTALL).toBe('cuda12');
});

test('Docker health checks run against the real app: /healthz answers without the token', async () => {
  const stages = dockerfileStages();
  for (const stage of ['cpu', 'gpu']) {
    const cmd = stages[stage].healthcheck!;
    expect({ stage, cmd }).toEqual({ stage, cmd: expect.stringContaining('/healthz') });
    const m = /^node -e "(.*)"$/.exec(cmd)!;
    expect(await runCheck(['node', '-e', m[1]], '')).toBe(0);
  }
});

// ------------------------------------------------------------------------------------------ Kubernetes

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [k: string]: any;
}

const K8S_DIR = 'deploy/k8s';
const KNOWN_KINDS: Record<string, string> = {
  Deployment: 'apps/v1', StatefulSet: 'apps/v1', Service: 'v1', Secret: 'v1', ConfigMap: 'v1',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
};

function k8sObjects(): { file: string; obj: K8sObject }[] {
  return fs
    .readdirSync(path.join(REPO, K8S_DIR))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) => parseAllDocuments(read(path.join(K8S_DIR, file)), { merge: true }).map((d) => d.toJS()).filter(Boolean).map((obj) => ({ file, obj: obj as K8sObject })));
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

test('k8s: kinds and API versions, names, selectors, ports and the kustomization resolve', () => {
  const all = k8sObjects();
  for (const { file, obj } of all) {
    expect({ file, kind: obj.kind, apiVersion: obj.apiVersion }).toEqual({ file, kind: obj.kind, apiVersion: KNOWN_KINDS[obj.kind] });
    if (obj.kind !== 'Kustomization') expect({ file, name: obj.metadata?.name }).toEqual({ file, name: expect.stringMatching(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/) });
  }
  const kustomization = all.find((o) => o.obj.kind === 'Kustomization')!.obj;
  for (const r of kustomization.resources as string[]) expect(fs.existsSync(path.join(REPO, K8S_DIR, r))).toBe(true);

  const workloads = all.filter((o) => ['Deployment', 'StatefulSet'].includes(o.obj.kind)).map((o) => o.obj);
  for (const w of workloads) {
    expect({ name: w.metadata.name, ok: matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels) }).toEqual({ name: w.metadata.name, ok: true });
    if (w.kind === 'StatefulSet') expect(all.some((o) => o.obj.kind === 'Service' && o.obj.metadata.name === w.spec.serviceName)).toBe(true);
  }
  for (const { obj: svc } of all.filter((o) => o.obj.kind === 'Service')) {
    const targets = workloads.filter((w) => matches(svc.spec.selector, w.spec.template.metadata.labels));
    expect({ service: svc.metadata.name, targets: targets.length > 0 }).toEqual({ service: svc.metadata.name, targets: true });
    for (const w of targets)
      for (const p of svc.spec.ports) {
        const ports = w.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []);
        expect({ service: svc.metadata.name, workload: w.metadata.name, port: p.targetPort, found: ports.some((cp: any) => cp.name === p.targetPort || cp.containerPort === p.targetPort) })
          .toEqual({ service: svc.metadata.name, workload: w.metadata.name, port: p.targetPort, found: true });
      }
  }
});

/** The environment a container gets, with Secret and ConfigMap references resolved (each must exist). */
function containerEnv(c: any, all: K8sObject[]): Record<string, string> {
  const find = (kind: string, name: string) => {
    const o = all.find((x) => x.kind === kind && x.metadata.name === name);
    if (!o) throw new Error(`${c.name}: ${kind} ${name} is not among the manifests`);
    return (kind === 'Secret' ? { ...o.data, ...o.stringData } : o.data) as Record<string, string>;
  };
  const keyOf = (kind: string, ref: { name: string; key: string }) => {
    const data = find(kind, ref.name);
    if (!(ref.key in data)) throw new Error(`${c.name}: ${kind} ${ref.name} has no key ${ref.key}`);
    return String(data[ref.key]);
  };
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) Object.assign(env, from.configMapRef ? find('ConfigMap', from.configMapRef.name) : find('Secret', from.secretRef.name));
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) env[e.name] = keyOf('Secret', e.valueFrom.secretKeyRef);
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = keyOf('ConfigMap', e.valueFrom.configMapKeyRef);
    else throw new Error(`${c.name}: env ${e.name} has no value`);
  }
  return env;
}

test('k8s: lens containers get known config keys, secrets that exist, GPU requests that match the config', () => {
  const all = k8sObjects().map((o) => o.obj);
  const lens = all.filter((o) => o.kind === 'Deployment');
  expect(lens.map((d) => d.metadata.name).sort()).toEqual(['lens-pacs', 'lens-pacs-gpu']);
  for (const d of lens) {
    const [c] = d.spec.template.spec.containers;
    const env = containerEnv(c, all);
    for (const name of Object.keys(env)) expect({ deployment: d.metadata.name, name }).toEqual({ deployment: d.metadata.name, name: expect.stringMatching(/^LENS__/) });
    const config = expectStartable(env, `deployment ${d.metadata.name}`);
    expect(config.server.port).toBe(SERVICE_PORT);
    expect(c.ports.map((p: any) => p.containerPort)).toEqual([config.server.port]);
    // The database URL names the PostgreSQL Service and port of postgres.yaml.
    const db = new URL(config.jobs.database!);
    const pgService = all.find((o) => o.kind === 'Service' && o.metadata.name === db.hostname)!;
    expect(pgService.spec.ports.map((p: any) => String(p.port))).toContain(db.port);
    const gpus = Number(c.resources.limits?.['nvidia.com/gpu'] ?? 0);
    expect({ deployment: d.metadata.name, gpus: config.node.gpus }).toEqual({ deployment: d.metadata.name, gpus });
    if (gpus) expect(config.model.executionProviders[0]).toBe('cuda');
    // The pod's user is the image's (Dockerfile useradd --uid).
    expect(read('Dockerfile')).toContain(`--uid ${d.spec.template.spec.securityContext.runAsUser} `);
  }
  const pg = all.find((o) => o.kind === 'StatefulSet')!;
  const pgEnv = containerEnv(pg.spec.template.spec.containers[0], all);
  const lensDb = new URL(containerEnv(lens[0].spec.template.spec.containers[0], all).LENS__JOBS__DATABASE);
  expect([lensDb.username, lensDb.password, lensDb.pathname.slice(1)]).toEqual([pgEnv.POSTGRES_USER, pgEnv.POSTGRES_PASSWORD, pgEnv.POSTGRES_DB]);
});

test('k8s probes run against the real app: liveness /healthz without the token, readiness /readyz with it', async () => {
  const all = k8sObjects().map((o) => o.obj);
  for (const d of all.filter((o) => o.kind === 'Deployment')) {
    const [c] = d.spec.template.spec.containers;
    const live = c.livenessProbe.httpGet;
    expect(live.path).toBe('/healthz');
    expect(c.ports.some((p: any) => p.name === live.port || p.containerPort === live.port)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}${live.path}`)).status).toBe(200);
    const ready = c.readinessProbe.exec.command as string[];
    expect(ready.join(' ')).toContain('/readyz');
    expect(await runCheck(ready, TOKEN)).toBe(0);
    // It does check: a wrong token (or a missing route) fails the probe.
    expect(await runCheck(ready, 'wrong-token-0123456789')).not.toBe(0);
  }
});
