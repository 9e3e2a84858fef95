/** Text rendering of an evaluation for the terminal. */
import type { EvalResult } from './froc';

export function formatEvalTable(r: EvalResult): string {
  const lines: string[] = [];
  lines.push(`volumes ${r.volumes}, lesions ${r.lesions}, predictions ${r.predictions}`);
  lines.push('FPs/volume   ' + r.sensitivityAtFp.map((s) => String(s.fpPerVolume).padStart(6)).join('') + '    mean');
  lines.push('sensitivity  ' + r.sensitivityAtFp.map((s) => s.sensitivity.toFixed(3).padStart(6)).join('') + r.averageSensitivity.toFixed(3).padStart(8));
  lines.push(`per type at ${r.perType.atFpPerVolume} FPs/volume:`);
  for (const [type, t] of Object.entries(r.perType.types).sort()) lines.push(`  ${type.padEnd(14)} ${t.sensitivity.toFixed(3)}  (${t.found}/${t.lesions})`);
  if (r.unmatchedFindings.length) lines.push(`findings without truth (ignored): ${r.unmatchedFindings.join(', ')}`);
  return lines.join('\n');
}
