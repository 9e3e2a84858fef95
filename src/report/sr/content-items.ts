/**
 * SR content-item primitives (PS3.3 C.17.3), after highdicom's sr.value_types: one class per value type, each
 * validating its arguments at construction and rendering itself as a dcmjs naturalized content-sequence item.
 */
import { CodedConcept } from '../codes';
import { assertUid } from '../uid';
import { fitText, formatDS } from '../../dicom/vr';

export type RelationshipType =
  | 'CONTAINS'
  | 'HAS PROPERTIES'
  | 'HAS OBS CONTEXT'
  | 'HAS ACQ CONTEXT'
  | 'INFERRED FROM'
  | 'SELECTED FROM'
  | 'HAS CONCEPT MOD';

export type ValueType = 'CONTAINER' | 'CODE' | 'NUM' | 'TEXT' | 'UIDREF' | 'SCOORD' | 'IMAGE';

export type Dataset = Record<string, any>;

/** A reference to one image (or one frame of a multi-frame image). */
export interface ImageReference {
  sopClassUID: string;
  sopInstanceUID: string;
  /** 1-based; only for multi-frame images. */
  frameNumber?: number;
}

export abstract class ContentItem {
  protected constructor(
    readonly valueType: ValueType,
    readonly name: CodedConcept | undefined,
    readonly relationshipType: RelationshipType | undefined,
  ) {
    if (name !== undefined && !(name instanceof CodedConcept)) {
      throw new Error(`${valueType} content item: concept name must be a CodedConcept`);
    }
  }

  /** The value attributes of this value type. */
  protected abstract valueAttributes(): Dataset;

  /** Child items (by-value relationships). */
  children(): ContentItem[] {
    return [];
  }

  toDataset(): Dataset {
    const ds: Dataset = {};
    if (this.relationshipType) ds.RelationshipType = this.relationshipType;
    ds.ValueType = this.valueType;
    if (this.name) ds.ConceptNameCodeSequence = [this.name.toItem()];
    Object.assign(ds, this.valueAttributes());
    const kids = this.children();
    if (kids.length > 0) ds.ContentSequence = kids.map((k) => k.toDataset());
    return ds;
  }
}

function requireRelationship(valueType: string, rel: RelationshipType | undefined): RelationshipType {
  if (!rel) throw new Error(`${valueType} content item: a relationship type is required`);
  return rel;
}

export class ContainerContentItem extends ContentItem {
  readonly items: ContentItem[];
  constructor(
    name: CodedConcept,
    items: ContentItem[],
    opts: { relationshipType?: RelationshipType; templateId?: string; continuity?: 'SEPARATE' | 'CONTINUOUS' } = {},
  ) {
    super('CONTAINER', name, opts.relationshipType);
    if (!name) throw new Error('CONTAINER content item: a concept name is required');
    if (!Array.isArray(items) || items.some((i) => !(i instanceof ContentItem))) {
      throw new Error(`CONTAINER ${name}: items must be content items`);
    }
    for (const i of items) {
      if (!i.relationshipType) throw new Error(`CONTAINER ${name}: child ${i.valueType} ${i.name ?? ''} has no relationship type`);
    }
    this.items = items;
    this.continuity = opts.continuity ?? 'SEPARATE';
    this.templateId = opts.templateId;
  }
  private readonly continuity: string;
  private readonly templateId?: string;

  protected valueAttributes(): Dataset {
    const ds: Dataset = { ContinuityOfContent: this.continuity };
    if (this.templateId) ds.ContentTemplateSequence = [{ MappingResource: 'DCMR', TemplateIdentifier: this.templateId }];
    return ds;
  }
  override children(): ContentItem[] {
    return this.items;
  }
}

export class CodeContentItem extends ContentItem {
  constructor(name: CodedConcept, readonly value: CodedConcept, relationshipType: RelationshipType) {
    super('CODE', name, requireRelationship('CODE', relationshipType));
    if (!name) throw new Error('CODE content item: a concept name is required');
    if (!(value instanceof CodedConcept)) throw new Error(`CODE ${name}: value must be a CodedConcept`);
  }
  protected valueAttributes(): Dataset {
    return { ConceptCodeSequence: [this.value.toItem()] };
  }
}

export class TextContentItem extends ContentItem {
  constructor(name: CodedConcept, readonly value: string, relationshipType: RelationshipType) {
    super('TEXT', name, requireRelationship('TEXT', relationshipType));
    if (!name) throw new Error('TEXT content item: a concept name is required');
    if (typeof value !== 'string' || value.trim().length === 0) throw new Error(`TEXT ${name}: value must be a non-empty string`);
  }
  protected valueAttributes(): Dataset {
    return { TextValue: fitText('UT', this.value) };
  }
}

