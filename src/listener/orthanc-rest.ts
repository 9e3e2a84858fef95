/** Minimal access to Orthanc's own REST API (the change feed and study lookup), with the configured auth. */
import type { AuthConfig } from '../config/schema';
import { authHeaders } from '../pacs/dicomweb';
import { LensError } from '../errors';
import { isTransientStatus } from '../pacs/retry';

export interface OrthancRestConfig {
  url: string;
  auth: AuthConfig;
}

/** Without a status, Orthanc could not be reached; with one, the PACS's transient policy decides. */
export class OrthancRestError extends LensError {
  constructor(message: string, readonly status?: number) {
    super(message, status === undefined ? 'pacs-unreachable' : `pacs-http-${status}`, status === undefined || isTransientStatus(status));
  }
}

export async function orthancGet<T>(cfg: OrthancRestConfig, path: string, timeoutMs = 10000): Promise<T> {
  const url = `${cfg.url.replace(/\/$/, '')}${path}`;
  let r: Response;
  try {
    r = await fetch(url, { headers: authHeaders(cfg.auth), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new OrthancRestError(`Orthanc unreachable at ${cfg.url}: ${(e as Error).message}`);
  }
  if (!r.ok) throw new OrthancRestError(`GET ${path} -> HTTP ${r.status}`, r.status);
  return (await r.json()) as T;
}

async function orthancCall(cfg: OrthancRestConfig, method: 'POST' | 'DELETE', path: string, body?: string, timeoutMs = 10000): Promise<Response> {
  const url = `${cfg.url.replace(/\/$/, '')}${path}`;
  let r: Response;
  try {
    r = await fetch(url, { method, body, headers: authHeaders(cfg.auth), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new OrthancRestError(`Orthanc unreachable at ${cfg.url}: ${(e as Error).message}`);
  }
  if (!r.ok) throw new OrthancRestError(`${method} ${path} -> HTTP ${r.status}`, r.status);
  return r;
}

/** Orthanc's ID of a series (POST /tools/lookup), or undefined when Orthanc does not hold it. */
export async function orthancSeriesId(cfg: OrthancRestConfig, seriesInstanceUID: string): Promise<string | undefined> {
  const found = (await (await orthancCall(cfg, 'POST', '/tools/lookup', seriesInstanceUID)).json()) as { Type?: string; ID?: string }[];
  return found.find((f) => f.Type === 'Series')?.ID;
}

/** Deletes a series from Orthanc (DELETE /series/{id}); false when Orthanc does not hold it. */
export async function orthancDeleteSeries(cfg: OrthancRestConfig, seriesInstanceUID: string): Promise<boolean> {
  const id = await orthancSeriesId(cfg, seriesInstanceUID);
  if (!id) return false;
  await orthancCall(cfg, 'DELETE', `/series/${id}`);
  return true;
}
