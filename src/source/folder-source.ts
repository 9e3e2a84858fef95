/**
 * A study in a folder of DICOM files (`lens detect`): the folder is scanned once (headers only, src/dicom
 * load-folder.ts), and every answer comes from that scan; frames and the one dataset a report copies are read
 * from their files when asked for.
 */
import type { ReadFrame } from '../dicom/assemble-volume';
import type { InstanceHeader } from '../dicom/instance-header';
import { assertSomethingReadable, fileFrameReader, FolderError, readDatasetWithoutPixelData, scanDicomFolder, type FolderScan } from '../dicom/load-folder';
import type { SeriesInfo } from '../dicom/series';
import type { Dataset, SeriesMetadata, SeriesSummary, StudySource } from './study-source';

export class FolderStudySource implements StudySource {
  private scan?: Promise<FolderScan>;

  constructor(readonly dir: string) {}

  get description(): string {
    return `folder ${this.dir}`;
  }

  /** The scan of the folder (made on first use): its series and the files that are not DICOM instances. */
  scanned(): Promise<FolderScan> {
    return (this.scan ??= scanDicomFolder(this.dir));
  }

  /** The studies in the folder; throws FolderError, naming unreadable files, when it holds no DICOM instance. */
  async studies(): Promise<string[]> {
    const scan = await this.scanned();
    assertSomethingReadable(scan, this.dir);
    return [...new Set(scan.series.map((s) => s.studyInstanceUID))];
  }

  async listSeries(studyInstanceUID: string): Promise<SeriesSummary[]> {
    return (await this.studySeries(studyInstanceUID)).map((s) => ({
      seriesInstanceUID: s.seriesInstanceUID,
      modality: s.modality || undefined,
      seriesDescription: s.seriesDescription,
      numberOfInstances: s.instances.length,
    }));
  }

  async seriesMetadata(studyInstanceUID: string, seriesInstanceUID: string): Promise<SeriesMetadata> {
    const series = await this.findSeries(studyInstanceUID, seriesInstanceUID);
    // A file of this series that could not be read is in series.excluded (the volume names it); files that say
    // nothing of their series are in scanned().unreadable.
    return { series, unreadable: [], dataset: (sop) => readDatasetWithoutPixelData(fileOf(series, sop)) };
  }

  async instanceMetadata(studyInstanceUID: string, seriesInstanceUID: string, sopInstanceUID: string): Promise<Dataset> {
    return readDatasetWithoutPixelData(fileOf(await this.findSeries(studyInstanceUID, seriesInstanceUID), sopInstanceUID));
  }

  frameReader(_studyInstanceUID: string, _seriesInstanceUID: string, instances: InstanceHeader[]): ReadFrame {
    return fileFrameReader({ instances });
  }

  private async studySeries(studyInstanceUID: string): Promise<SeriesInfo[]> {
    return (await this.scanned()).series.filter((s) => s.studyInstanceUID === studyInstanceUID);
  }

  private async findSeries(studyInstanceUID: string, seriesInstanceUID: string): Promise<SeriesInfo> {
    const s = (await this.studySeries(studyInstanceUID)).find((x) => x.seriesInstanceUID === seriesInstanceUID);
    if (!s) throw new FolderError(`${this.dir}: no series ${seriesInstanceUID} of study ${studyInstanceUID}`);
    return s;
  }
}

function fileOf(series: SeriesInfo, sop: string): string {
  const file = series.instances.find((i) => i.sopInstanceUID === sop)?.source;
  if (!file) throw new FolderError(`instance ${sop} is not in series ${series.seriesInstanceUID}`);
  return file;
}
