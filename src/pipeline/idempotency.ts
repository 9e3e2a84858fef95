/**
 * What an analysis covered, as one key: the study, the chosen series, the exact set of its instances (count and a
 * digest of their SOP Instance UIDs) and the model version. The same key means the same work: an event whose key
 * matches a succeeded analysis is skipped; any change of the CT (instances added to the series, another series
 * preferred, a new model) gives a new key and the study is analysed again.
 */
import { createHash } from 'node:crypto';

/** The instances of the analysed series: how many, and a digest of their (sorted) SOP Instance UIDs. */
export interface InstanceSet {
  count: number;
  digest: string;
}

export function instanceSet(sopInstanceUIDs: readonly string[]): InstanceSet {
  const unique = [...new Set(sopInstanceUIDs)].sort();
  if (unique.length === 0) throw new Error('idempotency key: the analysed series has no instances');
  // 64 bits: a collision between two instance sets of one series is not a practical concern.
  const digest = createHash('sha256').update(unique.join('\n')).digest('hex').slice(0, 16);
  return { count: unique.length, digest };
}

export function idempotencyKey(studyInstanceUID: string, seriesInstanceUID: string, instances: InstanceSet, modelVersion: string): string {
  for (const [name, v] of [['study', studyInstanceUID], ['series', seriesInstanceUID], ['model version', modelVersion], ['instance digest', instances.digest]] as const)
    if (!v || v.includes('|')) throw new Error(`idempotency key: invalid ${name} '${v}'`);
  if (!Number.isInteger(instances.count) || instances.count < 1) throw new Error(`idempotency key: invalid instance count ${instances.count}`);
  return `${studyInstanceUID}|${seriesInstanceUID}|${instances.count}:${instances.digest}|${modelVersion}`;
}

/** The parts of a key (undefined for a key of the earlier form study|series|model, which named no instances). */
export function parseIdempotencyKey(key: string): { study: string; series: string; instances: InstanceSet; modelVersion: string } | undefined {
  const parts = key.split('|');
  if (parts.length !== 4) return undefined;
  const m = /^(\d+):([0-9a-f]+)$/.exec(parts[2]);
  if (!m) return undefined;
  return { study: parts[0], series: parts[1], instances: { count: Number(m[1]), digest: m[2] }, modelVersion: parts[3] };
}

/**
 * Why a study is analysed again, from the key of its previous successful analysis and the new one (undefined:
 * the keys are equal, nothing to analyse).
 */
export function reanalysisReason(previousKey: string | undefined, key: string): string | undefined {
  if (previousKey === key) return undefined;
  const now = parseIdempotencyKey(key);
  const before = previousKey ? parseIdempotencyKey(previousKey) : undefined;
  if (!now) throw new Error(`idempotency key: malformed '${key}'`);
  if (!before) {
    const series = previousKey?.split('|')[1];
    return series === now.series
      ? `series ${now.series} analysed before without a record of its instances; now ${now.instances.count} instances`
      : `series ${now.series} is now preferred over series ${series ?? '(unknown)'}`;
  }
  if (before.series !== now.series) return `series ${now.series} (${now.instances.count} instances) is now preferred over series ${before.series} (${before.instances.count} instances)`;
  if (before.instances.digest !== now.instances.digest) {
    const d = now.instances.count - before.instances.count;
    const change = d > 0 ? `${d} instances added` : d < 0 ? `${-d} instances removed` : 'instances replaced';
    return `series ${now.series} changed: ${change} (${before.instances.count} -> ${now.instances.count})`;
  }
  if (before.modelVersion !== now.modelVersion) return `model changed: ${before.modelVersion} -> ${now.modelVersion}`;
  return `study ${now.study} analysed before under another key`;
}
