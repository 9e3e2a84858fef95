/**
 * The harvest page: the harvest runs in the job store (state, timeline, duration), and, when the harvest dataset
 * folder exists (harvest.outDir, format of src/harvest/dataset.ts), its run records with their figures and links
 * to the harvested lesions' pictures for spot checks. The dataset is only read here, never written.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { HarvestRecord, RunRecord } from '../../harvest/dataset';
import type { HarvestRunJob, JourneyEvent } from '../../jobs/types';
import { duration, esc, page, stateBadge, time } from './layout';
import { renderTimeline } from './timeline';

/** Records read per page: the newest runs and studies (the dataset can hold many thousands of studies). */
export const HARVEST_RUNS_SHOWN = 20;
export const HARVEST_STUDIES_SHOWN = 30;

/** A picture path in the dataset as dataset.ts writes it: pictures/<study, made safe>/<name>.png. */
const PICTURE = /^pictures\/([0-9A-Za-z.-]{1,64})\/([A-Za-z0-9_-]{1,64})\.png$/;

export interface HarvestDatasetView {
  dir: string;
  runs: RunRecord[];
  /** The newest study records that harvested lesions, with the pictures' dashboard URLs. */
  studies: { studyInstanceUID: string; harvestedAt: string; pictures: { id: number; score: number; url: string }[] }[];
  /** Unreadable records (a write in progress is never seen: dataset.ts renames whole files). */
  unreadable: number;
}

export interface HarvestPageData {
  runs: { job: HarvestRunJob; journey: JourneyEvent[] }[];
  dataset?: HarvestDatasetView;
  /** Why the dataset is not shown (no folder configured, or not there yet). */
  datasetMissing?: string;
}

/** The dashboard URL of a dataset picture, or undefined when the recorded path is not one dataset.ts writes. */
export function pictureUrl(recorded: string | undefined): string | undefined {
  const m = recorded ? PICTURE.exec(recorded) : null;
  if (!m || m[1] === '.' || m[1] === '..') return undefined;
  return `/dashboard/harvest/pictures/${m[1]}/${m[2]}.png`;
}

/** The file behind a picture URL's two parts, inside the dataset folder; undefined for anything else. */
export function picturePath(dir: string, study: string, name: string): string | undefined {
  return pictureUrl(`pictures/${study}/${name}.png`) ? path.join(dir, 'pictures', study, `${name}.png`) : undefined;
}

