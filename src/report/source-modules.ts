/** The Patient and General Study modules of a derived object are copied from its source image. */
import { assertUid } from './uid';

/** Type 2 attributes: present, possibly empty. */
const REQUIRED_EMPTY_OK = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber'];
const OPTIONAL = [
  'IssuerOfPatientID',
  'PatientAge',
  'PatientSize',
  'PatientWeight',
  'PatientIdentityRemoved',
  'DeidentificationMethod',
  'StudyDescription',
];

export function patientStudyModules(source: Record<string, any>): Record<string, any> {
  if (!source || typeof source !== 'object') throw new Error('source dataset: a naturalized dataset of a source image is required');
  const out: Record<string, any> = { StudyInstanceUID: assertUid(source.StudyInstanceUID, 'source dataset StudyInstanceUID') };
  for (const k of REQUIRED_EMPTY_OK) out[k] = source[k] ?? '';
  for (const k of OPTIONAL) if (source[k] !== undefined && source[k] !== null && source[k] !== '') out[k] = source[k];
  return out;
}
