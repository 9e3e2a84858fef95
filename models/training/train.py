"""Train LensNet on `lens synth --format raw` studies and export the best checkpoint to ONNX + model.json.

    /usr/bin/python3 models/training/train.py --train DIR --val DIR --seed 1 --out models/lens-ulb

All lesions of the synthetic studies are used as labels (fully labeled training); the LENS partial-label method
(several dataset-specific heads, each trained on the lesions its dataset labels) comes with a later issue.
"""
import argparse
import json
import math
import os
import random
import shlex
import sys
import time
from dataclasses import replace
from typing import List

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402
from provenance import dataset_record, file_sha256, git_record  # noqa: E402
from scipy import ndimage  # noqa: E402
from data import MIN_FRAC, LesionBox, Study, lesion_on_slice, list_studies, load_study, make_targets, stack_at  # noqa: E402
from export import build_model, export  # noqa: E402


def mirror(les: LesionBox, x0: int, y0: int, c: int, fx: bool, fy: bool) -> LesionBox:
    """The lesion as seen in a crop [y0:y0+c, x0:x0+c] flipped left-right (fx) and/or up-down (fy): crop pixel p
    goes to c-1-p, so a global coordinate u goes to 2*origin + c - 1 - u."""
    def fl(u0, u1, kb0, kb1, o):
        return 2 * o + c - 1 - u1, 2 * o + c - 1 - u0, 2 * o + c - 1 - kb1, 2 * o + c - 1 - kb0
    kb = les.key_box or (les.x0, les.y0, les.x1, les.y1)
    nx0, nx1, kx0, kx1 = fl(les.x0, les.x1, kb[0], kb[2], x0) if fx else (les.x0, les.x1, kb[0], kb[2])
    ny0, ny1, ky0, ky1 = fl(les.y0, les.y1, kb[1], kb[3], y0) if fy else (les.y0, les.y1, kb[1], kb[3])
    return replace(les, x0=nx0, x1=nx1, y0=ny0, y1=ny1, key_box=(kx0, ky0, kx1, ky1))


def flip_crop(x: np.ndarray, lesions: List[LesionBox], ignore: List[LesionBox], x0: int, y0: int, c: int, r: random.Random):
    """A random left-right / up-down flip of a crop [C, c, c] at (x0, y0) with its truth boxes mirrored, and a random
    slab order (three draws from r, always in this order)."""
    fx, fy = r.random() < 0.5, r.random() < 0.3
    if fx or fy:
        x = x[:, ::-1 if fy else 1, ::-1 if fx else 1]
        lesions = [mirror(les, x0, y0, c, fx, fy) for les in lesions]
        ignore = [mirror(g, x0, y0, c, fx, fy) for g in ignore]
    if r.random() < 0.5:
        x = x[::-1]
    return x, lesions, ignore


def rescale_crop(st: Study, z: float, x0: int, y0: int, c: int, s: float, slices: int):
    """A crop of c*s input pixels around the centre of the c x c crop at (x0, y0), resampled (bilinear) to c x c: the
    anatomy and its lesions 1/s times their size, as in a smaller (s > 1) or larger patient. Returns the stack and
    the map that takes a LesionBox (truth or ignore region, input pixels) into the frame of the c x c crop at (x0, y0),
    so that make_targets(..., y0, x0, c, c) places it where the resampled image shows it."""
    cs = max(8, int(round(c * s)))
    ox, oy = int(round(x0 + (c - cs) / 2)), int(round(y0 + (c - cs) / 2))
    k = c / cs
    x = ndimage.zoom(stack_at(st, z, oy, ox, cs, cs, slices), (1, k, k), order=1)[:, :c, :c]
    if x.shape[1] < c or x.shape[2] < c:
        x = np.pad(x, ((0, 0), (0, c - x.shape[1]), (0, c - x.shape[2])))

    def to_crop(les: LesionBox) -> LesionBox:
        fx = lambda u: x0 + (u - ox + 0.5) * k - 0.5  # noqa: E731 (pixel centres map to pixel centres)
        fy = lambda v: y0 + (v - oy + 0.5) * k - 0.5  # noqa: E731
        kb = les.key_box
        return replace(les, x0=fx(les.x0), x1=fx(les.x1), y0=fy(les.y0), y1=fy(les.y1),
                       key_box=None if kb is None else (fx(kb[0]), fy(kb[1]), fx(kb[2]), fy(kb[3])))
    return np.ascontiguousarray(x, dtype=np.float32), to_crop