async function newestJson<T>(dir: string, max: number): Promise<{ records: T[]; unreadable: number }> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((f) => f.endsWith('.json'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], unreadable: 0 };
    throw e;
  }
  const stats = await Promise.all(names.map(async (n) => ({ n, t: (await fs.stat(path.join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
  const newest = stats.sort((a, b) => b.t - a.t).slice(0, max);
  let unreadable = 0;
  const records: T[] = [];
  for (const { n } of newest) {
    try {
      records.push(JSON.parse(await fs.readFile(path.join(dir, n), 'utf8')) as T);
    } catch {
      unreadable++;
    }
  }
  return { records, unreadable };
}

/** The dataset's newest run and study records; undefined when the folder does not exist. */
export async function readHarvestDataset(dir: string): Promise<HarvestDatasetView | undefined> {
  try {
    if (!(await fs.stat(dir)).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const runs = await newestJson<RunRecord>(path.join(dir, 'runs'), HARVEST_RUNS_SHOWN);
  const studies = await newestJson<HarvestRecord>(path.join(dir, 'studies'), HARVEST_STUDIES_SHOWN);
  return {
    dir,
    runs: runs.records.sort((a, b) => String(b.startedAt).localeCompare(String(a.startedAt))),
    studies: studies.records
      .filter((r) => r.harvested?.length)
      .map((r) => ({
        studyInstanceUID: r.studyInstanceUID,
        harvestedAt: r.harvestedAt,
        pictures: r.harvested.flatMap((c) => {
          const url = pictureUrl(c.picture);
          return url ? [{ id: c.id, score: c.score, url }] : [];
        }),
      })),
    unreadable: runs.unreadable + studies.unreadable,
  };
}

/** The figures of the run's latest `harvest-progress` event (src/harvest/nightly.ts), as `name value` pairs. */
export function harvestProgress(journey: JourneyEvent[]): [string, number][] {
  const last = [...journey].reverse().find((e) => e.event === 'harvest-progress');
  return Object.entries(last?.details ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number');
}

function runJobs(runs: HarvestPageData['runs']): string {
  if (!runs.length) return '<p class="muted">no harvest run yet</p>';
  return runs
    .map(({ job, journey }) => {
      const took = job.timingsMs?.harvest !== undefined ? ` · ran ${esc(duration(job.timingsMs.harvest))}` : '';
      const why = job.state !== 'succeeded' && job.reason ? ` · ${esc(job.reason)}${job.lastError ? `: ${esc(job.lastError)}` : ''}` : '';
      const progress = harvestProgress(journey);
      const figures = progress.length
        ? `<p class="progress">${progress.map(([k, v]) => `${esc(k)} <b>${esc(v)}</b>`).join(' · ')}</p>`
        : '';
      return `<section class="harvest-run" data-job="${job.id}"><h3>Run #${job.id} ${stateBadge(job.state)}</h3>
<p>queued ${esc(time(job.receivedAt))}${job.finishedAt ? ` · finished ${esc(time(job.finishedAt))}` : ''}${took}${job.modelVersion ? ` · models ${esc(job.modelVersion)}` : ''}${why}</p>${figures}
<details><summary>journey (${journey.length} events)</summary>${renderTimeline(journey)}</details></section>`;
    })
    .join('\n');
}

const COUNT_NAMES: [keyof RunRecord['counts'], string][] = [
  ['studies', 'studies'], ['harvestedStudies', 'harvested studies'], ['skippedAlreadyHarvested', 'already harvested'], ['notAnalysed', 'not analysed'],
  ['failed', 'failed'], ['labels', 'labels'], ['harvested', 'harvested lesions'], ['hardNegatives', 'hard negatives'], ['uncertain', 'uncertain'],
];

function datasetSection(d: HarvestDatasetView): string {
  const runs = d.runs.length
    ? `<table class="harvest-records"><thead><tr><th>run</th><th>status</th><th>started</th><th>finished</th>${COUNT_NAMES.map(([, n]) => `<th class="num">${n}</th>`).join('')}</tr></thead><tbody>${d.runs
        .map(
          (r) => `<tr><td class="uid">${esc(r.runId)}</td><td>${esc(r.status)}</td><td>${esc(r.startedAt)}</td><td>${esc(r.finishedAt ?? '')}</td>${COUNT_NAMES.map(
            ([k]) => `<td class="num">${esc(r.counts?.[k] ?? '')}</td>`,
          ).join('')}</tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="muted">no run record in the dataset yet</p>';
  const studies = d.studies.length
    ? `<ul class="harvested">${d.studies
        .map(
          (s) => `<li><span class="uid">${esc(s.studyInstanceUID)}</span> <span class="muted">${esc(s.harvestedAt)}</span>: ${s.pictures
            .map((p) => `<a class="picture" href="${esc(p.url)}" target="_blank" rel="noopener">lesion ${p.id} (${p.score.toFixed(2)})</a>`)
            .join(', ')}</li>`,
        )
        .join('')}</ul>`
    : '<p class="muted">no harvested lesion among the newest studies</p>';
  return `<h2>Dataset runs</h2>${runs}<h2>Harvested lesions (newest ${HARVEST_STUDIES_SHOWN} studies, pictures for spot checks)</h2>${studies}${
    d.unreadable ? `<p class="muted">${d.unreadable} unreadable record(s)</p>` : ''
  }`;
}

export function renderHarvest(d: HarvestPageData): string {
  return page(
    'lens-pacs: harvest',
    'harvest',
    `<h1>lens-pacs: harvest</h1><h2>Harvest runs</h2>${runJobs(d.runs)}${
      d.dataset ? datasetSection(d.dataset) : `<p class="muted">${esc(d.datasetMissing ?? 'no harvest dataset')}</p>`
    }`,
  );
}
