/**
 * Harvest kill soak (prints figures, no assertions in the suite): `lens harvest --folder` over a small synthetic
 * archive is killed with SIGKILL at random moments and restarted until a run completes; then the dataset is checked
 * against an uninterrupted harvest of the same archive: every study exactly once, the same candidates and statuses,
 * one picture per harvested lesion, no temporary file left.
 *
 *   node -r tsx/cjs scripts/harvest-kill-soak.ts [--studies 6] [--seed 21] [--kills 8] [--max-wait 12] [--keep DIR]
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HarvestRecord } from '../src/harvest/dataset';
import { writeSyntheticArchive } from '../src/harvest/synthetic-archive';
import { Rng } from '../src/synth/rng';
import { countOption, numberOption, parseOptions } from './args';

const repo = path.resolve(__dirname, '..');
const lens = path.join(repo, 'bin/lens.js');

function run(archive: string, out: string, killAfterMs?: number): Promise<'killed' | 'complete'> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [lens, 'harvest', '--folder', archive, '--out', out], { cwd: repo, stdio: 'ignore', env: { ...process.env, LENS__MODEL__THREADS: '1' } });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0) resolve('complete');
      else reject(new Error(`lens harvest exited with ${code}`));
    });
  });
}

function records(out: string): Map<string, HarvestRecord> {
  const dir = path.join(out, 'studies');
  const m = new Map<string, HarvestRecord>();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as HarvestRecord;
    if (m.has(r.studyInstanceUID)) throw new Error(`two records of study ${r.studyInstanceUID}`);
    m.set(r.studyInstanceUID, r);
  }
  return m;
}

/** What must not depend on interruptions: the candidates with their scores and statuses, the labels. */
function essence(r: HarvestRecord): string {
  const c = (xs: HarvestRecord['harvested']) => xs.map((x) => `${x.id}:${x.score}:${x.status}`).join(',');
  return JSON.stringify([r.sourceSeries, r.existingLabels.length, c(r.matched), c(r.harvested), c(r.hardNegatives), c(r.uncertain)]);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), { values: ['studies', 'seed', 'kills', 'max-wait', 'keep'] });
  const studies = countOption(o.studies, 'studies', 6);
  const seed = countOption(o.seed, 'seed', 21);
  const maxKills = countOption(o.kills, 'kills', 8);
  const maxWaitS = numberOption(o['max-wait'], 'max-wait', 12);
  const tmp = o.keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'harvest-soak-'));
  const archive = path.join(tmp, 'archive');
  writeSyntheticArchive(archive, { seed, studies, completeEvery: 3, synth: { size: 256, slices: 24, thickness: 5, lesions: [2, 4] } });
  console.log(`archive: ${studies} studies in ${archive}`);

  let t = performance.now();
  await run(archive, path.join(tmp, 'reference'));
  const referenceS = (performance.now() - t) / 1000;
  const reference = records(path.join(tmp, 'reference'));
  console.log(`uninterrupted harvest: ${reference.size} records in ${referenceS.toFixed(1)} s`);

  const rng = new Rng(seed);
  const out = path.join(tmp, 'killed');
  let kills = 0;
  const progress: number[] = [];
  for (;;) {
    const wait = kills < maxKills ? Math.round((1 + rng.next() * (maxWaitS - 1)) * 1000) : undefined;
    const outcome = await run(archive, out, wait);
    progress.push(fs.existsSync(path.join(out, 'studies')) ? records(out).size : 0);
    if (outcome === 'complete') break;
    kills++;
  }
  const got = records(out);
  const missing = [...reference.keys()].filter((k) => !got.has(k));
  const differing = [...reference.keys()].filter((k) => got.has(k) && essence(got.get(k)!) !== essence(reference.get(k)!));
  let pictureProblems = 0;
  for (const r of got.values()) {
    const dir = path.join(out, 'pictures', r.studyInstanceUID);
    const files = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    if (files.length !== r.harvested.length || r.harvested.some((h) => !fs.existsSync(path.join(out, h.picture!)))) pictureProblems++;
  }
  const leftovers = spawnSync('find', [out, '-name', '*.tmp'], { encoding: 'utf8' }).stdout.trim();
  console.log(`SIGKILLs: ${kills}; records after each run: ${progress.join(' -> ')}`);
  console.log(`studies: ${got.size} of ${reference.size}; missing ${missing.length}; differing from the uninterrupted run ${differing.length}; studies with wrong pictures ${pictureProblems}; temporary files left ${leftovers ? leftovers.split('\n').length : 0}`);
  if (!o.keep) fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
