"""Python sanity check of a trained checkpoint on whole raw volumes: runs the 2.5D stacks every sliceStrideMm,
decodes heatmap peaks, links them into 3D boxes (a simple stand-in for src/detect's linking) and scores them
with the protocol of docs/contracts.md#evaluation-protocol (IoBB >= 0.3, sensitivity at 0.125..8 FPs per volume).

    /usr/bin/python3 models/training/sanity.py --checkpoint models/training/runs/best.pt --data DIR [--max 10]

The numbers are a development aid; the shipped model's evaluation is D2's scripts/evaluate-model.ts.
"""
import argparse
import math
import os
import sys
from typing import List

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402
from data import Study, list_studies, load_study, stack_at  # noqa: E402
from export import build_model  # noqa: E402

FP_RATES = [0.125, 0.25, 0.5, 1, 2, 4, 8]


@torch.no_grad()
def detect(model, st: Study, thr: float = 0.05, batch: int = 8, head: int = 0):
    """3D detections [(score, class, box)] of one head (its index in model.head_names), best first."""
    return detect_heads(model, st, [head], thr, batch)[head]


@torch.no_grad()
def detect_heads(model, st: Study, heads, thr: float = 0.05, batch: int = 8):
    """detect() for several heads from one pass of the network: {head index: detections}."""
    _, H, W = st.vol.shape
    m = spec.SIZE_MULTIPLE
    Hp, Wp = int(math.ceil(H / m) * m), int(math.ceil(W / m) * m)
    zs = np.arange(0, st.z_extent + 1e-6, spec.SLICE_STRIDE_MM)
    per_slice = {h: [] for h in heads}
    for b in range(0, len(zs), batch):
        x = torch.from_numpy(np.stack([stack_at(st, z, 0, 0, Hp, Wp, model.in_slices) for z in zs[b:b + batch]]))
        out = model(x)
        for head in heads:
            hm, size, off = out[3 * head:3 * head + 3]
            mx = F.max_pool2d(hm, 3, 1, 1)
            peaks = (hm == mx) & (hm >= thr)
            for n in range(x.shape[0]):
                dets = []
                for c, cy, cx in peaks[n].nonzero().tolist():
                    s = float(hm[n, c, cy, cx])
                    px = (cx + float(off[n, 0, cy, cx])) * spec.STRIDE
                    py = (cy + float(off[n, 1, cy, cx])) * spec.STRIDE
                    w, h = float(size[n, 0, cy, cx]), float(size[n, 1, cy, cx])
                    dets.append((s, c, px - w / 2, py - h / 2, px + w / 2, py + h / 2))
                dets.sort(reverse=True)
                per_slice[head].append((float(zs[b + n]), dets[:20]))
    return {h: link(p) for h, p in per_slice.items()}


def iou2d(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def link(per_slice):
    """Greedy linking of per-slice boxes into tracks, like src/detect/link3d.ts: a box continues a track whose last
    box is at most 2 positions back when IoU >= 0.3 or the centres are within 0.35 of the mean box size; a track's
    3D box is the union of its slice boxes scoring >= half its best, its score the best."""
    tracks = []
    for p, (z, dets) in enumerate(per_slice):
        open_ = [t for t in tracks if t['pos'] >= p - 2]
        pairs = []
        for ti, t in enumerate(open_):
            a = t['last']
            for di, d in enumerate(dets):
                b = d[2:]
                v = iou2d(a, b)
                size = (math.sqrt(max(0, (a[2] - a[0]) * (a[3] - a[1]))) + math.sqrt(max(0, (b[2] - b[0]) * (b[3] - b[1])))) / 2
                dist = math.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2)
                if v >= 0.3 or dist <= 0.35 * size:
                    pairs.append((max(v, 0.01), ti, di))
        pairs.sort(reverse=True)
        ut, ud = set(), set()
        for _, ti, di in pairs:
            if ti in ut or di in ud:
                continue
            ut.add(ti); ud.add(di)
            t = open_[ti]
            t['items'].append((dets[di][0], dets[di][1], z, dets[di][2:]))
            t['last'], t['pos'] = dets[di][2:], p
        for di, d in enumerate(dets):
            if di not in ud:
                tracks.append({'items': [(d[0], d[1], z, d[2:])], 'last': d[2:], 'pos': p})
    out = []
    half = spec.SLICE_STRIDE_MM / 2
    for t in tracks:
        smax = max(i[0] for i in t['items'])
        keep = [i for i in t['items'] if i[0] >= 0.5 * smax]
        bx = [min(i[3][0] for i in keep), min(i[3][1] for i in keep), min(i[2] for i in keep) - half,
              max(i[3][2] for i in keep), max(i[3][3] for i in keep), max(i[2] for i in keep) + half]
        cls = max(t['items'])[1]
        out.append((smax, cls, bx))
    out.sort(key=lambda d: -d[0])
    return out


