"""Score calibration of a LENS model's heads before proposal fusion (docs/model.md, the LENS ablation).

The heads of one network learn different label scopes (deeplesion: partial labels of every type; luna / lits /
nihln: one type, fully labelled), so their raw scores mean different things, and the fused score (the best
member's) lets a single-type head's false positives rank above the deeplesion head's lesions. Each head's scores are
mapped to the probability that its detection hits a lesion (any type, IoBB >= 0.3) by Platt scaling,
p = sigmoid(a * logit(s) + b), fitted on a fully labelled validation set; the runtime applies the same mapping
(manifest output.fusion.calibration, src/detect/fuse.ts).

  /usr/bin/python3 models/training/calibrate_heads.py --checkpoint runs/lens/b/best.pt --val data/lens/val-35 \\
      --manifest models/lens-ablation/<row>/model.json [--cache DIR]

Prints the validation average sensitivity of the fused heads without calibration and with it, the latter
leave-one-study-out (each study's detections mapped by a fit on the other studies: the honest estimate of whether
calibration helps), then writes the fit on all studies into the manifest.
"""
import argparse
import json
import math
import os
import shlex
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402
from data import list_studies, load_study  # noqa: E402
from export import build_model  # noqa: E402
from sanity import FP_RATES, froc, iobb  # noqa: E402
from train_lens import fuse_heads, head_detections  # noqa: E402


def fit_platt(scores, hits, l2: float = 1e-2):
    """(a, b) of sigmoid(a logit(s) + b) by Newton's method on the log loss (a small L2 pull towards a = 1, b = 0 keeps
    a head with few detections close to its own scores)."""
    p0 = np.clip(scores, 1e-6, 1 - 1e-6)
    x = np.log(p0 / (1 - p0))
    y = np.asarray(hits, dtype=np.float64)
    w = np.array([1.0, 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(w[0] * x + w[1])))
        g = np.array([((p - y) * x).sum(), (p - y).sum()]) + l2 * (w - [1.0, 0.0])
        r = p * (1 - p)
        h = np.array([[(r * x * x).sum(), (r * x).sum()], [(r * x).sum(), r.sum()]]) + l2 * np.eye(2)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return float(max(w[0], 1e-3)), float(w[1])


def labelled(by_head, gts):
    """{head: (scores, hits)}: whether each detection hits a truth lesion of any type."""
    return {h: ([s for s, _, _ in d], [any(iobb(b, g) >= 0.3 for _, g in gts) for _, _, b in d]) for h, d in by_head.items()}


def fit_all(samples):
    heads = samples[0].keys()
    out = {}
    for h in heads:
        s = [x for smp in samples for x in smp[h][0]]
        y = [x for smp in samples for x in smp[h][1]]
        out[h] = fit_platt(np.array(s), y) if s else (1.0, 0.0)
    return out


def average(results):
    sens = froc(results)
    return float(np.mean(sens)), [round(v, 3) for v in sens]


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--val', required=True, help='fully labelled raw validation studies')
    ap.add_argument('--manifest', required=True, help='model.json of the exported model (its heads are calibrated)')
    ap.add_argument('--cache', default='models/training/data/cache')
    a = ap.parse_args()
    ck = torch.load(a.checkpoint, map_location='cpu')
    model = build_model(ck['arch'])
    model.load_state_dict(ck['model'])
    model.eval()
    with open(a.manifest) as f:
        manifest = json.load(f)
    heads = [h['name'] for h in manifest['output']['heads']]
    studies = [load_study(d, a.cache) for d in list_studies(a.val)]
    dets, gts = [], []
    for st in studies:
        dets.append(head_detections(model, st, heads))
        gts.append([(spec.LESION_TYPES[l.type_index], [l.x0, l.y0, l.z0, l.x1, l.y1, l.z1]) for l in st.lesions])
    samples = [labelled(d, g) for d, g in zip(dets, gts)]
    plain, plain_curve = average([([x[:3] for x in fuse_heads(d)], g) for d, g in zip(dets, gts)])
    loo = []
    for i in range(len(studies)):
        cal = fit_all(samples[:i] + samples[i + 1:])
        loo.append(([x[:3] for x in fuse_heads(dets[i], cal)], gts[i]))
    loo_avg, loo_curve = average(loo)
    cal = fit_all(samples)
    print(f'validation {a.val}: {len(studies)} studies, {sum(len(g) for g in gts)} lesions')
    print(f'fused, uncalibrated:                 average {plain:.3f}  {plain_curve}')
    print(f'fused, calibrated (leave-one-out):   average {loo_avg:.3f}  {loo_curve}')
    for h, (ca, cb) in cal.items():
        n = sum(len(smp[h][0]) for smp in samples)
        hits = sum(sum(smp[h][1]) for smp in samples)
        print(f'  {h}: a {ca:.3f} b {cb:.3f} ({n} detections, {hits} on a lesion)')
    manifest['output'].setdefault('fusion', {'method': 'weighted-box-fusion', 'iouThreshold': spec.FUSION_IOU})
    manifest['output']['fusion']['calibration'] = {h: {'a': round(ca, 4), 'b': round(cb, 4)} for h, (ca, cb) in cal.items()}
    manifest.setdefault('training', {})['calibration'] = {
        'method': 'Platt scaling of each head\'s scores before fusion (models/training/calibrate_heads.py)',
        'validation': a.val, 'studies': len(studies),
        'averageUncalibrated': round(plain, 4), 'averageCalibratedLeaveOneOut': round(loo_avg, 4),
        'fpRates': FP_RATES, 'command': shlex.join(['/usr/bin/python3'] + sys.argv),
    }
    with open(a.manifest, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    print(f'wrote output.fusion.calibration into {a.manifest}')


if __name__ == '__main__':
    main()