export class NumContentItem extends ContentItem {
  constructor(
    name: CodedConcept,
    readonly value: number,
    readonly unit: CodedConcept,
    relationshipType: RelationshipType,
    /** Child items, e.g. the INFERRED FROM region the value was measured on. */
    private readonly items: ContentItem[] = [],
  ) {
    super('NUM', name, requireRelationship('NUM', relationshipType));
    if (!name) throw new Error('NUM content item: a concept name is required');
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`NUM ${name}: value must be a finite number (got ${value})`);
    if (!(unit instanceof CodedConcept)) throw new Error(`NUM ${name}: unit must be a CodedConcept (UCUM)`);
    if (!Array.isArray(items) || items.some((i) => !(i instanceof ContentItem) || !i.relationshipType)) {
      throw new Error(`NUM ${name}: children must be content items with a relationship type`);
    }
  }
  protected valueAttributes(): Dataset {
    return { MeasuredValueSequence: [{ NumericValue: formatDS(this.value), MeasurementUnitsCodeSequence: [this.unit.toItem()] }] };
  }
  override children(): ContentItem[] {
    return this.items;
  }
}

export class UIDRefContentItem extends ContentItem {
  constructor(name: CodedConcept, readonly value: string, relationshipType: RelationshipType) {
    super('UIDREF', name, requireRelationship('UIDREF', relationshipType));
    if (!name) throw new Error('UIDREF content item: a concept name is required');
    assertUid(value, `UIDREF ${name}`);
  }
  protected valueAttributes(): Dataset {
    return { UID: this.value };
  }
}

function referencedSop(ref: ImageReference, what: string): Dataset {
  assertUid(ref?.sopClassUID, `${what}: referenced SOP Class UID`);
  assertUid(ref?.sopInstanceUID, `${what}: referenced SOP Instance UID`);
  const item: Dataset = { ReferencedSOPClassUID: ref.sopClassUID, ReferencedSOPInstanceUID: ref.sopInstanceUID };
  if (ref.frameNumber !== undefined) {
    if (!Number.isInteger(ref.frameNumber) || ref.frameNumber < 1) throw new Error(`${what}: frame number must be a positive integer`);
    item.ReferencedFrameNumber = ref.frameNumber;
  }
  return item;
}

export class ImageContentItem extends ContentItem {
  constructor(name: CodedConcept | undefined, readonly image: ImageReference, relationshipType: RelationshipType) {
    super('IMAGE', name, requireRelationship('IMAGE', relationshipType));
    referencedSop(image, 'IMAGE content item'); // validates
  }
  protected valueAttributes(): Dataset {
    return { ReferencedSOPSequence: [referencedSop(this.image, 'IMAGE content item')] };
  }
}

export type GraphicType = 'POINT' | 'MULTIPOINT' | 'POLYLINE' | 'CIRCLE' | 'ELLIPSE';

/** 2D spatial coordinates in the pixel space of one image (column, row; PS3.3 C.18.6.1.1). */
export class ScoordContentItem extends ContentItem {
  readonly graphicData: number[];
  constructor(
    name: CodedConcept,
    readonly graphicType: GraphicType,
    points: [number, number][],
    readonly selectedFrom: ImageReference,
    relationshipType: RelationshipType,
  ) {
    super('SCOORD', name, requireRelationship('SCOORD', relationshipType));
    if (!name) throw new Error('SCOORD content item: a concept name is required');
    if (!Array.isArray(points) || points.some((p) => !Array.isArray(p) || p.length !== 2 || !p.every(Number.isFinite))) {
      throw new Error(`SCOORD ${name}: points must be [column, row] pairs of finite numbers`);
    }
    const minPoints: Record<GraphicType, number> = { POINT: 1, MULTIPOINT: 1, POLYLINE: 2, CIRCLE: 2, ELLIPSE: 4 };
    if (points.length < minPoints[graphicType]) throw new Error(`SCOORD ${name}: ${graphicType} needs at least ${minPoints[graphicType]} points`);
    if ((graphicType === 'POINT' && points.length !== 1) || (graphicType === 'CIRCLE' && points.length !== 2) || (graphicType === 'ELLIPSE' && points.length !== 4)) {
      throw new Error(`SCOORD ${name}: wrong number of points (${points.length}) for ${graphicType}`);
    }
    this.graphicData = points.flat();
    referencedSop(selectedFrom, `SCOORD ${name}`);
  }
  protected valueAttributes(): Dataset {
    return { GraphicType: this.graphicType, GraphicData: this.graphicData };
  }
  override children(): ContentItem[] {
    return [new ImageContentItem(undefined, this.selectedFrom, 'SELECTED FROM')];
  }
}
