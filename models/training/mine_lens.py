"""Missing-annotation mining for the deeplesion studies (issue 10 item 2; LENS, arXiv 2009.02577, section 3.3), from a
trained multi-head model (train_lens.py without mining):

- transfer (cross-dataset knowledge transfer): the single-type heads (luna, lits, nihln) run on every deeplesion
  study; a detection matching no deeplesion label scoring at least the head's high threshold becomes a pseudo label of
  its type, one between the low and the high threshold an ignore region. Thresholds are chosen on the fully labelled
  validation studies, per head: high = the lowest score at which the head's detections of its own type are at least
  `--precision-high` precise, low = the same at `--precision-low`.
- intra-patient (longitudinal matching): deeplesion studies of one patient (truth `patientKey`, in an archive the
  Patient ID) are registered by image content (the rigid shift maximising the normalised cross-correlation of the two
  volumes, never the generator's shiftMm); a labelled lesion of one study, moved by that shift, labels the other
  study's best detection there (any head, score >= the fused low threshold): a pseudo label; without such a detection,
  an ignore region where the lesion must be.
- propagation (key-slice labels to 3D) needs no model: train_lens.py --mining propagation.

Writes <out>/<study>.json per deeplesion study: {folder, transfer: {pseudo, ignore}, intra-patient: {pseudo, ignore}}
(entries {bboxLPS, type, score, head}); and <out>/summary.json: thresholds, and the quality of the mined labels
measured against the generator's full truth (which the mining itself never reads).

    /usr/bin/python3 models/training/mine_lens.py --checkpoint RUN/best.pt --set deeplesion=DIR --val DIR --out DIR
"""
import argparse
import json
import os
import sys
import time
from typing import Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402
from data import list_studies, load_study  # noqa: E402
from export import build_model  # noqa: E402
from lens_data import LensStudy, load_sets, read_truth  # noqa: E402
from sanity import iobb  # noqa: E402
from train_lens import head_detections, iou3d  # noqa: E402

SINGLE_TYPE_HEADS = ('luna', 'lits', 'nihln')


def threshold_at_precision(dets: List[Tuple[float, bool]], precision: float) -> float:
    """The lowest score s such that the detections scoring >= s are at least `precision` precise (1.01: never)."""
    dets = sorted(dets, key=lambda d: -d[0])
    best, tp = 1.01, 0
    for n, (s, ok) in enumerate(dets, 1):
        tp += ok
        if tp / n >= precision:
            best = s
    return best


def choose_thresholds(model, val, p_high: float, p_low: float) -> Dict[str, Dict[str, float]]:
    per_head: Dict[str, List[Tuple[float, bool]]] = {}
    for st in val:
        for name, dets in head_detections(model, st, list(model.head_names)).items():
            scope = {spec.LESION_TYPES.index(t) for t in model.head_classes.get(name, spec.LESION_TYPES)}
            gts = [[l.x0, l.y0, l.z0, l.x1, l.y1, l.z1] for l in st.lesions if l.type_index in scope]
            for s, _, b in dets:
                per_head.setdefault(name, []).append((s, any(iobb(b, g) >= 0.3 for g in gts)))
    return {h: {'high': round(threshold_at_precision(d, p_high), 4), 'low': round(threshold_at_precision(d, p_low), 4)}
            for h, d in per_head.items()}


def key_label_boxes(ls: LensStudy):
    return [k.as_round_lesion() for k in ls.key_labels]


def box_list(b) -> List[float]:
    return [b.x0, b.y0, b.z0, b.x1, b.y1, b.z1]


def to_lps(meta: dict, box: List[float]) -> List[float]:
    """Model-input box (x, y in resampled pixels, z in mm along the normal) -> bboxLPS (axis-aligned volumes)."""
    s = spec.PIXEL_SPACING_MM
    sx, sy, _ = meta['spacing']
    d = meta['direction']
    o = np.asarray(meta['origin'], dtype=np.float64)
    pts = []
    for x in (box[0], box[3]):
        for y in (box[1], box[4]):
            for z in (box[2], box[5]):
                pts.append(o + np.asarray(d['row']) * (x * s / sx) * sx + np.asarray(d['column']) * (y * s / sy) * sy
                           + np.asarray(d['normal']) * z)
    pts = np.array(pts)
    return [round(float(v), 2) for v in list(pts.min(0)) + list(pts.max(0))]


def overlaps_any(box: List[float], others: List[List[float]]) -> bool:
    return any(iou3d(box, o) >= 0.1 or iobb(box, o) >= 0.3 or iobb(o, box) >= 0.3 for o in others)


