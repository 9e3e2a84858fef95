/**
 * Orthanc as lens-pacs expects it (demo and tests): orthanc/lens.json over the base configuration, i.e. a short
 * StableAge, the push script plugin/lens-push.lua and the service's webhook URL and secret for it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { OrthancOptions } from '../pacs/orthanc-process';

const REPO = path.resolve(__dirname, '../..');
export const LENS_ORTHANC_CONFIG = path.join(REPO, 'orthanc/lens.json');

export interface LensOrthancOptions {
  /** The service's base URL, e.g. http://127.0.0.1:8700 */
  serviceUrl: string;
  secret: string;
  /** Seconds; overrides orthanc/lens.json. */
  stableAge?: number;
  /** false: no push script (the change feed alone must find the studies). */
  push?: boolean;
}

export function lensOrthancOptions(o: LensOrthancOptions): OrthancOptions {
  const raw = fs.readFileSync(LENS_ORTHANC_CONFIG, 'utf8').replace(/\$\{SERVICE_URL\}/g, o.serviceUrl).replace(/\$\{SECRET\}/g, o.secret);
  const cfg = JSON.parse(raw) as { StableAge: number; LuaScripts: string[]; LensPush: Record<string, unknown>; '//'?: string };
  delete cfg['//'];
  const push = o.push ?? true;
  return {
    stableAge: o.stableAge ?? cfg.StableAge,
    luaScripts: push ? cfg.LuaScripts.map((p) => path.resolve(REPO, p)) : [],
    extraConfig: { LensPush: { ...cfg.LensPush, Enabled: push } },
  };
}
