"""LENS training (issue 10 items 1-3): one shared LensNet backbone, one CenterNet head per dataset, each head learning
only from its own dataset's crops and label scope (lens_data.py), optionally with the mined labels of mine_lens.py.

    /usr/bin/python3 models/training/train_lens.py --set deeplesion=DIR [--set luna=DIR --set lits=DIR --set nihln=DIR] \
        --val DIR --out OUT [--mined DIR --mining transfer,intra-patient,propagation] [--select-heads deeplesion]

The checkpoint kept is the one with the best 3D average sensitivity on the fully labelled validation volumes (--val),
measured on the detections of --select-heads fused (all heads by default), the way the runtime will read the export.
models/training/reproduce-lens.sh runs the whole ablation.
"""
import argparse
import json
import math
import os
import random
import shlex
import sys
import time
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402
from data import list_studies, load_study  # noqa: E402
from export import build_model, export  # noqa: E402
from lens_data import DATASETS, LensSampler, load_mined, load_sets  # noqa: E402
from provenance import dataset_record, git_record  # noqa: E402
from train import focal_loss, set_train_mode  # noqa: E402

MINING_STRATEGIES = ('transfer', 'intra-patient', 'propagation')


def head_loss(hm_p, size_p, off_p, hm, ign, reg, nreg):
    """train.py's CenterNet losses of one head on the crops of its dataset."""
    l_hm = focal_loss(hm_p, hm, ign)
    b_idx, r_idx = [], []
    for b in range(reg.shape[0]):
        for r in range(int(nreg[b])):
            b_idx.append(b); r_idx.append(r)
    if not b_idx:
        return l_hm, hm_p.sum() * 0
    bi, ri = torch.tensor(b_idx), torch.tensor(r_idx)
    t = reg[bi, ri]
    cj, ci = t[:, 0].long(), t[:, 1].long()
    l_size = F.l1_loss(torch.log(size_p[bi, :, cj, ci]), torch.log(t[:, 2:4].clamp(min=1.0)))
    l_off = F.l1_loss(off_p[bi, :, cj, ci], t[:, 4:6])
    return l_hm, l_size + l_off


def mask_loss(m, mask, ign):
    m = m[:, 0].clamp(1e-4, 1 - 1e-4)
    keep = 1 - ign * (1 - mask)
    bce = -(mask * torch.log(m) * 3 + (1 - mask) * torch.log(1 - m)) * keep
    inter = (m * mask).sum()
    return bce.mean() + 0.5 * (1 - (2 * inter + 1) / (m.sum() + mask.sum() + 1))


def batch_losses(model, items):
    x = torch.from_numpy(np.stack([i[1] for i in items]))
    outs = model(x)
    ign_all = torch.from_numpy(np.stack([i[3] for i in items]))
    mask_all = torch.from_numpy(np.stack([i[4] for i in items]))
    total, parts = 0.0, {}
    for h, name in enumerate(model.head_names):
        idx = [n for n, i in enumerate(items) if i[0] == name]
        if not idx:
            continue
        ti = torch.tensor(idx)
        hm = torch.from_numpy(np.stack([items[n][2] for n in idx]))
        reg = torch.from_numpy(np.stack([items[n][5] for n in idx]))
        nreg = torch.tensor([items[n][6] for n in idx])
        l_hm, l_reg = head_loss(outs[3 * h][ti], outs[3 * h + 1][ti], outs[3 * h + 2][ti], hm, ign_all[ti], reg, nreg)
        # Each head's loss weighs by its share of the batch, so that the heads' gradients add up like one head's.
        w = len(idx) / len(items)
        total = total + w * (l_hm + l_reg)
        parts[name] = l_hm.item()
    if model.mask is not None:
        lm = mask_loss(outs[-1], mask_all, ign_all)
        total = total + lm
        parts['mask'] = lm.item()
    return total, parts


def fused_detections(model, st, heads: List[str]):
    """The detections [(score, type index, box, head)] of the chosen heads on one volume, duplicates across heads
    merged (3D IoU >= 0.3: the best score kept), as the runtime's proposal fusion does per slice."""
    return fuse_heads(head_detections(model, st, heads))


