/** DICOM output of lens-pacs: TID 1500 SR and BINARY SEG from findings, written to files or stored in the PACS. */
export { buildImagingMeasurementReport, lesionLabel, lesionSummary, srSeriesDescription, toleratedComment } from './imaging-measurement-report';
export { buildSegmentation, segSeriesDescription, maskSource } from './segmentation-report';
export { buildReportObjects, writeReportFiles, writeReportObjects, type ReportObject } from './report-objects';
export { storeAndVerify, findStoredReport, ReportVerificationError, type StoreAndVerifyResult, type StoredReportFound } from './store';
export type { ReportInput, LesionMaskInput } from './inputs';
export { deriveUid, reportUids } from './uid';
