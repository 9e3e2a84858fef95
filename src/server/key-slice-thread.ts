/**
 * The worker thread of the dashboard's key-slice pictures (key-slice-source.ts): its own DICOMweb client to the
 * PACS, one picture per message, answered with the PNG bytes (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PacsConfig } from '../pacs/dicomweb';
import { DicomWebClient } from '../pacs/dicomweb';
import { DicomWebStudySource } from '../source/dicomweb-source';
import { renderKeySlice, type KeySliceRequest } from './key-slice-source';

const source = new DicomWebStudySource(new DicomWebClient((workerData as { pacs: PacsConfig }).pacs));

parentPort!.on('message', async ({ id, request }: { id: number; request: KeySliceRequest }) => {
  try {
    const png = new Uint8Array(await renderKeySlice(source, request));
    parentPort!.postMessage({ id, png }, [png.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id, error: (e as Error).message });
  }
});
