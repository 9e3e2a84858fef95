/**
 * SR templates (PS3.16), after highdicom's sr.templates: one class per template, named after it, validating its
 * arguments at construction. A template is a list of content items (`items`) that its parent includes.
 */
import { CodedConcept, codes } from '../codes';
import {
  CodeContentItem,
  ContainerContentItem,
  ContentItem,
  ImageContentItem,
  NumContentItem,
  ScoordContentItem,
  TextContentItem,
  UIDRefContentItem,
  type ImageReference,
} from './content-items';
import { assertUid } from '../uid';

abstract class Template {
  abstract readonly items: ContentItem[];
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) throw new Error(`${what} must be a non-empty string`);
  return value;
}

/** TID 1204 Language of Content Item and Descendants. */
export class LanguageOfContentItemAndDescendants extends Template {
  readonly items: ContentItem[];
  constructor(language: CodedConcept = codes.EnglishUS) {
    super();
    this.items = [new CodeContentItem(codes.LanguageOfContentItemAndDescendants, language, 'HAS CONCEPT MOD')];
  }
}

/** TID 1004 Device Observer Identifying Attributes, introduced by TID 1002 Observer Type = Device. */
export class DeviceObserverContext extends Template {
  readonly items: ContentItem[];
  constructor(opts: { uid: string; name?: string; manufacturer?: string; modelName?: string }) {
    super();
    assertUid(opts.uid, 'Device Observer UID');
    this.items = [
      new CodeContentItem(codes.ObserverType, codes.Device, 'HAS OBS CONTEXT'),
      new UIDRefContentItem(codes.DeviceObserverUID, opts.uid, 'HAS OBS CONTEXT'),
    ];
    if (opts.name) this.items.push(new TextContentItem(codes.DeviceObserverName, opts.name, 'HAS OBS CONTEXT'));
    if (opts.manufacturer) this.items.push(new TextContentItem(codes.DeviceObserverManufacturer, opts.manufacturer, 'HAS OBS CONTEXT'));
    if (opts.modelName) this.items.push(new TextContentItem(codes.DeviceObserverModelName, opts.modelName, 'HAS OBS CONTEXT'));
  }
}

/** TID 1001 Observation Context (here: the observer is always a device, the detector). */
export class ObserverContext extends Template {
  readonly items: ContentItem[];
  constructor(observer: DeviceObserverContext) {
    super();
    if (!(observer instanceof DeviceObserverContext)) throw new Error('ObserverContext: observer must be a DeviceObserverContext');
    this.items = [...observer.items];
  }
}

/** TID 4019 Algorithm Identification. */
export class AlgorithmIdentification extends Template {
  readonly items: ContentItem[];
  constructor(opts: { name: string; version: string; family?: CodedConcept }) {
    super();
    nonEmpty(opts.name, 'AlgorithmIdentification: name');
    nonEmpty(opts.version, 'AlgorithmIdentification: version');
    this.items = [
      new CodeContentItem(codes.AlgorithmFamily, opts.family ?? codes.ArtificialIntelligence, 'HAS CONCEPT MOD'),
      new TextContentItem(codes.AlgorithmName, opts.name, 'HAS CONCEPT MOD'),
      new TextContentItem(codes.AlgorithmVersion, opts.version, 'HAS CONCEPT MOD'),
    ];
  }
}

/** TID 1600 Image Library: one group holding the source images the report refers to. */
export class ImageLibrary extends Template {
  readonly items: ContentItem[];
  constructor(images: ImageReference[]) {
    super();
    if (!Array.isArray(images) || images.length === 0) throw new Error('ImageLibrary: at least one image is required');
    const entries = images.map((ref) => new ImageContentItem(codes.Source, ref, 'CONTAINS'));
    this.items = [
      new ContainerContentItem(codes.ImageLibrary, [new ContainerContentItem(codes.ImageLibraryGroup, entries, { relationshipType: 'CONTAINS' })], {
        relationshipType: 'CONTAINS',
        templateId: '1600',
      }),
    ];
  }
}

/** TID 4108 Tracking Identifiers: a human-readable ID and the unique UID that links SR group and SEG segment. */
export class TrackingIdentifier extends Template {
  readonly items: ContentItem[];
  constructor(readonly uid: string, readonly identifier: string) {
    super();
    assertUid(uid, 'Tracking Unique Identifier');
    nonEmpty(identifier, 'Tracking Identifier');
    // The UID comes first: OHIF reads the group's first UIDREF as its tracking UID.
    this.items = [
      new UIDRefContentItem(codes.TrackingUniqueIdentifier, uid, 'HAS OBS CONTEXT'),
      new TextContentItem(codes.TrackingIdentifier, identifier, 'HAS OBS CONTEXT'),
    ];
  }
}

function closedBox(box: [number, number, number, number], what: string): [number, number][] {
  if (!Array.isArray(box) || box.length !== 4 || !box.every(Number.isFinite)) throw new Error(`${what}: box must be [x1, y1, x2, y2]`);
  const [x1, y1, x2, y2] = box;
  if (!(x2 > x1 && y2 > y1)) throw new Error(`${what}: box [${box.join(', ')}] is empty or inverted`);
  return [[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]];
}

/** A closed rectangle on one image as a 5-point SCOORD POLYLINE (TID 1410 "Image Region"). */
export class ImageRegion extends Template {
  readonly items: ContentItem[];
  constructor(readonly box: [number, number, number, number], readonly image: ImageReference) {
    super();
    this.items = [new ScoordContentItem(codes.ImageRegion, 'POLYLINE', closedBox(box, 'ImageRegion'), image, 'CONTAINS')];
  }
}