def fuse_heads(by_head, calibration=None):
    """fused_detections from {head: [(score, type index, box)]}; `calibration` {head: (a, b)} maps a head's scores by
    Platt scaling first (src/detect/fuse.ts calibratedScore)."""
    cal = calibration or {}
    dets = [(platt(cal.get(name), s), t, b, name) for name, found in by_head.items() for s, t, b in found]
    dets.sort(key=lambda d: -d[0])
    kept = []
    for d in dets:
        if all(iou3d(d[2], k[2]) < 0.3 for k in kept):
            kept.append(d)
    return kept


def platt(ab, s: float) -> float:
    if ab is None:
        return s
    p = min(max(s, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(ab[0] * math.log(p / (1 - p)) + ab[1])))


def head_detections(model, st, heads: List[str]):
    """{head name: 3D detections [(score, universal type index, box)]} from one pass of the network."""
    from sanity import detect_heads
    idx = [model.head_names.index(h) for h in heads]
    found = detect_heads(model, st, idx)
    out = {}
    for name, h in zip(heads, idx):
        classes = model.head_classes.get(name, spec.LESION_TYPES)
        # The best 60 per head reach far beyond the 8 false positives per volume the FROC needs.
        out[name] = [(s, spec.LESION_TYPES.index(classes[c]), b) for s, c, b in found[h][:60]]
    return out


def iou3d(a, b):
    inter = 1.0
    for k in range(3):
        inter *= max(0.0, min(a[k + 3], b[k + 3]) - max(a[k], b[k]))
    va = np.prod([max(0.0, a[k + 3] - a[k]) for k in range(3)])
    vb = np.prod([max(0.0, b[k + 3] - b[k]) for k in range(3)])
    u = va + vb - inter
    return inter / u if u > 0 else 0.0


