import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import { ConfigError, loadConfig, redactConfig } from '../config/load';
import type { LensConfig } from '../config/schema';
import { checkManifestAgainstGraph, readManifest } from '../detect/load-manifest';
import { createSession, graphOf } from '../detect/session';
import { DicomWebClient } from '../pacs/dicomweb';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it failed. */
  fix?: string;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check the configuration, the model (manifest vs graph, execution provider), the PACS and the DICOM tools')
    .option('--no-pacs', 'skip the PACS reachability check')
    .action(async (opts: { pacs: boolean }) => {
      const checks = await runChecks(program.opts().config, opts.pacs);
      for (const c of checks) {
        process.stdout.write(`${c.ok ? 'OK  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
        if (!c.ok && c.fix) process.stdout.write(`     -> ${c.fix}\n`);
      }
      const failed = checks.filter((c) => !c.ok).length;
      process.stdout.write(failed ? `${failed} check${failed === 1 ? '' : 's'} failed\n` : 'all checks passed\n');
      if (failed) process.exitCode = 1;
    });
}

export async function runChecks(configFile: string | undefined, checkPacs = true): Promise<Check[]> {
  const checks: Check[] = [];
  let cfg: LensConfig;
  try {
    cfg = loadConfig({ file: configFile });
    checks.push({ name: 'config', ok: true, detail: `${configFile ?? process.env.LENS_CONFIG ?? 'defaults + environment'} is valid: ${JSON.stringify(redactConfig(cfg))}` });
  } catch (e) {
    checks.push({ name: 'config', ok: false, detail: (e as Error).message.replace(/\n\s*/g, '; '), fix: e instanceof ConfigError ? 'correct the named keys in the config file or LENS__* variables' : undefined });
    return checks;
  }
  checks.push(...(await modelChecks(cfg)));
  if (checkPacs) checks.push(await pacsCheck(cfg));
  checks.push(toolCheck('dcmtk', 'dsrdump', ['--version'], 'apt-get install dcmtk'));
  checks.push(toolCheck('dicom3tools', 'dciodvfy', [], 'apt-get install dicom3tools'));
  return checks;
}

async function modelChecks(cfg: LensConfig): Promise<Check[]> {
  let found;
  try {
    found = readManifest(cfg.model.dir);
  } catch (e) {
    return [{ name: 'model', ok: false, detail: (e as Error).message.replace(/\n\s*/g, '; '), fix: `put model.json and its ONNX file into ${cfg.model.dir} (config model.dir)` }];
  }
  const { manifest: m, onnxPath } = found;
  const out: Check[] = [{ name: 'model', ok: true, detail: `${m.name} ${m.version} (${onnxPath}); heads ${m.output.heads.map((h) => h.name).join(', ')}${m.output.mask ? ' + mask' : ''}` }];
  try {
    const opened = await createSession(onnxPath, cfg.model);
    const problems = checkManifestAgainstGraph(m, graphOf(opened.session));
    await opened.session.release();
    out.push(
      problems.length
        ? { name: 'manifest vs graph', ok: false, detail: problems.join('; '), fix: 'export the model and its manifest together (models/training/export.py)' }
        : { name: 'manifest vs graph', ok: true, detail: 'input, every head and the mask match the ONNX graph' },
    );
    const skipped = opened.skipped.map((s) => `${s.provider} unavailable: ${s.reason}`).join('; ');
    out.push({ name: 'execution provider', ok: true, detail: `${opened.provider}${skipped ? ` (${skipped})` : ''}, threads ${cfg.model.threads || 'auto'}, batch ${cfg.model.batchSize}` });
  } catch (e) {
    out.push({ name: 'execution provider', ok: false, detail: (e as Error).message, fix: "add 'cpu' to model.executionProviders; CUDA needs onnxruntime-node installed with --onnxruntime-node-install=cuda12" });
  }
  return out;
}

async function pacsCheck(cfg: LensConfig): Promise<Check> {
  const url = cfg.pacs.dicomwebUrl;
  try {
    // A quick answer matters more here than the service's patient retries.
    const client = new DicomWebClient({ ...cfg.pacs, retries: 0, timeoutMs: Math.min(cfg.pacs.timeoutMs, 5000) });
    const studies = await client.searchStudies({}, { limit: 1 });
    return { name: 'PACS', ok: true, detail: `${url} answers QIDO-RS (${studies.length ? 'studies found' : 'no studies yet'})` };
  } catch (e) {
    return { name: 'PACS', ok: false, detail: `${url}: ${(e as Error).message.split('\n')[0]}`, fix: 'start the PACS or set pacs.dicomwebUrl (LENS__PACS__DICOMWEBURL) and pacs.auth' };
  }
}

function toolCheck(pkg: string, bin: string, args: string[], install: string): Check {
  try {
    const path = execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim();
    let version = '';
    if (args.length) {
      try {
        version = execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n').find((l) => /\d/.test(l))?.trim() ?? '';
      } catch {
        /* the version is only a nicety */
      }
    }
    return { name: pkg, ok: true, detail: `${path}${version ? ` (${version})` : ''}` };
  } catch {
    return { name: pkg, ok: false, detail: `${bin} not found on PATH`, fix: install };
  }
}
