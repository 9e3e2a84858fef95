"""Retrain LensNet on Lesion Harvester training sets with a hard-negative suppression loss (Cai et al., arXiv
2001.07776; docs/harvest.md#retraining) and export a candidate model (ONNX + model.json) for the promotion gate
(`lens model promote`).

    lens model training-set --harvest HARVEST_DIR --out SET_DIR
    /usr/bin/python3 models/training/train_harvest.py --data SET_DIR --version 0.4.0-harvest1 --out CANDIDATE_DIR \
        [--partial RAW_DIR --partial-dataset deeplesion] [--init runs/best.pt] [--iters 3000]
    /usr/bin/python3 models/training/train_harvest.py --partial RAW_DIR --version 0.4.0-partial --out BASELINE_DIR
    /usr/bin/python3 models/training/train_harvest.py --data SET_DIR --labels-only --version 0.4.0-labels --out BASELINE_DIR
        (the baseline of the retraining figure: the same volumes with the archive's labels alone)

Data:
  --data      harvest training sets (`lens model training-set`): truth.json `lesions` are the positives (the labels
              already in the archive and the harvested lesions), `hardNegatives` are pushed down, `uncertain`
              candidates are neither positive nor background (ignored by the heatmap loss);
  --partial   raw studies (`lens synth --format raw`) of which only the lesions a dataset labels
              (`labeled[--partial-dataset]`) are positives: the partially labeled data the model learned from before.

Loss: train.py's CenterNet losses (focal heatmap, size, offset, mask) on the positives, plus the hard-negative
suppression term --hn-weight * sum over hard-negative cells of -log(1 - p) p^2 (every heatmap channel), divided by
the number of hard negatives in the batch. Crops are centred on a positive (--pos-fraction), on a hard negative
(--hn-fraction) or anywhere. Uses only data.py's and train.py's stable names: load_study, stack_at, make_targets,
lesion_on_slice, truth_to_boxes, list_studies, losses.
"""
import argparse
import json
import math
import os
import random
import shlex
import sys
import time
from typing import List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402
from data import LesionBox, Study, TYPE_INDEX, lesion_on_slice, list_studies, load_study, make_targets, stack_at, truth_to_boxes  # noqa: E402
from export import build_model, export  # noqa: E402
from provenance import dataset_record, file_sha256, git_record  # noqa: E402
from train import losses  # noqa: E402


class HarvestStudy:
    """A study with its positives (study.lesions), hard negatives and ignored (uncertain) boxes, model-input coordinates."""

    def __init__(self, study: Study, hard_negatives: List[LesionBox], uncertain: List[LesionBox]):
        self.study, self.hard_negatives, self.uncertain = study, hard_negatives, uncertain


def boxes_of(meta: dict, entries: list) -> List[LesionBox]:
    """bboxLPS entries of any type (a hard negative's type does not matter: every channel is pushed down)."""
    typed = [dict(e, type=e['type'] if e.get('type') in TYPE_INDEX else spec.LESION_TYPES[-1]) for e in entries]
    return truth_to_boxes(meta, {'studies': [{'lesions': typed}]})


def load_harvest_study(folder: str, cache: str, partial_dataset: str = '', labels_only: bool = False) -> HarvestStudy:
    st = load_study(folder, cache)
    with open(os.path.join(folder, 'truth.json')) as f:
        truth = json.load(f)
    with open(os.path.join(folder, 'volume.json')) as f:
        meta = json.load(f)
    if partial_dataset:
        labeled = [les for s in truth['studies'] for les in s['lesions'] if (les.get('labeled') or {}).get(partial_dataset)]
        st.lesions = truth_to_boxes(meta, {'studies': [{'lesions': labeled}]})
    if labels_only:
        # The baseline of the retraining figure: the archive's labels exactly as the harvest set holds them (same boxes),
        # without what the harvest added; harvested lesions are background again, as in the archive.
        labels = [les for s in truth['studies'] for les in s['lesions'] if les.get('harvest') == 'label']
        st.lesions = truth_to_boxes(meta, {'studies': [{'lesions': labels}]})
        return HarvestStudy(st, [], [])
    hn = boxes_of(meta, [e for s in truth['studies'] for e in s.get('hardNegatives', [])])
    unc = boxes_of(meta, [e for s in truth['studies'] for e in s.get('uncertain', [])])
    return HarvestStudy(st, hn, unc)


def cells_inside(boxes: List[LesionBox], z: float, y0: int, x0: int, hs: int, ws: int) -> Tuple[np.ndarray, int]:
    """[hs, ws] map of the stride-4 cells whose centre lies in a box's cross-section at z; how many boxes meet the slice."""
    s = spec.STRIDE
    out = np.zeros((hs, ws), dtype=np.float32)
    gy, gx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    cx_px, cy_px = gx * s + (s - 1) / 2 + x0, gy * s + (s - 1) / 2 + y0
    n = 0
    for b in boxes:
        sl = lesion_on_slice(b, z)
        if sl is None:
            continue
        inside = (cx_px >= sl[0]) & (cx_px <= sl[2]) & (cy_px >= sl[1]) & (cy_px <= sl[3])
        if inside.any():
            out[inside] = 1.0
            n += 1
    return out, n


