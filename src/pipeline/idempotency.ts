/** A study is analysed once per (study, selected series, model version): the same key means the same work. */
export function idempotencyKey(studyInstanceUID: string, seriesInstanceUID: string, modelVersion: string): string {
  for (const [name, v] of [['study', studyInstanceUID], ['series', seriesInstanceUID], ['model version', modelVersion]] as const)
    if (!v || v.includes('|')) throw new Error(`idempotency key: invalid ${name} '${v}'`);
  return `${studyInstanceUID}|${seriesInstanceUID}|${modelVersion}`;
}
