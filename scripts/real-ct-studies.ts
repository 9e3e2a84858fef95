/**
 * The real CT studies of ../shared/data/ct that the issue-10 scripts use, and the rule that two of them are for
 * validation only (never trained on, never a background in training, nothing tuned on them alone).
 */
import fs from 'node:fs';
import path from 'node:path';

export const VALIDATION_STUDIES = ['lung-dx-a0001', 'lidc-idri-0314'];

export const DEFAULT_DATA = path.resolve(__dirname, '../../shared/data/ct');

/** Every real study folder: the two validation studies, pancreas-ct-cb-001 and each background. */
export function realStudies(data: string): string[] {
  const bg = path.join(data, 'backgrounds');
  const backgrounds = fs.existsSync(bg) ? fs.readdirSync(bg).filter((d) => fs.statSync(path.join(bg, d)).isDirectory()).map((d) => path.join(bg, d)) : [];
  return [...VALIDATION_STUDIES.map((d) => path.join(data, d)), path.join(data, 'pancreas-ct-cb-001'), ...backgrounds.sort()].filter((d) => fs.existsSync(d));
}

export function isValidationStudy(dir: string): boolean {
  return VALIDATION_STUDIES.includes(path.basename(path.resolve(dir)));
}