def iobb(pred, gt):
    inter = 1.0
    for a in range(3):
        inter *= max(0.0, min(pred[a + 3], gt[a + 3]) - max(pred[a], gt[a]))
    vol = 1.0
    for a in range(3):
        vol *= max(1e-6, pred[a + 3] - pred[a])
    return inter / vol


def froc(results, with_thresholds=False):
    """results: per volume (detections [(score, cls, box)], truth boxes [(type, box)]). docs/contracts.md#evaluation-protocol."""
    allc = []
    n_gt = 0
    for dets, gts in results:
        n_gt += len(gts)
        found = set()
        for s, c, b in dets:
            hit = [i for i, g in enumerate(gts) if iobb(b, g[1]) >= 0.3]
            if not hit:
                allc.append((s, 'fp', None))
            else:
                new = [i for i in hit if i not in found]
                if new:
                    found.add(new[0])
                    allc.append((s, 'tp', gts[new[0]][0]))
    allc.sort(key=lambda t: -t[0])
    nv = len(results)
    sens, thr = [], []
    for r in FP_RATES:
        tp = fp = 0
        last = 1.0
        for s, kind, _ in allc:
            if kind == 'fp':
                if (fp + 1) / nv > r:
                    break
                fp += 1
            else:
                tp += 1
            last = s
        sens.append(tp / max(1, n_gt))
        thr.append(last)
    return (sens, thr) if with_thresholds else sens


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--data', required=True)
    ap.add_argument('--cache', default='models/training/data/cache')
    ap.add_argument('--max', type=int, default=10)
    ap.add_argument('--verbose', action='store_true')
    a = ap.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(a.checkpoint, map_location='cpu')
    model = build_model(ck.get('arch'))
    model.load_state_dict(ck['model'])
    model.eval()
    results = []
    per_type = {}
    for d in list_studies(a.data)[:a.max]:
        st = load_study(d, a.cache)
        dets = detect(model, st)
        gts = [(spec.LESION_TYPES[l.type_index], [l.x0, l.y0, l.z0, l.x1, l.y1, l.z1]) for l in st.lesions]
        results.append((dets, gts))
        for t, g in gts:
            hit = next(((s, spec.LESION_TYPES[c]) for s, c, b in dets if iobb(b, g) >= 0.3), None)
            pt = per_type.setdefault(t, [0, 0])
            pt[1] += 1
            pt[0] += 1 if hit and hit[0] >= 0.3 else 0
            if a.verbose:
                print(f'{st.name} {t} box {np.round(g, 1).tolist()} -> best hit {hit}')
        if a.verbose:
            print(f'{st.name}: {len(dets)} detections, top: ' + ', '.join(
                f'{s:.2f} {spec.LESION_TYPES[c]} {np.round(b, 0).tolist()}' for s, c, b in dets[:5]))
    sens, thr = froc(results, with_thresholds=True)
    print('score at each FP rate:', [round(t, 3) for t in thr])
    print('volumes', len(results), 'lesions', sum(len(g) for _, g in results))
    print('sensitivity at', FP_RATES, '=', [round(s, 3) for s in sens], 'average', round(float(np.mean(sens)), 3))
    print('per type (hit with score >= 0.3):', {k: f'{v[0]}/{v[1]}' for k, v in per_type.items()})


if __name__ == '__main__':
    main()
