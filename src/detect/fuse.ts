/**
 * Proposal fusion on one analysed slice: detections of every head (and duplicates within a head) that cover the same
 * object are merged by weighted box fusion. The fused box is the score-weighted mean of its members, the score the
 * highest member score, the type that of the best member; each head's best score is kept in `heads`.
 */
import { iou2d, type Box2D } from './box2d';
import type { LesionType } from './findings';
import type { HeadCalibration } from './manifest';

export interface HeadDetection {
  head: string;
  type: LesionType;
  box: Box2D;
  score: number;
}

export interface FusedDetection {
  box: Box2D;
  score: number;
  type: LesionType;
  heads: Record<string, number>;
}

export function fuseDetections(dets: readonly HeadDetection[], iouThreshold: number): FusedDetection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const clusters: { members: HeadDetection[]; box: Box2D }[] = [];
  for (const d of sorted) {
    let best: (typeof clusters)[number] | undefined;
    let bestIou = iouThreshold;
    for (const c of clusters) {
      const o = iou2d(c.box, d.box);
      if (o >= bestIou) {
        best = c;
        bestIou = o;
      }
    }
    if (!best) clusters.push({ members: [d], box: [...d.box] as Box2D });
    else {
      best.members.push(d);
      best.box = weightedBox(best.members);
    }
  }
  return clusters.map(({ members, box }) => {
    const heads: Record<string, number> = {};
    for (const m of members) heads[m.head] = Math.max(heads[m.head] ?? 0, m.score);
    return { box, score: members[0].score, type: members[0].type, heads };
  });
}

function weightedBox(ms: readonly HeadDetection[]): Box2D {
  const out: Box2D = [0, 0, 0, 0];
  let wsum = 0;
  for (const m of ms) {
    for (let i = 0; i < 4; i++) out[i] += m.box[i] * m.score;
    wsum += m.score;
  }
  return out.map((v) => v / wsum) as Box2D;
}

/**
 * A head's score on the fusion's common scale: the probability that its detection is a lesion, by the Platt scaling
 * fitted on validation (manifest output.fusion.calibration). Heads of one network are trained on different label
 * scopes, so their raw scores mean different things; an uncalibrated head keeps its own.
 */
export function calibratedScore(c: HeadCalibration | undefined, score: number): number {
  if (!c) return score;
  const p = Math.min(Math.max(score, 1e-6), 1 - 1e-6);
  return 1 / (1 + Math.exp(-(c.a * Math.log(p / (1 - p)) + c.b)));
}