def hu_jitter(x: np.ndarray, r: random.Random) -> np.ndarray:
    """A small HU gain/offset (scanner calibration) on a window-normalised stack; zero padding stays zero."""
    lo, hi = spec.HU_WINDOW
    v0 = -lo / (hi - lo)
    gain, shift = r.uniform(0.95, 1.05), r.uniform(-15, 15) / (hi - lo)
    return np.clip((x - v0) * gain + v0 + shift, 0, 1) * (x > 0)


def correlated_noise(rng: np.random.Generator, shape, sd: float, sigma: float) -> np.ndarray:
    """White noise filtered by a Gaussian kernel of `sigma` pixels, rescaled to standard deviation `sd`: the
    correlated noise of a real reconstruction kernel (the phantom's own noise is nearly white)."""
    n = rng.standard_normal(shape).astype(np.float32)
    if sigma > 0.3:
        n = ndimage.gaussian_filter(n, (0, sigma, sigma))
    return n * (sd / max(float(n.std()), 1e-6))


def domain_randomise(x: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Against learning one generator's look (issue 10 item 5): on a window-normalised stack [C, h, w], a random
    reconstruction kernel (Gaussian blur or unsharp-mask sharpening), added correlated noise, and a random HU gain
    and offset. `strength` scales the ranges (1 for phantoms, less for real CT, which already looks real).
    Zero-padding outside the image stays zero."""
    lo, hi = spec.HU_WINDOW
    span = hi - lo
    pad = x <= 0
    hu = x * span + lo
    k = rng.random()
    if k < 0.35:
        hu = ndimage.gaussian_filter(hu, (0, *(rng.uniform(0.4, 1.2 * strength + 0.2),) * 2))
    elif k < 0.6:
        b = ndimage.gaussian_filter(hu, (0, *(rng.uniform(0.6, 1.5),) * 2))
        hu = hu + rng.uniform(0.2, 0.8 * strength) * (hu - b)
    if rng.random() < 0.7:
        hu = hu + correlated_noise(rng, hu.shape, rng.uniform(3, 30 * strength + 3), rng.uniform(0, 1.5))
    gain, shift = rng.uniform(1 - 0.08 * strength, 1 + 0.08 * strength), rng.uniform(-30, 30) * strength
    hu = (hu - lo) * gain + lo + shift
    out = np.clip((hu - lo) / span, 0, 1)
    out[pad] = 0
    return out.astype(np.float32)


class Sampler:
    """Random 2.5D crops: positives centred (randomly placed) on a lesion slice, negatives anywhere. With real-CT
    studies (lesions inserted into real anatomy), `real_fraction` of the crops come from them, and among those
    `proposal_fraction` are centred on an earlier model's detections on the real anatomy (hard negatives); their
    ignore regions are passed to the targets."""

    def __init__(self, studies: List[Study], crop: int, pos_fraction: float, rng: random.Random, augment: bool = False,
                 slices: int = spec.SLICES, real_fraction: float = 0.0, proposal_fraction: float = 0.0,
                 real_pos_fraction: float = 0.5, domain_rand: float = 0.0, scale_aug: float = 0.0):
        self.crop, self.pos_fraction, self.rng, self.augment = crop, pos_fraction, rng, augment
        self.scale_aug = scale_aug
        self.slices = slices
        self.phantoms = [st for st in studies if not st.real]
        self.reals = [st for st in studies if st.real]
        self.real_fraction = real_fraction if self.reals else 0.0
        if not self.phantoms:
            self.real_fraction = 1.0
        self.proposal_fraction, self.real_pos_fraction, self.domain_rand = proposal_fraction, real_pos_fraction, domain_rand
        self.np_rng = np.random.default_rng(rng.randrange(2 ** 32))
        self.pools = {False: self._by_type(self.phantoms), True: self._by_type(self.reals)}

    @staticmethod
    def _by_type(studies: List[Study]):
        # Balance lesion types: sample a type first, then a lesion of that type.
        by_type = {}
        for st in studies:
            for les in st.lesions:
                by_type.setdefault(les.type_index, []).append((st, les))
        return by_type

    def _around(self, box: LesionBox, along_z: float):
        r, c = self.rng, self.crop
        zc, hz = (box.z0 + box.z1) / 2, (box.z1 - box.z0) / 2
        z = zc + r.uniform(-1, 1) * hz * along_z
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        return z, int(round(cx - r.uniform(0.15, 0.85) * c)), int(round(cy - r.uniform(0.15, 0.85) * c))

    def sample(self):
        r, c = self.rng, self.crop
        real = r.random() < self.real_fraction
        studies, by_type = (self.reals, self.pools[True]) if real else (self.phantoms, self.pools[False])
        u = r.random()
        pos_fraction = self.real_pos_fraction if real else self.pos_fraction
        if by_type and u < pos_fraction:
            st, les = r.choice(by_type[r.choice(sorted(by_type))])
            z, x0, y0 = self._around(les, math.sqrt(1 - MIN_FRAC ** 2))
        elif real and u < pos_fraction + self.proposal_fraction and any(s.proposals for s in studies):
            st = r.choice([s for s in studies if s.proposals])
            z, x0, y0 = self._around(r.choice(st.proposals), 0.8)
        else:
            st = r.choice(studies)
            z = r.uniform(0, st.z_extent)
            _, H, W = st.vol.shape
            x0 = r.randint(min(0, W - c), max(0, W - c))
            y0 = r.randint(min(0, H - c), max(0, H - c))
        lesions, ignore_regions = st.lesions, st.ignore
        if self.augment and self.scale_aug > 0 and r.random() < 0.5:
            # Four real patients are little anatomy: half of the crops rescaled by up to (1 + scale_aug) either way.
            f = math.log(1 + self.scale_aug)
            x, to_crop = rescale_crop(st, z, x0, y0, c, math.exp(r.uniform(-f, f)), self.slices)
            lesions, ignore_regions = [to_crop(les) for les in lesions], [to_crop(g) for g in ignore_regions]
        else:
            x = stack_at(st, z, y0, x0, c, c, self.slices)
        if self.augment:
            # Against memorising 50-150 phantoms: flips (the lesion's look matters more than its side), slab order,
            # a small HU gain/offset (scanner calibration). Flips mirror the truth boxes, not the target maps: the
            # stride-4 cell grid is not symmetric under a pixel flip.
            x, lesions, ignore_regions = flip_crop(x, lesions, ignore_regions, x0, y0, c, r)
            if self.domain_rand > 0 and r.random() < 0.7:
                x = domain_randomise(np.ascontiguousarray(x), self.np_rng, self.domain_rand * (0.4 if real else 1.0))
            elif r.random() < 0.5:
                x = hu_jitter(x, r)
            x = np.ascontiguousarray(x, dtype=np.float32)
        hm, ignore, mask, reg, nreg = make_targets(lesions, z, y0, x0, c, c, ignore_regions)
        return x, hm, ignore, mask, reg, nreg

    def batch(self, n: int):
        items = [self.sample() for _ in range(n)]
        x = torch.from_numpy(np.stack([i[0] for i in items]))
        hm = torch.from_numpy(np.stack([i[1] for i in items]))
        ign = torch.from_numpy(np.stack([i[2] for i in items]))
        mask = torch.from_numpy(np.stack([i[3] for i in items]))
        reg = torch.from_numpy(np.stack([i[4] for i in items]))
        nreg = torch.tensor([i[5] for i in items])
        return x, hm, ign, mask, reg, nreg


def set_train_mode(model, freeze_bn: bool):
    """Training mode; with freeze_bn the BatchNorms stay in eval mode (their running statistics are used and not
    updated), as for a checkpoint recovered from an ONNX file (onnx_to_checkpoint.py)."""
    model.train()
    if freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()


def focal_loss(pred: torch.Tensor, gt: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss; cells of ignored lesion tips contribute nothing."""
    pred = pred.clamp(1e-4, 1 - 1e-4)
    keep = (1 - ignore).unsqueeze(1)
    pos = gt.eq(1).float()
    neg = (1 - pos) * keep
    pos_loss = torch.log(pred) * (1 - pred) ** 2 * pos
    neg_loss = torch.log(1 - pred) * pred ** 2 * (1 - gt) ** 4 * neg
    npos = pos.sum()
    return -(pos_loss.sum() + neg_loss.sum()) / npos.clamp(min=1)


def losses(outputs, hm, ign, mask, reg, nreg):
    hm_p, size_p, off_p = outputs[0], outputs[1], outputs[2]
    l_hm = focal_loss(hm_p, hm, ign)
    # Gather regression outputs at the centre cells.
    b_idx, r_idx = [], []
    for b in range(reg.shape[0]):
        for r in range(int(nreg[b])):
            b_idx.append(b); r_idx.append(r)
    if b_idx:
        bi = torch.tensor(b_idx); ri = torch.tensor(r_idx)
        t = reg[bi, ri]
        cj, ci = t[:, 0].long(), t[:, 1].long()
        ps = size_p[bi, :, cj, ci]
        po = off_p[bi, :, cj, ci]
        l_size = F.l1_loss(torch.log(ps), torch.log(t[:, 2:4].clamp(min=1.0)))
        l_off = F.l1_loss(po, t[:, 4:6])
    else:
        l_size = l_off = hm_p.sum() * 0
    l_mask = hm_p.sum() * 0
    if len(outputs) > 3:
        m = outputs[3][:, 0].clamp(1e-4, 1 - 1e-4)
        keep = 1 - ign * (1 - mask)
        bce = -(mask * torch.log(m) * 3 + (1 - mask) * torch.log(1 - m)) * keep
        inter = (m * mask).sum()
        dice = 1 - (2 * inter + 1) / (m.sum() + mask.sum() + 1)
        l_mask = bce.mean() + 0.5 * dice
    return l_hm, l_size, l_off, l_mask


def decode_peaks(hm: torch.Tensor, k: int = 20):
    """Top-k local maxima (3x3) of a [C, h, w] heatmap: list of (score, class, cy, cx)."""
    mx = F.max_pool2d(hm.unsqueeze(0), 3, 1, 1)[0]
    keep = (hm == mx).float() * hm
    c, h, w = keep.shape
    scores, idx = keep.reshape(-1).topk(min(k, keep.numel()))
    out = []
    for s, i in zip(scores.tolist(), idx.tolist()):
        out.append((s, i // (h * w), (i % (h * w)) // w, i % w))
    return out


@torch.no_grad()
def validate(model, studies: List[Study], rng: random.Random, max_slices: int = 120, thr: float = 0.3):
    """2D proxy of the detection metric on full validation slices: lesion-slice sensitivity (a peak above thr
    whose decoded centre lies inside the lesion's box), type accuracy of hits, and false peaks per slice
    (peaks above thr inside no lesion box) on lesion and random slices."""
    model.eval()
    jobs = []
    for st in studies:
        for les in st.lesions:
            jobs.append((st, (les.z0 + les.z1) / 2))
    rng.shuffle(jobs)
    jobs = jobs[:max_slices]
    for st in studies[:max(1, max_slices // 8)]:
        jobs.append((st, rng.uniform(0, st.z_extent)))
    hits = total = fps = type_ok = 0
    per_type = {}
    s = spec.STRIDE
    for st, z in jobs:
        _, H, W = st.vol.shape
        Hp = int(math.ceil(H / spec.SIZE_MULTIPLE) * spec.SIZE_MULTIPLE)
        Wp = int(math.ceil(W / spec.SIZE_MULTIPLE) * spec.SIZE_MULTIPLE)
        x = torch.from_numpy(stack_at(st, z, 0, 0, Hp, Wp, model.in_slices)).unsqueeze(0)
        out = model(x)
        peaks = [p for p in decode_peaks(out[0][0]) if p[0] >= thr]
        boxes = []
        for les in st.lesions:
            b = lesion_on_slice(les, z)
            if b is not None:
                boxes.append((les, b))
        used = set()
        for s_, cls, cy, cx in peaks:
            px = (cx + float(out[2][0, 0, cy, cx])) * s
            py = (cy + float(out[2][0, 1, cy, cx])) * s
            inside = [i for i, (les, b) in enumerate(boxes) if b[0] <= px <= b[2] and b[1] <= py <= b[3]]
            if not inside:
                fps += 1
            for i in inside:
                if i not in used:
                    used.add(i)
                    if boxes[i][0].type_index == cls:
                        type_ok += 1
        for i, (les, b) in enumerate(boxes):
            if b[4] >= 0.9:  # only slices near the lesion's widest cross-section count for sensitivity
                total += 1
                pt = per_type.setdefault(spec.LESION_TYPES[les.type_index], [0, 0])
                pt[1] += 1
                if i in used:
                    hits += 1
                    pt[0] += 1
    model.train()
    return {
        'sens': hits / max(1, total), 'lesionSlices': total, 'fpPerSlice': fps / max(1, len(jobs)),
        'typeAcc': type_ok / max(1, hits), 'perType': {k: round(v[0] / max(1, v[1]), 3) for k, v in per_type.items()},
    }


@torch.no_grad()
def validate_3d(model, studies: List[Study]):
    from sanity import FP_RATES, detect, froc
    model.eval()
    results = []
    for st in studies:
        dets = detect(model, st)
        results.append((dets, [(spec.LESION_TYPES[l.type_index], [l.x0, l.y0, l.z0, l.x1, l.y1, l.z1]) for l in st.lesions]))
    model.train()
    sens = froc(results)
    return {'sensitivity': dict(zip([str(r) for r in FP_RATES], [round(v, 3) for v in sens])), 'average': round(float(np.mean(sens)), 3)}


def widen_input(state: dict, slices: int) -> dict:
    """A checkpoint's weights for a model with `slices` inputs: the first convolution's kernels of the old centre
    slices keep their place in the middle and the added outer slices get zero kernels (same outputs as before)."""
    key = 'stem.0.0.weight'
    w = state[key]
    old = w.shape[1]
    if old == slices:
        return state
    if slices < old or (slices - old) % 2:
        raise SystemExit(f'cannot widen a {old}-slice checkpoint to {slices} slices')
    pad = (slices - old) // 2
    wide = torch.zeros(w.shape[0], slices, *w.shape[2:], dtype=w.dtype)
    wide[:, pad:pad + old] = w
    return dict(state, **{key: wide})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--train', required=True, help='folder(s), comma-separated, of raw synthetic studies (lens synth --format raw)')
    ap.add_argument('--val', required=True, help='folder of raw validation studies (another seed)')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', default='models/lens-ulb')
    ap.add_argument('--runs', default='models/training/runs')
    ap.add_argument('--cache', default='models/training/data/cache')
    ap.add_argument('--iters', type=int, default=6000)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--crop', type=int, default=128)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--pos-fraction', type=float, default=0.7)
    ap.add_argument('--val-every', type=int, default=500)
    ap.add_argument('--log-every', type=int, default=50)
    ap.add_argument('--stop-at', type=int, default=0, help='stop after this iteration (the lr schedule still spans --iters)')
    ap.add_argument('--max-minutes', type=float, default=0, help='a safety limit: abort with an error (exit 3, nothing '
                    'exported) when training takes longer. It never decides what is exported: a run stops only at '
                    '--iters or --stop-at, so the same command gives the same model on a slower machine')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (1: 2 threads on a shared 2-core machine ran 5x slower)')
    ap.add_argument('--version', default='0.1.0')
    ap.add_argument('--val-3d', action='store_true', help='select the best checkpoint by the 3D average sensitivity '
                    '(docs/contracts.md#evaluation-protocol, sanity.py linking) on the validation volumes instead of the 2D proxy')
    ap.add_argument('--augment', action='store_true', help='random flips and HU gain/offset')
    ap.add_argument('--keep-checkpoints', action='store_true', help='also save every validated checkpoint as '
                    '<runs>/it-<N>.pt, so that candidates can be compared on a larger validation seed than --val')
    ap.add_argument('--init', help='start from this checkpoint (fine-tuning), e.g. runs/best.pt of an earlier run')
    ap.add_argument('--max-studies', type=int, default=0, help='use only the first N training studies (0: all)')
    ap.add_argument('--widths', default='16,24,48,96,128', help='encoder channels at strides 2,4,8,16,16')
    ap.add_argument('--neck', type=int, default=48)
    ap.add_argument('--slices', type=int, default=spec.SLICES, help='input slices (2k+1, sliceIntervalMm apart); '
                    'with --init from a model with fewer, its weights fill the central input channels and the new '
                    'ones start at zero, so training starts from exactly the initial model')
    ap.add_argument('--data-note', default='', help='free text describing the data (generator seeds, command)')
    ap.add_argument('--real', default='', help='folder(s), comma-separated, of lesions inserted into real CT (lens synth '
                    '--insert-into --format raw), their truth annotated by scripts/detector-mining.ts (ignore regions, '
                    'proposals); never lung-dx-a0001 or lidc-idri-0314')
    ap.add_argument('--real-fraction', type=float, default=0.4, help='fraction of the crops taken from --real studies')
    ap.add_argument('--real-pos-fraction', type=float, default=0.45, help='of the real-CT crops, those centred on a lesion')
    ap.add_argument('--proposal-fraction', type=float, default=0.3, help='of the real-CT crops, those centred on a '
                    'mined proposal (an earlier model\'s detection on real anatomy: hard negatives); the rest are random')
    ap.add_argument('--domain-rand', type=float, default=0.0, help='strength of the domain randomisation (kernel blur or '
                    'sharpening, correlated noise, HU gain/offset; 1: full on phantoms, 0.4x that on real CT; needs --augment)')
    ap.add_argument('--scale-aug', type=float, default=0.0, help='half of the crops rescaled by a factor up to (1 + x) '
                    'either way (log-uniform), truth and ignore regions with them: other patients\' sizes; needs --augment')
    ap.add_argument('--freeze-bn', action='store_true', help='keep BatchNorm in eval mode (needed when fine-tuning a '
                    'checkpoint recovered from ONNX by onnx_to_checkpoint.py, whose BatchNorms hold folded biases)')
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    rng = random.Random(a.seed)
    os.makedirs(a.runs, exist_ok=True)
    t_start = time.time()

    for r in filter(None, a.real.split(',')):
        for d in list_studies(r):
            if any(v in os.path.basename(d) for v in ('lung-dx-a0001', 'lidc-idri-0314')):
                sys.exit(f'{d}: lung-dx-a0001 and lidc-idri-0314 are validation only, never trained on')
    train_sets = [(t, list_studies(t)) for t in a.train.split(',') + list(filter(None, a.real.split(',')))]
    train_dirs = [d for _, ds in train_sets for d in ds]
    if a.max_studies:
        train_dirs = train_dirs[:a.max_studies]
    val_dirs = list_studies(a.val)
    if not train_dirs:
        sys.exit(f'no raw studies (volume.i16 + truth.json) in {a.train}')
    used = set(train_dirs)
    data_sets = [dataset_record(t, [d for d in ds if d in used], 'train') for t, ds in train_sets] + \
        [dataset_record(a.val, val_dirs, 'validation')]
    # Saved in every checkpoint too, so that export.py records it for whichever checkpoint it exports.
    provenance = {'git': git_record(), 'dataSets': data_sets}
    train = [load_study(d, a.cache) for d in train_dirs]
    val = [load_study(d, a.cache) for d in val_dirs]
    n_les = sum(len(s.lesions) for s in train)
    counts = {}
    for s in train:
        for les in s.lesions:
            counts[spec.LESION_TYPES[les.type_index]] = counts.get(spec.LESION_TYPES[les.type_index], 0) + 1
    print(f'loaded {len(train)} training studies ({n_les} lesions: {counts}), {len(val)} validation studies '
          f'in {time.time() - t_start:.0f}s', flush=True)

    run = {}
    if a.slices < 1 or a.slices % 2 == 0:
        raise SystemExit('--slices must be odd (2k+1)')
    arch = {'widths': [int(v) for v in a.widths.split(',')], 'neck': a.neck, 'slices': a.slices}
    model = build_model(arch)
    if a.init:
        init = torch.load(a.init, map_location='cpu')
        model.load_state_dict(widen_input(init['model'], model.stem[0][0].weight.shape[1]))
        run['init'] = a.init
        run['initSha256'] = file_sha256(a.init)  # the weights it started from, as data sets are hashed
    set_train_mode(model, a.freeze_bn)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    warm = max(1, min(200, a.iters // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, a.iters) / a.iters)))
    sampler = Sampler(train, a.crop, a.pos_fraction, rng, augment=a.augment, slices=a.slices, real_fraction=a.real_fraction,
                      proposal_fraction=a.proposal_fraction, real_pos_fraction=a.real_pos_fraction, domain_rand=a.domain_rand,
                      scale_aug=a.scale_aug)
    print(f'sampler: {len(sampler.phantoms)} phantom and {len(sampler.reals)} real-CT studies ({sum(len(st.ignore) for st in sampler.reals)} '
          f'ignore regions, {sum(len(st.proposals) for st in sampler.reals)} proposals), real fraction {sampler.real_fraction}', flush=True)
    best, best_metrics = -1.0, None
    ck_path = os.path.join(a.runs, 'best.pt')
    run.update({'seed': a.seed, 'arch': {'widths': a.widths, 'neck': a.neck, 'slices': a.slices}, 'iters': a.iters, 'batch': a.batch, 'crop': a.crop, 'lr': a.lr, 'posFraction': a.pos_fraction, 'augment': a.augment})
    if a.real:
        run.update({'realFraction': sampler.real_fraction, 'realPosFraction': a.real_pos_fraction, 'proposalFraction': a.proposal_fraction})
    if a.domain_rand:
        run['domainRandomisation'] = a.domain_rand
    if a.freeze_bn:
        run['freezeBatchNorm'] = True
    t0 = time.time()
    acc = np.zeros(4)
    for it in range(1, a.iters + 1):
        x, hm, ign, mask, reg, nreg = sampler.batch(a.batch)
        outs = model(x)
        l_hm, l_size, l_off, l_mask = losses(outs, hm, ign, mask, reg, nreg)
        loss = l_hm + l_size + l_off + l_mask
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
        acc += [l_hm.item(), l_size.item(), l_off.item(), l_mask.item()]
        if it % a.log_every == 0:
            el = time.time() - t0
            n = a.log_every
            print(f'it {it} hm {acc[0] / n:.3f} size {acc[1] / n:.3f} off {acc[2] / n:.3f} mask {acc[3] / n:.3f} '
                  f'lr {sched.get_last_lr()[0]:.2e} {el / it:.2f}s/it elapsed {el / 60:.1f}min', flush=True)
            acc[:] = 0
        if a.max_minutes > 0 and (time.time() - t0) / 60 > a.max_minutes:
            print(f'aborting at iteration {it}: --max-minutes {a.max_minutes} exceeded; nothing exported '
                  f'(checkpoints so far are in {a.runs})', file=sys.stderr, flush=True)
            sys.exit(3)
        if it % a.val_every == 0 or it == a.iters:
            m = validate(model, val, random.Random(1234))
            score = m['sens'] - 0.05 * m['fpPerSlice']
            if a.val_3d:
                m['froc3d'] = validate_3d(model, val)
                score = m['froc3d']['average']
            set_train_mode(model, a.freeze_bn)
            print(f'val it {it}: {json.dumps(m)}', flush=True)
            if a.keep_checkpoints:
                torch.save({'model': model.state_dict(), 'arch': arch, 'iteration': it, 'metrics': m, 'provenance': provenance},
                           os.path.join(a.runs, f'it-{it}.pt'))
            if score > best:
                best, best_metrics = score, dict(m, iteration=it)
                torch.save({'model': model.state_dict(), 'arch': arch, 'iteration': it, 'metrics': m, 'provenance': provenance}, ck_path)
        if a.stop_at and it >= a.stop_at:
            run['stoppedAt'] = it
            break
    train_s = time.time() - t_start
    ck = torch.load(ck_path)
    model.load_state_dict(ck['model'])
    training = {
        'data': a.data_note or f'lens synth raw studies from {a.train}',
        'trainingStudies': len(train), 'trainingLesions': n_les, 'lesionsPerType': counts,
        'validationStudies': len(val), 'labels': 'all lesions of the synthetic studies (fully labeled; '
        'the LENS partial-label training comes later)' + ('; on real CT the inserted lesions are labels, the mined '
        'ignore regions (confident detections on unannotated anatomy) are neither positive nor negative, and the rest '
        'of the real anatomy is background' if a.real else ''),
        'command': shlex.join(['/usr/bin/python3'] + sys.argv),
        **provenance,
        'run': run, 'bestIteration': ck['iteration'], 'validation2D': best_metrics,
        'wallTimeMin': round(train_s / 60, 1), 'machine': f'CPU, {os.cpu_count()} cores, {a.threads} torch thread(s) (torch {torch.__version__})',
    }
    export(model, a.out, a.version, training)
    with open(os.path.join(a.runs, 'summary.json'), 'w') as f:
        json.dump(training, f, indent=2)
    print(f'exported best (iteration {ck["iteration"]}) to {a.out}; total {train_s / 60:.1f} min', flush=True)


if __name__ == '__main__':
    main()