def register(a, b) -> np.ndarray:
    """The shift (x px, y px, z mm) of b's anatomy relative to a's: the peak of the normalised cross-correlation of the
    two volumes (HU clipped to soft tissue, on a grid of 2 model pixels x the slice spacing), by FFT."""
    def prep(st):
        v = np.clip(np.asarray(st.vol[:, ::2, ::2], dtype=np.float32), -200, 300)
        return (v - v.mean()) / (v.std() + 1e-6)
    va, vb = prep(a), prep(b)
    shape = [max(p, q) * 2 for p, q in zip(va.shape, vb.shape)]
    fa, fb = np.fft.rfftn(va, shape), np.fft.rfftn(vb, shape)
    cc = np.fft.irfftn(np.conj(fa) * fb, shape)
    peak = np.array(np.unravel_index(np.argmax(cc), cc.shape), dtype=np.float64)
    peak = np.where(peak > np.array(shape) / 2, peak - np.array(shape), peak)
    sz = float(a.slice_pos_mm[1] - a.slice_pos_mm[0]) if len(a.slice_pos_mm) > 1 else 1.0
    return np.array([peak[2] * 2, peak[1] * 2, peak[0] * sz])


def registration_quality(shifts: Dict[str, List[float]], folders: Dict[str, str]) -> dict:
    """The registration error against the generator's shiftMm (truth, read here only to measure): estimated shift
    (x, y model pixels -> mm, z mm) against the truth, per registered pair."""
    errs = []
    for pair, est in shifts.items():
        src, dst = pair.split('->')
        ts, td = (read_truth(folders[n])['studies'][0] for n in (src, dst))
        truth = td.get('shiftMm') or [-v for v in ts.get('shiftMm', [0, 0, 0])]
        mm = [est[0] * spec.PIXEL_SPACING_MM, est[1] * spec.PIXEL_SPACING_MM, est[2]]
        errs.append(float(np.linalg.norm(np.subtract(mm, truth))))
    if not errs:
        return {}
    return {'pairs': len(errs), 'medianErrorMm': round(float(np.median(errs)), 2), 'maxErrorMm': round(max(errs), 2)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--set', action='append', required=True, help='deeplesion=DIR (other datasets are ignored)')
    ap.add_argument('--val', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--cache', default='models/training/data/cache')
    ap.add_argument('--precision-high', type=float, default=0.8)
    ap.add_argument('--precision-low', type=float, default=0.3)
    ap.add_argument('--match-mm', type=float, default=10.0, help='intra-patient: largest distance between the moved '
                    'label centre and a detection centre')
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    ck = torch.load(a.checkpoint, map_location='cpu')
    model = build_model(ck['arch'])
    model.load_state_dict(ck['model'])
    model.eval()
    studies = [s for s in load_sets([e for e in a.set if e.startswith('deeplesion=')], a.cache)]
    val = [load_study(d, a.cache) for d in list_studies(a.val)]
    with torch.no_grad():
        thr = choose_thresholds(model, val, a.precision_high, a.precision_low)
        print('thresholds', json.dumps(thr), flush=True)
        fused_low = min(t['low'] for t in thr.values())
        dets = {}
        for n, ls in enumerate(studies):
            dets[ls.folder] = head_detections(model, ls.study, list(model.head_names))
            if n % 20 == 0:
                print(f'detected {n + 1}/{len(studies)} ({time.time() - t0:.0f}s)', flush=True)
    folders = {ls.folder: f for ls, f in zip(studies, [d for e in a.set if e.startswith('deeplesion=')
                                                          for d in list_studies(e.split('=', 1)[1])])}
    mined: Dict[str, dict] = {ls.folder: {'folder': os.path.abspath(folders[ls.folder]), 'transfer': {'pseudo': [], 'ignore': []},
                                          'intra-patient': {'pseudo': [], 'ignore': []}} for ls in studies}
    # The geometry only (volume.json): the voxels were read once already, by load_sets.
    metas = {}
    for ls in studies:
        with open(os.path.join(folders[ls.folder], 'volume.json')) as f:
            metas[ls.folder] = json.load(f)
    internal: Dict[str, Dict[str, List[Tuple[List[float], int]]]] = {ls.folder: {'transfer': [], 'transfer-ignore': [],
                                                                              'intra-patient': [], 'intra-patient-ignore': []} for ls in studies}

    # Cross-dataset transfer.
    for ls in studies:
        labels = [box_list(b) for b in key_label_boxes(ls)]
        for head in SINGLE_TYPE_HEADS:
            if head not in thr:
                continue
            for s, t, b in dets[ls.folder][head]:
                if s < thr[head]['low'] or overlaps_any(b, labels):
                    continue
                kind = 'pseudo' if s >= thr[head]['high'] else 'ignore'
                e = {'bboxLPS': to_lps(metas[ls.folder], b), 'type': spec.LESION_TYPES[t], 'score': round(s, 4), 'head': head}
                if not any(iou3d(b, o[0]) >= 0.3 for o in internal[ls.folder]['transfer'] + internal[ls.folder]['transfer-ignore']):
                    mined[ls.folder]['transfer'][kind].append(e)
                    internal[ls.folder]['transfer' if kind == 'pseudo' else 'transfer-ignore'].append((b, t))

    # Intra-patient matching.
    by_patient: Dict[str, List[LensStudy]] = {}
    for ls in studies:
        key = read_truth(folders[ls.folder])['studies'][0].get('patientKey')
        if key:
            by_patient.setdefault(key, []).append(ls)
    shifts = {}
    for key, group in by_patient.items():
        for src in group:
            for dst in group:
                if src is dst:
                    continue
                shift = register(src.study, dst.study)
                shifts[f'{src.folder}->{dst.folder}'] = [round(float(v), 2) for v in shift]
                dst_labels = [box_list(b) for b in key_label_boxes(dst)]
                fused = sorted([d for h in dets[dst.folder].values() for d in h], key=lambda d: -d[0])
                for k in src.key_labels:
                    cx = (k.box[0] + k.box[2]) / 2 + shift[0]
                    cy = (k.box[1] + k.box[3]) / 2 + shift[1]
                    cz = k.z + shift[2]
                    if any(b[0] <= cx <= b[3] and b[1] <= cy <= b[4] and b[2] <= cz <= b[5] for b in dst_labels):
                        continue  # labelled in the other study too
                    near = [d for d in fused if d[0] >= fused_low and
                            np.hypot(np.hypot(((d[2][0] + d[2][3]) / 2 - cx) * spec.PIXEL_SPACING_MM,
                                              ((d[2][1] + d[2][4]) / 2 - cy) * spec.PIXEL_SPACING_MM),
                                     (d[2][2] + d[2][5]) / 2 - cz) <= a.match_mm]
                    if near:
                        s, t, b = near[0]
                        kind, box, score = 'pseudo', b, s
                    else:
                        r = 0.75 * max(k.box[2] - k.box[0], k.box[3] - k.box[1])
                        box = [cx - r, cy - r, cz - r * spec.PIXEL_SPACING_MM, cx + r, cy + r, cz + r * spec.PIXEL_SPACING_MM]
                        kind, score = 'ignore', None
                    if any(iou3d(box, o[0]) >= 0.3 for o in internal[dst.folder]['intra-patient'] + internal[dst.folder]['intra-patient-ignore']):
                        continue
                    e = {'bboxLPS': to_lps(metas[dst.folder], box), 'type': spec.LESION_TYPES[k.type_index],
                         'score': None if score is None else round(score, 4), 'from': src.folder}
                    mined[dst.folder]['intra-patient'][kind].append(e)
                    internal[dst.folder]['intra-patient' if kind == 'pseudo' else 'intra-patient-ignore'].append((box, k.type_index))

    os.makedirs(a.out, exist_ok=True)
    for name, m in mined.items():
        with open(os.path.join(a.out, name + '.json'), 'w') as f:
            json.dump(m, f, indent=1)
    # The quality of the mined labels against the full truth (never read above).
    quality = {}
    for strategy in ('transfer', 'intra-patient'):
        n_pseudo = n_true = n_ign = n_ign_true = 0
        recovered = set()
        unlabeled = 0
        for ls in studies:
            key_boxes = [box_list(b) for b in key_label_boxes(ls)]
            truth = [box_list(l) for l in ls.study.lesions]
            unl = [i for i, g in enumerate(truth) if not overlaps_any(g, key_boxes)]
            unlabeled += len(unl)
            for b, _ in internal[ls.folder][strategy]:
                n_pseudo += 1
                hit = [i for i in unl if iobb(b, truth[i]) >= 0.3]
                n_true += bool(hit)
                recovered.update((ls.folder, i) for i in hit)
            for b, _ in internal[ls.folder][strategy + '-ignore']:
                n_ign += 1
                n_ign_true += any(iou3d(b, truth[i]) > 0 or iobb(truth[i], b) > 0.3 for i in unl)
        quality[strategy] = {'pseudoLabels': n_pseudo, 'pseudoOnUnlabelledLesion': n_true,
                             'precision': round(n_true / max(1, n_pseudo), 3),
                             'unlabelledLesions': unlabeled, 'unlabelledRecovered': len(recovered),
                             'ignoreRegions': n_ign, 'ignoreOnUnlabelledLesion': n_ign_true}
    quality['registration'] = registration_quality(shifts, folders)
    summary = {'checkpoint': a.checkpoint, 'iteration': ck.get('iteration'), 'thresholds': thr, 'fusedLowThreshold': fused_low,
               'precisionHigh': a.precision_high, 'precisionLow': a.precision_low, 'matchMm': a.match_mm,
               'studies': len(studies), 'patients': len(by_patient), 'quality': quality,
               'registrationShifts': shifts, 'command': ' '.join(['/usr/bin/python3'] + sys.argv),
               'wallTimeMin': round((time.time() - t0) / 60, 1)}
    with open(os.path.join(a.out, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != 'registrationShifts'}, indent=1), flush=True)


if __name__ == '__main__':
    main()
