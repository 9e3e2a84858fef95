/**
 * A study's page: what it is (date, description, accession, the series analysed), its current (or chosen) job
 * with the findings and their key-slice pictures (only here, loaded lazily by the browser), the journey as a
 * timeline, every job of the study, and the re-run button.
 */
import type { JourneyEvent, StudyAnalysisJob, StudyInfo } from '../../jobs/types';
import { duration, esc, notice, page, stateBadge, studyDate, time } from './layout';
import { studyUrl } from './studies';
import { renderTimeline } from './timeline';

export interface StudyPageData {
  studyInstanceUID: string;
  /** Every job of the study, newest first. */
  jobs: StudyAnalysisJob[];
  /** The job shown (the study's current one unless the page asked for another). */
  job: StudyAnalysisJob;
  journey: JourneyEvent[];
  /** What an action just did (after its redirect). */
  done?: string;
}

const isOwnOutputSkip = (j: StudyAnalysisJob) => j.state === 'skipped' && j.reason === 'own-output';

/** The job a study's page shows first: its latest that is not a skip for our own outputs (as the study list). */
export function currentJob(jobs: StudyAnalysisJob[]): StudyAnalysisJob | undefined {
  return jobs.find((j) => !isOwnOutputSkip(j)) ?? jobs[0];
}

/** The study information the latest job that recorded it has. */
export const studyInfo = (jobs: StudyAnalysisJob[]): StudyInfo | undefined => jobs.find((j) => j.study)?.study;

export const lesionPictureUrl = (jobId: number, lesionId: number) => `/dashboard/jobs/${jobId}/lesions/${lesionId}.png`;

function findings(job: StudyAnalysisJob): string {
  if (job.state !== 'succeeded') return `<p class="muted">no findings: the job is ${esc(job.state)}</p>`;
  if (!job.lesions?.length)
    return `<p class="muted">${job.lesionCount ? `${job.lesionCount} lesions in the stored SR (their pictures were not kept)` : 'no lesion found'}</p>`;
  const rows = job.lesions
    .map((l) => `<tr><td>#${l.id}</td><td>${esc(l.type)}</td><td class="num">${l.score.toFixed(2)}</td><td class="num">${l.longAxisMm.toFixed(1)} × ${l.shortAxisMm.toFixed(1)} mm</td></tr>`)
    .join('');
  // The browser asks for a picture only when it scrolls into view (each is rendered from the PACS on request).
  const figures = job.lesions
    .map(
      (l) => `<figure class="lesion" data-lesion="${l.id}"><img loading="lazy" width="200" height="200" alt="lesion ${l.id} key slice" src="${lesionPictureUrl(job.id, l.id)}">
<figcaption>#${l.id} ${esc(l.type)} · score ${l.score.toFixed(2)}<br>${l.longAxisMm.toFixed(1)} × ${l.shortAxisMm.toFixed(1)} mm</figcaption></figure>`,
    )
    .join('');
  return `<table class="findings"><thead><tr><th>lesion</th><th>type</th><th class="num">score</th><th class="num">long × short axis</th></tr></thead><tbody>${rows}</tbody></table>
<h3>Key slices</h3><div class="lesions">${figures}</div>`;
}

function jobSummary(job: StudyAnalysisJob): string {
  const t = job.timingsMs ?? {};
  const took = t.total !== undefined ? ` · analysis ${esc(duration(t.total))}` : '';
  const toStored = t.eventToStored !== undefined ? ` · event to stored ${esc(duration(t.eventToStored))}` : '';
  const why = job.state !== 'succeeded' && (job.reason || job.lastError) ? `<p><b>Reason:</b> ${esc(job.reason ?? '')}${job.lastError ? `: ${esc(job.lastError)}` : ''}</p>` : '';
  const o = job.outputs;
  const outputs = o?.srSopInstanceUID
    ? `<p class="muted">SR <span class="uid">${esc(o.srSopInstanceUID)}</span> · SEG <span class="uid">${esc(o.segSopInstanceUID ?? '')}</span></p>`
    : '';
  return `<h2>Job #${job.id} ${stateBadge(job.state)}</h2>
<p>received ${esc(time(job.receivedAt))} by ${esc(job.source)}${job.finishedAt ? ` · finished ${esc(time(job.finishedAt))}` : ''} · attempts ${job.attempts}/${job.maxAttempts}${job.modelVersion ? ` · model ${esc(job.modelVersion)}` : ''}${took}${toStored}</p>${why}${outputs}`;
}

function jobList(d: StudyPageData): string {
  const rows = d.jobs
    .map(
      (j) => `<tr class="job${j.id === d.job.id ? ' shown' : ''}" data-job="${j.id}"><td><a href="${esc(studyUrl(d.studyInstanceUID, j.id))}">#${j.id}</a></td><td>${stateBadge(j.state)}</td>
<td>${esc(j.reason ?? '')}${isOwnOutputSkip(j) ? ' <span class="muted">(re-announced by our own SR/SEG)</span>' : ''}</td><td>${esc(j.source)}</td><td>${esc(time(j.receivedAt))}</td></tr>`,
    )
    .join('\n');
  return `<h2>Jobs of this study</h2><table class="jobs"><thead><tr><th>job</th><th>state</th><th>reason</th><th>source</th><th>received</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderStudyPage(d: StudyPageData): string {
  const s = studyInfo(d.jobs);
  const seriesName = s ? [s.seriesNumber !== undefined ? `#${s.seriesNumber}` : '', s.seriesDescription ?? ''].filter(Boolean).join(' ') : '';
  const series = s ? `${esc(seriesName)} <span class="uid">${esc(s.seriesInstanceUID)}</span> (${s.instances} images)` : '';
  const facts: [string, string][] = [
    ['Study date', esc(studyDate(s?.studyDate))],
    ['Modality', esc(s?.modality ?? '')],
    ['Accession number', esc(s?.accessionNumber ?? '')],
    ['Series analysed', series],
    ['Study UID', `<span class="uid">${esc(d.studyInstanceUID)}</span>`],
  ];
  const rerun = `<form method="post" action="${esc(studyUrl(d.studyInstanceUID))}/rerun" class="inline"><button type="submit" class="rerun">Re-run analysis</button></form>`;
  return page(
    `lens-pacs: ${s?.studyDescription ?? 'study'}`,
    'studies',
    `<p><a href="/dashboard">← all studies</a></p>${notice(d.done)}<h1>${esc(s?.studyDescription || 'Study')}</h1>
<table class="facts">${facts.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table><p>${rerun}</p>
${jobSummary(d.job)}${renderTimeline(d.journey)}<h2>Findings</h2>${findings(d.job)}${jobList(d)}`,
  );
}
