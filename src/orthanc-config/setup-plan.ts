/**
 * What `lens orthanc-setup` changes in an existing Orthanc's configuration so that it pushes to lens-pacs and only
 * the named scanners may store: pure (texts in, texts out), so every rule is unit-tested without Orthanc.
 *
 * Orthanc started on a folder (Debian's /etc/orthanc) reads every .json in it and refuses to start when a top-level
 * key is defined in two files; Debian's orthanc.json defines LuaScripts, DicomModalities, DicomAlwaysAllowStore and
 * DicomCheckModalityHost already. So a key that another file defines is changed in that file (in place, comments
 * kept) and only keys defined nowhere go into the output file. The orthancteam image merges files (a later one
 * overrides) and is served by the same rule.
 */
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { OrthancConfigError, parseOrthancJson, setTopLevel } from './commented-json';

export interface Scanner {
  /** Entry name in DicomModalities. */
  name: string;
  aet: string;
  host: string;
  port: number;
}

/** `[NAME=]AET@HOST[:PORT]` (port 104 when absent), e.g. `CT1@10.1.2.31:104` or `room-2=CT2@10.1.2.32`. */
export function parseScanner(spec: string): Scanner {
  const m = /^(?:([\w.-]+)=)?([^@=\s]{1,16})@([\w.:-]+?)(?::(\d{1,5}))?$/.exec(spec);
  const port = m?.[4] === undefined ? 104 : Number(m[4]);
  if (!m || port < 1 || port > 65535 || /\\/.test(m[2]))
    throw new OrthancConfigError(`--scanner ${spec}: expected [NAME=]AET@HOST[:PORT], e.g. CT1@10.1.2.31:104 (an AE title of at most 16 characters)`);
  return { name: m[1] ?? `lens-${m[2].toLowerCase()}`, aet: m[2], host: m[3], port };
}

export interface SetupRequest {
  /** The service's webhook, as Orthanc reaches it. */
  pushUrl: string;
  /** listener.webhook.secret, or a `${VAR}` reference that Orthanc replaces from its environment. */
  secret: string;
  /** lens-push.lua as Orthanc sees it. */
  pluginPath: string;
  /** Senders allowed to C-STORE; none: the store rules are left as they are. */
  scanners: Scanner[];
  /** Seconds; absent: Orthanc's own (or the file's) StableAge is kept. */
  stableAge?: number;
}

export interface ConfigFile {
  path: string;
  /** Absent: the file does not exist yet. */
  text?: string;
}

export interface SetupPlan {
  /** Files to write, with their new text and the keys changed in each. */
  writes: { path: string; text: string; keys: string[]; created: boolean }[];
  /** Things the administrator should know (no action taken). */
  notes: string[];
}

const OUT_HEADER = (file: string) =>
  `{\n  "//": ${JSON.stringify(`Written by lens orthanc-setup: the push to lens-pacs (plugin/lens-push.lua) and the C-STORE senders. Run it again rather than editing ${path.basename(file)}.`)}\n}\n`;

const DICOMWEB_DEFAULT = { Enable: true, Root: '/dicom-web/', EnableWado: true, WadoRoot: '/wado', StudiesMetadata: 'Full', SeriesMetadata: 'Full' };

/**
 * The changes for `out` (created or updated) given Orthanc's other configuration files. Keys are placed where
 * Orthanc allows them (see the header); a value already right is not written again, so a second run changes nothing.
 */
export function planOrthancSetup(req: SetupRequest, out: ConfigFile, others: ConfigFile[]): SetupPlan {
  const files = [...others.filter((f) => f.text !== undefined), { path: out.path, text: out.text ?? OUT_HEADER(out.path) }].map((f) => ({
    path: f.path,
    text: f.text!,
    json: parseOrthancJson(f.text!, f.path),
    keys: [] as string[],
  }));
  const outFile = files[files.length - 1];
  const notes: string[] = [];
  /** The file that holds a key now (the last one: the orthancteam image lets a later file override). */
  const holder = (key: string) => [...files].reverse().find((f) => key in f.json);
  const current = (key: string) => holder(key)?.json[key];
  const set = (key: string, value: unknown) => {
    const f = holder(key) ?? outFile;
    if (isDeepStrictEqual(f.json[key], value)) return;
    f.text = setTopLevel(f.text, key, value, f.path);
    f.json[key] = value;
    f.keys.push(key);
  };

  const push = (current('LensPush') ?? {}) as Record<string, unknown>;
  set('LensPush', { TimeoutSeconds: 5, RetryMaxSeconds: 60, MaxQueue: 1000, ...push, Enabled: true, Url: req.pushUrl, Secret: req.secret });

  // One copy of the push script: an older path of it (another installation, another --plugin-dir) would push twice.
  const scripts = toStringList(current('LuaScripts'), 'LuaScripts');
  const kept = scripts.filter((p) => p === req.pluginPath || path.basename(p) !== path.basename(req.pluginPath));
  for (const p of scripts) if (!kept.includes(p)) notes.push(`LuaScripts: ${p} replaced by ${req.pluginPath} (one push script)`);
  set('LuaScripts', kept.includes(req.pluginPath) ? kept : [...kept, req.pluginPath]);
  // Orthanc >= 1.11.1 retries pending pushes on this heartbeat; 1.10 ignores the key (docs/pacs.md).
  if (current('LuaHeartBeatPeriod') === undefined) set('LuaHeartBeatPeriod', 2);
  if (req.stableAge !== undefined) set('StableAge', req.stableAge);

  const dicomWeb = current('DicomWeb') as Record<string, unknown> | undefined;
  if (dicomWeb === undefined) set('DicomWeb', DICOMWEB_DEFAULT);
  else if (dicomWeb.Enable === false) set('DicomWeb', { ...dicomWeb, Enable: true });

  if (req.scanners.length) {
    const modalities = { ...((current('DicomModalities') ?? {}) as Record<string, unknown>) };
    for (const s of req.scanners)
      modalities[s.name] = { AET: s.aet, Host: s.host, Port: s.port, AllowEcho: true, AllowStore: true, AllowFind: false, AllowMove: false, AllowGet: false };
    set('DicomModalities', modalities);
    set('DicomAlwaysAllowStore', false);
    set('DicomCheckModalityHost', true);
    set('DicomCheckCalledAet', true);
    const others = Object.keys(modalities).filter((n) => !req.scanners.some((s) => s.name === n));
    if (others.length) notes.push(`DicomModalities also lists ${others.join(', ')}: these may still store (their AllowStore is true unless set otherwise)`);
  } else if (current('DicomAlwaysAllowStore') !== false) {
    notes.push('any DICOM peer that reaches Orthanc may store into it (DicomAlwaysAllowStore is not false): list your scanners with --scanner AET@host:port');
  }

  return {
    writes: files.filter((f) => f.keys.length || (f === outFile && out.text === undefined)).map((f) => ({ path: f.path, text: f.text, keys: f.keys, created: f === outFile && out.text === undefined })),
    notes,
  };
}

function toStringList(v: unknown, key: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new OrthancConfigError(`${key} in Orthanc's configuration is not a list of paths`);
  return v as string[];
}
