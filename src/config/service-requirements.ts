/**
 * What `lens serve` needs beyond a well-formed configuration, checked before anything listens: at least one event
 * source that can deliver studies, and authentication whenever the HTTP server is reachable beyond loopback.
 * Other commands (detect, eval, harvest) load the same configuration without these requirements.
 */
import net from 'node:net';
import { ConfigError } from './load';
import type { LensConfig } from './schema';

export interface EventSourceStatus {
  name: 'change feed' | 'webhook' | 'DICOMweb poll' | 'DICOM C-STORE';
  /** The key that switches it on. */
  key: string;
  enabled: boolean;
  /** Enabled and given what it needs. */
  works: boolean;
  /** Why it cannot work (only when enabled and not working, or off). */
  why?: string;
}

export function eventSources(c: LensConfig): EventSourceStatus[] {
  const l = c.listener;
  return [
    {
      name: 'change feed', key: 'listener.changeFeed.enabled', enabled: l.changeFeed.enabled, works: l.changeFeed.enabled && !!c.orthanc,
      why: !l.changeFeed.enabled ? 'off' : c.orthanc ? undefined : 'needs orthanc.url (Orthanc REST root, e.g. http://127.0.0.1:8042)',
    },
    {
      name: 'webhook', key: 'listener.webhook.enabled', enabled: l.webhook.enabled, works: l.webhook.enabled && !!l.webhook.secret,
      why: !l.webhook.enabled ? 'off' : l.webhook.secret ? undefined : 'needs listener.webhook.secret (the LensPush Secret of orthanc/*.json)',
    },
    {
      name: 'DICOMweb poll', key: 'listener.dicomwebPoll.enabled', enabled: l.dicomwebPoll.enabled, works: l.dicomwebPoll.enabled,
      why: l.dicomwebPoll.enabled ? undefined : 'off',
    },
    // The service's own C-STORE SCP (src/dimse): it receives only from the AE titles it allows.
    {
      name: 'DICOM C-STORE', key: 'dimse.enabled', enabled: c.dimse.enabled, works: c.dimse.enabled && c.dimse.allowedCallingAeTitles.length > 0,
      why: !c.dimse.enabled ? 'off' : c.dimse.allowedCallingAeTitles.length ? undefined : 'needs dimse.allowedCallingAeTitles (the AE titles that send)',
    },
  ];
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`; any other name may resolve beyond this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  if (net.isIPv4(v4)) return v4.startsWith('127.');
  return net.isIPv6(h) && (h === '::1' || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(h));
}

/** Every reason the service cannot be started with this configuration (empty: it can). */
export function serviceConfigProblems(c: LensConfig): string[] {
  const problems: string[] = [];
  const sources = eventSources(c);
  if (!sources.some((s) => s.works))
    problems.push(
      `no event source can deliver studies, so nothing would ever be analysed: ${sources.map((s) => `${s.name} (${s.key}): ${s.why}`).join('; ')}`,
    );
  if (!isLoopbackHost(c.server.host) && !c.server.apiToken)
    problems.push(
      `server.host ${c.server.host} is not a loopback address: set server.apiToken (LENS__SERVER__APITOKEN, e.g. openssl rand -hex 16) so that the API and the dashboard require it, or listen on 127.0.0.1`,
    );
  return problems;
}

export function assertServiceConfig(c: LensConfig): void {
  const problems = serviceConfigProblems(c);
  if (problems.length === 1) throw new ConfigError(problems[0]);
  if (problems.length) throw new ConfigError(problems.map((p) => `\n  - ${p}`).join(''));
}