class HarvestSampler:
    def __init__(self, studies: List[HarvestStudy], crop: int, pos_fraction: float, hn_fraction: float, rng: random.Random, slices: int):
        self.studies, self.crop, self.rng, self.slices = studies, crop, rng, slices
        self.pos_fraction, self.hn_fraction = pos_fraction, hn_fraction
        self.positives = [(i, b) for i, s in enumerate(studies) for b in s.study.lesions]
        self.negatives = [(i, b) for i, s in enumerate(studies) for b in s.hard_negatives]

    def around(self, box: LesionBox) -> Tuple[float, int, int]:
        r, c = self.rng, self.crop
        zc, hz = (box.z0 + box.z1) / 2, (box.z1 - box.z0) / 2
        z = zc + r.uniform(-0.7, 0.7) * hz
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        return z, int(round(cx - r.uniform(0.15, 0.85) * c)), int(round(cy - r.uniform(0.15, 0.85) * c))

    def sample(self):
        r, c = self.rng, self.crop
        u = r.random()
        if self.positives and u < self.pos_fraction:
            si, box = r.choice(self.positives)
            z, x0, y0 = self.around(box)
        elif self.negatives and u < self.pos_fraction + self.hn_fraction:
            si, box = r.choice(self.negatives)
            z, x0, y0 = self.around(box)
        else:
            si = r.randrange(len(self.studies))
            st = self.studies[si].study
            _, H, W = st.vol.shape
            z = r.uniform(0, st.z_extent)
            x0 = r.randint(min(0, W - c), max(0, W - c))
            y0 = r.randint(min(0, H - c), max(0, H - c))
        hs_ = self.studies[si]
        x = stack_at(hs_.study, z, y0, x0, c, c, self.slices)
        hm, ign, mask, reg, nreg = make_targets(hs_.study.lesions, z, y0, x0, c, c)
        unc, _ = cells_inside(hs_.uncertain, z, y0, x0, c // spec.STRIDE, c // spec.STRIDE)
        ign = np.maximum(ign, unc * (hm.max(0) < 0.01))
        hn, n_hn = cells_inside(hs_.hard_negatives, z, y0, x0, c // spec.STRIDE, c // spec.STRIDE)
        # A hard negative overlapping a positive's peak region is not pushed down there.
        hn = hn * (hm.max(0) < 0.01)
        return x, hm, ign, mask, reg, nreg, hn, n_hn

    def batch(self, n: int):
        items = [self.sample() for _ in range(n)]
        st = lambda k: torch.from_numpy(np.stack([i[k] for i in items]))  # noqa: E731
        return st(0), st(1), st(2), st(3), st(4), torch.tensor([i[5] for i in items]), st(6), sum(i[7] for i in items)


def suppression_loss(hm_p: torch.Tensor, hn: torch.Tensor, n_hn: int) -> torch.Tensor:
    """-log(1 - p) p^2 on every channel of the hard-negative cells, per hard negative in the batch."""
    p = hm_p.clamp(1e-4, 1 - 1e-4)
    term = -torch.log(1 - p) * p ** 2 * hn.unsqueeze(1)
    return term.sum() / max(1, n_hn)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='', help='harvest training set folder(s), comma-separated (lens model training-set)')
    ap.add_argument('--partial', default='', help='raw studies (lens synth --format raw) with partial labels, comma-separated')
    ap.add_argument('--partial-dataset', default='deeplesion', help='the dataset whose labels (truth labeled.<name>) count in --partial')
    ap.add_argument('--labels-only', action='store_true',
                    help='--data studies with their readers\' labels alone (no harvested lesion, hard negative or uncertain): '
                         'the baseline "trained on the partial labels alone", on the same volumes and label boxes')
    ap.add_argument('--version', required=True, help='the candidate\'s version: a new one (jobs are keyed by model version)')
    ap.add_argument('--out', required=True, help='candidate model folder (model.onnx + model.json)')
    ap.add_argument('--runs', default='', help='checkpoint folder (default: <out>-runs)')
    ap.add_argument('--cache', default='models/training/data/cache')
    ap.add_argument('--init', help='start from this train.py checkpoint (fine-tuning the current model)')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--iters', type=int, default=3000)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--crop', type=int, default=128)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--pos-fraction', type=float, default=0.5)
    ap.add_argument('--hn-fraction', type=float, default=0.3, help='crops centred on a hard negative')
    ap.add_argument('--hn-weight', type=float, default=1.0, help='weight of the hard-negative suppression loss')
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    rng = random.Random(a.seed)
    runs = a.runs or a.out.rstrip('/') + '-runs'
    os.makedirs(runs, exist_ok=True)
    t_start = time.time()

    sets = [(d, list_studies(d), '') for d in a.data.split(',') if d] + [(d, list_studies(d), a.partial_dataset) for d in a.partial.split(',') if d]
    if not sets:
        sys.exit('give --data (harvest training sets) and/or --partial (partially labeled raw studies)')
    for root, dirs, _ in sets:
        if not dirs:
            sys.exit(f'no training studies (volume.i16 + truth.json) in {root}')
    studies = [load_harvest_study(d, a.cache, ds, a.labels_only and not ds) for _, dirs, ds in sets for d in dirs]
    n_pos = sum(len(s.study.lesions) for s in studies)
    n_hn = sum(len(s.hard_negatives) for s in studies)
    if n_pos == 0:
        sys.exit('no positive lesion in the training data')
    print(f'loaded {len(studies)} studies: {n_pos} positives, {n_hn} hard negatives, '
          f'{sum(len(s.uncertain) for s in studies)} uncertain, in {time.time() - t_start:.0f}s', flush=True)
    harvest_labels = 'harvest: readers\' labels only' if a.labels_only else 'harvest'
    data_sets = [dict(dataset_record(root, dirs, 'train'), labels=harvest_labels if not ds else f'partial: labeled.{ds}') for root, dirs, ds in sets]

    arch = {'widths': [16, 24, 48, 96, 128], 'neck': 48, 'slices': spec.SLICES}
    run = {'seed': a.seed, 'iters': a.iters, 'batch': a.batch, 'crop': a.crop, 'lr': a.lr, 'posFraction': a.pos_fraction,
           'hnFraction': a.hn_fraction, 'hnWeight': a.hn_weight}
    if a.init:
        init = torch.load(a.init, map_location='cpu')
        arch = init.get('arch', arch)
        model = build_model(arch)
        model.load_state_dict(init['model'])
        run.update({'init': a.init, 'initSha256': file_sha256(a.init)})
    else:
        model = build_model(arch)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    warm = max(1, min(200, a.iters // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, a.iters) / a.iters)))
    sampler = HarvestSampler(studies, a.crop, a.pos_fraction, a.hn_fraction, rng, model.in_slices)
    acc = np.zeros(5)
    t0 = time.time()
    for it in range(1, a.iters + 1):
        x, hm, ign, mask, reg, nreg, hn, nb_hn = sampler.batch(a.batch)
        outs = model(x)
        l_hm, l_size, l_off, l_mask = losses(outs, hm, ign, mask, reg, nreg)
        l_hn = suppression_loss(outs[0], hn, nb_hn)
        loss = l_hm + l_size + l_off + l_mask + a.hn_weight * l_hn
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
        acc += [l_hm.item(), l_size.item(), l_off.item(), l_mask.item(), l_hn.item()]
        if it % a.log_every == 0 or it == a.iters:
            n = a.log_every if it % a.log_every == 0 else it % a.log_every
            el = time.time() - t0
            print(f'it {it} hm {acc[0] / n:.3f} size {acc[1] / n:.3f} off {acc[2] / n:.3f} mask {acc[3] / n:.3f} '
                  f'hard-neg {acc[4] / n:.4f} {el / it:.2f}s/it', flush=True)
            acc[:] = 0
    provenance = {'git': git_record(), 'dataSets': data_sets}
    # The last weights are the candidate: the promotion gate, not a validation split here, decides whether they serve.
    ck = os.path.join(runs, 'last.pt')
    torch.save({'model': model.state_dict(), 'arch': arch, 'iteration': a.iters, 'provenance': provenance}, ck)
    training = {
        'data': 'Lesion Harvester training sets (docs/harvest.md#retraining)',
        'trainingStudies': len(studies), 'positives': n_pos, 'hardNegatives': n_hn,
        'labels': ('readers\' labels alone as positives (baseline)' if a.labels_only else
                   'readers\' labels and harvested lesions as positives; hard negatives suppressed; uncertain ignored'),
        'loss': f'train.py losses + {a.hn_weight} x hard-negative suppression (-log(1-p) p^2 on hard-negative cells)',
        'command': shlex.join(['/usr/bin/python3'] + sys.argv), **provenance, 'run': run,
        'checkpoint': ck, 'wallTimeMin': round((time.time() - t_start) / 60, 2),
        'machine': f'CPU, {os.cpu_count()} cores, {a.threads} torch thread(s) (torch {torch.__version__})',
    }
    export(model, a.out, a.version, training)
    print(f'exported candidate {a.version} to {a.out} (checkpoint {ck}); total {(time.time() - t_start) / 60:.1f} min', flush=True)


if __name__ == '__main__':
    main()