@torch.no_grad()
def validate(model, val, heads: List[str]) -> Dict:
    from sanity import FP_RATES, froc
    model.eval()
    results = []
    for st in val:
        gts = [(spec.LESION_TYPES[l.type_index], [l.x0, l.y0, l.z0, l.x1, l.y1, l.z1]) for l in st.lesions]
        results.append(([d[:3] for d in fused_detections(model, st, heads)], gts))
    model.train()
    sens = froc(results)
    return {'sensitivity': dict(zip([str(r) for r in FP_RATES], [round(v, 3) for v in sens])), 'average': round(float(np.mean(sens)), 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--set', action='append', required=True, help='dataset=folder of raw studies (lens synth --format raw); '
                    f'datasets: {", ".join(DATASETS)}; one head per dataset given')
    ap.add_argument('--weights', default='deeplesion=0.5,luna=0.1667,lits=0.1667,nihln=0.1667',
                    help='share of the crops drawn from each dataset (renormalised over the datasets given)')
    ap.add_argument('--val', required=True, help='fully labelled raw validation studies (another seed)')
    ap.add_argument('--select-heads', default='', help='heads whose fused detections select the checkpoint (default: all)')
    ap.add_argument('--mined', default='', help='folder of mine_lens.py results for the deeplesion studies')
    ap.add_argument('--mining', default='', help=f'strategies to use, comma-separated: {", ".join(MINING_STRATEGIES)}')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', required=True)
    ap.add_argument('--runs', required=True)
    ap.add_argument('--cache', default='models/training/data/cache')
    ap.add_argument('--iters', type=int, default=3000)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--crop', type=int, default=128)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--pos-fraction', type=float, default=0.6)
    ap.add_argument('--val-every', type=int, default=750)
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--widths', default='16,24,48,96,128')
    ap.add_argument('--neck', type=int, default=48)
    ap.add_argument('--version', default='0.0.1-lens')
    ap.add_argument('--name', default='lens-ulb')
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    rng = random.Random(a.seed)
    os.makedirs(a.runs, exist_ok=True)
    t_start = time.time()
    studies = load_sets(a.set, a.cache)
    strategies = [s for s in a.mining.split(',') if s]
    for s in strategies:
        if s not in MINING_STRATEGIES:
            raise SystemExit(f'--mining: unknown strategy {s!r} (known: {", ".join(MINING_STRATEGIES)})')
    if strategies:
        if not a.mined and strategies != ['propagation']:
            raise SystemExit('--mining transfer / intra-patient need --mined DIR (mine_lens.py)')
        for s in studies:
            if s.dataset == 'deeplesion':
                if a.mined:
                    load_mined(s, a.mined, strategies)
                s.propagate = 'propagation' in strategies
    names = [d for d in DATASETS if any(s.dataset == d for s in studies)]
    heads = {d: DATASETS[d] for d in names}
    select = [h for h in a.select_heads.split(',') if h] or names
    weights = {k: float(v) for k, v in (e.split('=') for e in a.weights.split(','))}
    val = [load_study(d, a.cache) for d in list_studies(a.val)]
    counts = {d: {'studies': sum(s.dataset == d for s in studies),
                  'labels': sum(len(s.labels) + len(s.key_labels) for s in studies if s.dataset == d),
                  'lesionsInTruth': sum(len(s.study.lesions) for s in studies if s.dataset == d),
                  'pseudo': sum(len(s.pseudo) for s in studies if s.dataset == d),
                  'ignore': sum(len(s.ignore) for s in studies if s.dataset == d)} for d in names}
    print(f'datasets {json.dumps(counts)}; validation {len(val)} studies; loaded in {time.time() - t_start:.0f}s', flush=True)

    arch = {'widths': [int(v) for v in a.widths.split(',')], 'neck': a.neck, 'slices': spec.SLICES, 'heads': heads}
    model = build_model(arch)
    set_train_mode(model, False)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    warm = max(1, min(200, a.iters // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, a.iters) / a.iters)))
    sampler = LensSampler(studies, weights, a.crop, a.pos_fraction, rng, spec.SLICES, augment=True)
    folders = [e.split('=', 1)[1] for e in a.set]
    provenance = {'git': git_record(), 'dataSets': [dataset_record(f, list_studies(f), 'train') for f in folders] +
                  [dataset_record(a.val, list_studies(a.val), 'validation')]}
    best, best_m, ck_path = -1.0, None, os.path.join(a.runs, 'best.pt')
    history = []
    t0 = time.time()
    acc: Dict[str, float] = {}
    for it in range(1, a.iters + 1):
        items = [sampler.sample() for _ in range(a.batch)]
        loss, parts = batch_losses(model, items)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v
        if it % a.log_every == 0:
            el = time.time() - t0
            print(f'it {it} ' + ' '.join(f'{k} {v / a.log_every:.3f}' for k, v in acc.items()) +
                  f' lr {sched.get_last_lr()[0]:.2e} {el / it:.2f}s/it elapsed {el / 60:.1f}min', flush=True)
            acc = {}
        if it % a.val_every == 0 or it == a.iters:
            m = validate(model, val, select)
            history.append(dict(m, iteration=it))
            print(f'val it {it}: {json.dumps(m)}', flush=True)
            torch.save({'model': model.state_dict(), 'arch': arch, 'iteration': it, 'metrics': m, 'provenance': provenance},
                       os.path.join(a.runs, f'it-{it}.pt'))
            if m['average'] > best:
                best, best_m = m['average'], dict(m, iteration=it)
                torch.save({'model': model.state_dict(), 'arch': arch, 'iteration': it, 'metrics': m, 'provenance': provenance}, ck_path)
    ck = torch.load(ck_path)
    model.load_state_dict(ck['model'])
    training = {
        'method': 'LENS (Yan et al., arXiv 2009.02577): shared backbone, one head per dataset, each head trained on its '
                  'own dataset\'s label scope (models/training/lens_data.py)',
        'datasets': counts, 'cropShares': {d: weights.get(d, 1.0) for d in names},
        'mining': strategies, 'selectHeads': select,
        'command': shlex.join(['/usr/bin/python3'] + sys.argv), **provenance,
        'run': {'seed': a.seed, 'iters': a.iters, 'batch': a.batch, 'crop': a.crop, 'lr': a.lr, 'posFraction': a.pos_fraction,
                'arch': {'widths': a.widths, 'neck': a.neck}},
        'validation3D': history, 'bestIteration': ck['iteration'],
        'wallTimeMin': round((time.time() - t_start) / 60, 1),
        'machine': f'CPU, {os.cpu_count()} cores, {a.threads} torch thread(s) (torch {torch.__version__})',
    }
    export(model, a.out, a.version, training, head_threshold=0.05, only_heads=select, name=a.name)
    with open(os.path.join(a.runs, 'summary.json'), 'w') as f:
        json.dump(training, f, indent=2)
    print(f'exported best (iteration {ck["iteration"]}, validation average {best:.3f}) to {a.out}', flush=True)


if __name__ == '__main__':
    main()