/**
 * TID 320 Image or Spatial Coordinates with $Purpose = Source of Measurement: the region on the key image a
 * TID 300 measurement was made on (INFERRED FROM SCOORD > SELECTED FROM IMAGE).
 */
export class SourceOfMeasurement extends Template {
  readonly items: ContentItem[];
  constructor(region: ImageRegion) {
    super();
    if (!(region instanceof ImageRegion)) throw new Error('SourceOfMeasurement: region must be an ImageRegion');
    this.items = [new ScoordContentItem(codes.SourceOfMeasurement, 'POLYLINE', closedBox(region.box, 'SourceOfMeasurement'), region.image, 'INFERRED FROM')];
  }
}

/** TID 300 Measurement: a value with units, optionally with the region it was measured on. */
export class Measurement extends Template {
  readonly items: ContentItem[];
  constructor(name: CodedConcept, value: number, unit: CodedConcept, opts: { source?: SourceOfMeasurement } = {}) {
    super();
    if (opts.source !== undefined && !(opts.source instanceof SourceOfMeasurement)) throw new Error('Measurement: source must be a SourceOfMeasurement');
    this.items = [new NumContentItem(name, value, unit, 'CONTAINS', opts.source?.items ?? [])];
  }
}

/** TID 1410 Planar ROI Measurements and Qualitative Evaluations: one measurement group per lesion. */
export class PlanarROIMeasurementsAndQualitativeEvaluations extends Template {
  readonly items: ContentItem[];
  constructor(opts: {
    trackingIdentifier: TrackingIdentifier;
    referencedRegion: ImageRegion;
    findingCategory?: CodedConcept;
    findingType?: CodedConcept;
    findingSite?: CodedConcept;
    algorithm: AlgorithmIdentification;
    measurements: Measurement[];
    /** Free-text summary of the finding for the reader (TEXT 121106 Comment; TID 1410 is extensible). */
    comment?: string;
  }) {
    super();
    if (!(opts.trackingIdentifier instanceof TrackingIdentifier)) throw new Error('PlanarROIMeasurements: trackingIdentifier is required');
    if (!(opts.referencedRegion instanceof ImageRegion)) throw new Error('PlanarROIMeasurements: referencedRegion must be an ImageRegion');
    if (!(opts.algorithm instanceof AlgorithmIdentification)) throw new Error('PlanarROIMeasurements: algorithm must be an AlgorithmIdentification');
    if (!Array.isArray(opts.measurements) || opts.measurements.some((m) => !(m instanceof Measurement))) {
      throw new Error('PlanarROIMeasurements: measurements must be Measurement instances');
    }
    const group: ContentItem[] = [
      ...opts.trackingIdentifier.items,
      new CodeContentItem(codes.FindingCategory, opts.findingCategory ?? codes.MorphologicallyAbnormalStructure, 'CONTAINS'),
      new CodeContentItem(codes.Finding, opts.findingType ?? codes.Lesion, 'CONTAINS'),
    ];
    if (opts.findingSite) group.push(new CodeContentItem(codes.FindingSite, opts.findingSite, 'HAS CONCEPT MOD'));
    group.push(...opts.algorithm.items, ...opts.referencedRegion.items);
    for (const m of opts.measurements) group.push(...m.items);
    if (opts.comment !== undefined) group.push(new TextContentItem(codes.Comment, nonEmpty(opts.comment, 'PlanarROIMeasurements: comment'), 'CONTAINS'));
    this.items = [new ContainerContentItem(codes.MeasurementGroup, group, { relationshipType: 'CONTAINS', templateId: '1410' })];
  }
}

/** TID 1500 Imaging Measurement Report: the root container. */
export class ImagingMeasurementReport {
  readonly root: ContainerContentItem;
  constructor(opts: {
    observerContext: ObserverContext;
    procedureReported: CodedConcept;
    imageLibrary: ImageLibrary;
    measurementGroups: PlanarROIMeasurementsAndQualitativeEvaluations[];
    /** Evaluations of the whole study, e.g. "no lesion found". */
    qualitativeEvaluations?: ContentItem[];
    language?: LanguageOfContentItemAndDescendants;
  }) {
    if (!(opts.observerContext instanceof ObserverContext)) throw new Error('ImagingMeasurementReport: observerContext is required');
    if (!(opts.imageLibrary instanceof ImageLibrary)) throw new Error('ImagingMeasurementReport: imageLibrary is required');
    if (!(opts.procedureReported instanceof CodedConcept)) throw new Error('ImagingMeasurementReport: procedureReported must be a CodedConcept');
    if (!Array.isArray(opts.measurementGroups) || opts.measurementGroups.some((g) => !(g instanceof PlanarROIMeasurementsAndQualitativeEvaluations))) {
      throw new Error('ImagingMeasurementReport: measurementGroups must be PlanarROIMeasurementsAndQualitativeEvaluations');
    }
    const items: ContentItem[] = [
      ...(opts.language ?? new LanguageOfContentItemAndDescendants()).items,
      ...opts.observerContext.items,
      new CodeContentItem(codes.ProcedureReported, opts.procedureReported, 'HAS CONCEPT MOD'),
      ...opts.imageLibrary.items,
      new ContainerContentItem(
        codes.ImagingMeasurements,
        opts.measurementGroups.flatMap((g) => g.items),
        { relationshipType: 'CONTAINS' },
      ),
    ];
    if (opts.qualitativeEvaluations && opts.qualitativeEvaluations.length > 0) {
      items.push(new ContainerContentItem(codes.QualitativeEvaluations, opts.qualitativeEvaluations, { relationshipType: 'CONTAINS' }));
    }
    this.root = new ContainerContentItem(codes.ImagingMeasurementReport, items, { templateId: '1500' });
  }
}
