/** The Patient and General Study modules of a derived object are copied from its source image. */
import { assertUid } from './uid';
import { DicomValueError, fitText, valueProblem, vrOf } from '../dicom/vr';

/**
 * Identify the patient and the study: copied unchanged (the PACS files the object with the study by them), so an
 * invalid one refuses the object rather than being altered. Messages never hold the value (patient data).
 */
const IDENTITY = ['PatientName', 'PatientID', 'IssuerOfPatientID', 'StudyID', 'AccessionNumber'];
/** Type 2 attributes: present, possibly empty; an invalid source value is written empty (ACR-NEMA dates converted). */
const REQUIRED_EMPTY_OK = ['PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName'];
/** Type 3: an invalid source value is left out. */
const OPTIONAL = ['PatientAge', 'PatientSize', 'PatientWeight', 'PatientIdentityRemoved', 'DeidentificationMethod'];
/** Type 2 identity attributes. */
const IDENTITY_REQUIRED = new Set(['PatientName', 'PatientID', 'StudyID', 'AccessionNumber']);

export function patientStudyModules(source: Record<string, any>): Record<string, any> {
  if (!source || typeof source !== 'object') throw new Error('source dataset: a naturalized dataset of a source image is required');
  const out: Record<string, any> = { StudyInstanceUID: assertUid(source.StudyInstanceUID, 'source dataset StudyInstanceUID') };
  const present = (k: string) => source[k] !== undefined && source[k] !== null && source[k] !== '';
  const problem = (k: string) => valueProblem(vrOf(k) ?? '', source[k]);
  for (const k of IDENTITY) {
    if (!present(k)) {
      if (IDENTITY_REQUIRED.has(k)) out[k] = '';
      continue;
    }
    const p = problem(k);
    if (p) throw new DicomValueError(`source image ${k} (${vrOf(k)}) ${p}; it identifies the study and is copied unchanged, so the report would be invalid`);
    out[k] = source[k];
  }
  for (const k of REQUIRED_EMPTY_OK) {
    const v = present(k) ? fromAcrNema(vrOf(k), source[k]) : '';
    out[k] = valueProblem(vrOf(k) ?? '', v) ? '' : v;
  }
  for (const k of OPTIONAL) if (present(k) && !problem(k)) out[k] = source[k];
  // Free text for the reader: shortened rather than lost.
  if (typeof source.StudyDescription === 'string' && source.StudyDescription !== '') out.StudyDescription = fitText('LO', source.StudyDescription);
  return out;
}

/** Dates and times in the ACR-NEMA forms older files still carry ("1993.04.30", "11:27:24"), as DA and TM. */
function fromAcrNema(vr: string | undefined, v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (vr === 'DA' && /^\d{4}\.\d{2}\.\d{2}$/.test(v)) return v.replace(/\./g, '');
  if (vr === 'TM' && /^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$/.test(v)) return v.replace(/:/g, '');
  return v;
}
