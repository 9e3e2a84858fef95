/**
 * The study list: one row per study (JobStore.listStudies folds the skips for our own outputs into their study),
 * with what the people who run the service recognise a study by (date, description, modality, accession number,
 * the series analysed), filtered by state, searched by accession number or UID, and paged on the server.
 */
import { JOB_STATES, type JobState, type StudyPage, type StudyQuery, type StudyRow } from '../../jobs/types';
import { queryString, RequestError } from '../validate';
import { esc, page, stateBadge, studyDate, time } from './layout';

export const DEFAULT_PER_PAGE = 25;
export const MAX_PER_PAGE = 200;
/** Pages beyond this are refused: nobody pages that far, and an OFFSET that large only costs the database. */
export const MAX_PAGE = 10_000;

/** What the list shows, as the request asked for it (the form and the paging links carry it on). */
export interface StudyListRequest {
  state?: JobState;
  search?: string;
  page: number;
  perPage: number;
}

const positive = (raw: string | undefined, name: string, max: number, fallback: number): number => {
  if (raw === undefined || raw === '') return fallback;
  const n = /^[1-9][0-9]{0,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= max)) throw new RequestError(`${name} must be an integer 1..${max}`);
  return n;
};

/** The list's query parameters (state, q, page, per), checked; RequestError (400) for anything else. */
export function parseStudyListRequest(query: Record<string, unknown>): StudyListRequest {
  const state = queryString(query, 'state') || undefined;
  if (state && !JOB_STATES.includes(state as JobState)) throw new RequestError(`state must be one of ${JOB_STATES.join(', ')}`);
  const search = queryString(query, 'q')?.trim() || undefined;
  // An accession number is at most 16 characters, a UID 64: a longer term cannot match either.
  if (search && (search.length > 64 || /[\u0000-\u001f]/.test(search))) throw new RequestError('q must be an accession number or a (partial) UID, at most 64 characters');
  return {
    ...(state ? { state: state as JobState } : {}),
    ...(search ? { search } : {}),
    page: positive(queryString(query, 'page'), 'page', MAX_PAGE, 1),
    perPage: positive(queryString(query, 'per'), 'per', MAX_PER_PAGE, DEFAULT_PER_PAGE),
  };
}

export function toStudyQuery(r: StudyListRequest): StudyQuery {
  return { state: r.state, search: r.search, limit: r.perPage, offset: (r.page - 1) * r.perPage };
}

/** The list's URL for another page or filter (the parameters that differ from the defaults only). */
export function studyListUrl(r: StudyListRequest): string {
  const p = new URLSearchParams();
  if (r.state) p.set('state', r.state);
  if (r.search) p.set('q', r.search);
  if (r.page > 1) p.set('page', String(r.page));
  if (r.perPage !== DEFAULT_PER_PAGE) p.set('per', String(r.perPage));
  const s = p.toString();
  return `/dashboard${s ? `?${s}` : ''}`;
}

export const studyUrl = (uid: string, jobId?: number): string => `/dashboard/studies/${encodeURIComponent(uid)}${jobId ? `?job=${jobId}` : ''}`;

function seriesCell(r: StudyRow): string {
  const s = r.study;
  if (!s) return r.job.seriesInstanceUID ? `<span class="uid">${esc(r.job.seriesInstanceUID)}</span>` : '<span class="muted">not selected yet</span>';
  const name = [s.seriesNumber !== undefined ? `#${s.seriesNumber}` : '', s.seriesDescription ?? ''].filter(Boolean).join(' ');
  return `${esc(name || s.seriesInstanceUID)} <span class="muted">(${s.instances} images)</span>`;
}

function row(r: StudyRow): string {
  const j = r.job;
  const s = r.study;
  const folded = r.ownOutputEvents ? ` <span class="muted" title="re-announcements caused by our own SR/SEG">+${r.ownOutputEvents} own-output</span>` : '';
  const outcome = j.state === 'succeeded' ? `${j.lesionCount ?? 0} lesion${j.lesionCount === 1 ? '' : 's'}` : esc(j.reason ?? '');
  return `<tr class="study" data-study="${esc(r.studyInstanceUID)}" data-job="${j.id}">
<td class="date">${esc(studyDate(s?.studyDate))}</td><td class="description"><a href="${esc(studyUrl(r.studyInstanceUID))}">${esc(s?.studyDescription || '(no description)')}</a><br><span class="uid">${esc(r.studyInstanceUID)}</span></td>
<td>${esc(s?.modality ?? '')}</td><td class="accession">${esc(s?.accessionNumber ?? '')}</td><td>${seriesCell(r)}</td>
<td>${stateBadge(j.state)}</td><td>${outcome}</td><td>${time(j.finishedAt ?? j.receivedAt)}</td><td class="num">${r.jobs}${folded}</td></tr>`;
}

function filterForm(r: StudyListRequest): string {
  const options = ['', ...JOB_STATES]
    .map((s) => `<option value="${s}"${s === (r.state ?? '') ? ' selected' : ''}>${s || 'any state'}</option>`)
    .join('');
  return `<form method="get" action="/dashboard" class="filter"><label>State <select name="state" id="state">${options}</select></label>
<label>Accession number or UID <input name="q" id="q" value="${esc(r.search ?? '')}" maxlength="64"></label>
<button type="submit">Show</button>${r.state || r.search ? ' <a href="/dashboard">clear</a>' : ''}</form>`;
}

function pager(r: StudyListRequest, total: number, shown: number): string {
  const first = total === 0 ? 0 : (r.page - 1) * r.perPage + 1;
  const prev = r.page > 1 ? `<a rel="prev" href="${esc(studyListUrl({ ...r, page: r.page - 1 }))}">← previous</a>` : '';
  const next = (r.page - 1) * r.perPage + shown < total ? `<a rel="next" href="${esc(studyListUrl({ ...r, page: r.page + 1 }))}">next →</a>` : '';
  return `<p class="pager">Studies ${first}–${first + shown - (shown ? 1 : 0)} of ${total} ${prev} ${next}</p>`;
}

export function renderStudyList(r: StudyListRequest, p: StudyPage): string {
  const rows = p.studies.map(row).join('\n');
  return page(
    'lens-pacs: studies',
    'studies',
    `<h1>lens-pacs: studies</h1>${filterForm(r)}${pager(r, p.total, p.studies.length)}
<table class="studies"><thead><tr><th>study date</th><th>description / study UID</th><th>modality</th><th>accession</th><th>series analysed</th><th>state</th><th>outcome</th><th>last change</th><th class="num">jobs</th></tr></thead>
<tbody>${rows || '<tr><td colspan="9" class="muted">no study matches</td></tr>'}</tbody></table>`,
  );
}
