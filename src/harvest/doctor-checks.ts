/**
 * `lens doctor`'s checks of the harvest (src/cli/doctor.ts): the nightly schedule (a valid cron expression, a
 * window that ends before the next run starts and stays out of working hours) and the dataset folder (there or
 * creatable, writable). With harvest.enabled false, a problem is a warning: the service works without a harvest.
 */
import fs from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import type { Check } from '../cli/doctor';
import type { LensConfig } from '../config/schema';

/** Hours in which the PACS serves the day's reading (local time): a harvest window should not reach into them. */
export const WORKING_HOURS: readonly [number, number] = [8, 18];

export function harvestChecks(cfg: LensConfig): Check[] {
  return [scheduleCheck(cfg.harvest), outputCheck(cfg.harvest)];
}

export function scheduleCheck(h: Pick<LensConfig['harvest'], 'enabled' | 'schedule' | 'windowHours'>): Check {
  const name = 'harvest schedule';
  if (!cron.validate(h.schedule))
    return fail(h.enabled, name, `harvest.schedule "${h.schedule}" is not a valid cron expression`, 'a node-cron expression, e.g. "0 2 * * *" (02:00 every night)');
  const starts = dailyStarts(h.schedule);
  if (!starts) return { name, ok: true, note: h.enabled ? 'warn' : 'skip', detail: `"${h.schedule}": its window of ${h.windowHours} h could not be checked (ranges of minutes and hours only)` };
  const problems: string[] = [];
  const gap = smallestGapHours(starts);
  if (gap < h.windowHours) problems.push(`it starts every ${fmt(gap)} h but each window lasts ${h.windowHours} h: runs queue behind each other`);
  const busy = starts.filter((s) => overlapsWorkingHours(s, h.windowHours));
  if (busy.length) problems.push(`the window from ${clock(busy[0])} to ${clock((busy[0] + h.windowHours) % 24)} reaches into working hours (${WORKING_HOURS[0]}:00-${WORKING_HOURS[1]}:00)`);
  const detail = `"${h.schedule}", ${starts.length} run${starts.length === 1 ? '' : 's'} a day from ${clock(starts[0])}, window ${h.windowHours} h${h.enabled ? '' : ' (harvest.enabled false: not scheduled)'}`;
  if (problems.length) return { name, ok: true, note: 'warn', detail: `${detail}: ${problems.join('; ')}`, fix: 'set harvest.schedule and harvest.windowHours so that one night\'s window ends before the next run and before the working day' };
  return h.enabled ? { name, ok: true, detail } : { name, ok: true, note: 'skip', detail };
}

export function outputCheck(h: Pick<LensConfig['harvest'], 'enabled' | 'outDir'>): Check {
  const name = 'harvest output';
  const dir = path.resolve(h.outDir);
  let existing = dir;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  if (existing === dir && !fs.statSync(dir).isDirectory()) return fail(h.enabled, name, `${dir} is not a folder`, 'set harvest.outDir to a folder');
  try {
    fs.accessSync(existing, fs.constants.W_OK);
  } catch {
    return fail(h.enabled, name, `${existing} is not writable${existing === dir ? '' : ` (${dir} would be created in it)`}`, `make ${existing} writable for the service's user or set harvest.outDir`);
  }
  const records = existing === dir && fs.existsSync(path.join(dir, 'studies')) ? fs.readdirSync(path.join(dir, 'studies')).filter((f) => f.endsWith('.json')).length : 0;
  const detail = existing === dir ? `${dir} is writable (${records} study record${records === 1 ? '' : 's'})` : `${dir} will be created in ${existing} (writable)`;
  return { name, ok: true, detail, ...(h.enabled ? {} : { note: 'skip' as const }) };
}

function fail(enabled: boolean, name: string, detail: string, fix: string): Check {
  // The service works without a harvest: a disabled harvest's problem is only a warning.
  return enabled ? { name, ok: false, detail, fix } : { name, ok: true, note: 'warn', detail: `${detail} (harvest.enabled false)`, fix };
}

/**
 * The start times (hours after midnight, sorted) of a cron expression's runs in a day, from its minute and hour
 * fields (a seconds field first is dropped); undefined when a field is beyond numbers, ranges, steps and lists.
 */
export function dailyStarts(expr: string): number[] | undefined {
  const f = expr.trim().split(/\s+/);
  const [minute, hour] = f.length === 6 ? f.slice(1) : f;
  const mins = expand(minute, 0, 59);
  const hours = expand(hour, 0, 23);
  if (!mins || !hours) return undefined;
  return hours.flatMap((hh) => mins.map((m) => hh + m / 60)).sort((a, b) => a - b);
}

function expand(field: string, lo: number, hi: number): number[] | undefined {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (!(step > 0) || from < lo || to > hi) return undefined;
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return [...out];
}

function smallestGapHours(starts: number[]): number {
  if (starts.length === 1) return 24;
  let gap = 24 - starts[starts.length - 1] + starts[0];
  for (let i = 1; i < starts.length; i++) gap = Math.min(gap, starts[i] - starts[i - 1]);
  return gap;
}

function overlapsWorkingHours(start: number, hours: number): boolean {
  const [a, b] = WORKING_HOURS;
  // The window [start, start + hours) on a clock that wraps at 24, against [a, b) today and tomorrow.
  return [0, 24].some((day) => start < b + day && start + hours > a + day);
}

const fmt = (h: number) => String(+h.toFixed(2));
const clock = (h: number) => `${String(Math.floor(h)).padStart(2, '0')}:${String(Math.round((h % 1) * 60)).padStart(2, '0')}`;
