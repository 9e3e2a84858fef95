"""The LENS heterogeneous-label benchmark (issue 10 items 1-2; docs/contracts.md#synthetic-benchmark): which lesions each
simulated dataset labels, how its labels reach its own head, and the training crops.

Datasets (one head each; `lens synth` writes every lesion's `labeled` flags):
- deeplesion: all six types, but only the lesions flagged labeled.deeplesion (about 40 %), and only as a box on the
  key slice (the widest cross-section), as DeepLesion's RECIST bookmarks. Its z extent is unknown: the other slices of a
  labelled lesion are ignored (neither positive nor negative) over an extent assumed from the box (a round lesion:
  +- half the box's mean side), and every unlabelled lesion is background, as in the real dataset.
- luna (lung nodules, not masses), lits (liver lesions), nihln (lymph nodes): every lesion of the type is labelled in
  3D; lesions of other types are outside the dataset's scope, i.e. background for its single-type head only.
Each head learns only from its own dataset's crops (the shared backbone from all).

Mining (mine_lens.py) adds to a deeplesion study: `pseudo` lesions (positives for the deeplesion head) and `ignore`
regions; with key-slice propagation the labelled key-slice boxes become 3D positives on the neighbouring slices.
"""
import json
import math
import os
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

import spec
from data import MIN_FRAC, LesionBox, Study, list_studies, load_study, lps_box, make_targets, stack_at

# Head name -> the lesion types of its heatmap channels.
DATASETS: Dict[str, List[str]] = {
    'deeplesion': list(spec.LESION_TYPES),
    'luna': ['lung_nodule'],
    'lits': ['liver_lesion'],
    'nihln': ['lymph_node'],
}

# The validation-only real studies: never training data for any dataset (train.py refuses them too).
VALIDATION_ONLY = ('lung-dx-a0001', 'lidc-idri-0314')


@dataclass
class KeyLabel:
    """A deeplesion-style label: the key-slice box (model pixels) at z (mm along the normal) and its type."""
    type_index: int
    z: float
    box: Tuple[float, float, float, float]

    def as_key_slice_box(self) -> LesionBox:
        # A 3D box thin enough that only a crop at the key slice sees it, at full size (lesion_on_slice frac 1).
        return LesionBox(self.type_index, *self.box[:2], self.z - 0.01, *self.box[2:], self.z + 0.01, key_box=self.box)

    def as_round_lesion(self) -> LesionBox:
        """The 3D extent a round lesion with this key-slice box would have (z +- half the mean side, in mm)."""
        r = 0.25 * ((self.box[2] - self.box[0]) + (self.box[3] - self.box[1])) * spec.PIXEL_SPACING_MM
        return LesionBox(self.type_index, *self.box[:2], self.z - r, *self.box[2:], self.z + r, key_box=self.box)


@dataclass
class LensStudy:
    dataset: str
    study: Study                                           # the volume; study.lesions is the generator's full truth
    labels: List[LesionBox] = field(default_factory=list)  # 3D labels (single-type datasets)
    key_labels: List[KeyLabel] = field(default_factory=list)  # deeplesion key-slice labels
    pseudo: List[LesionBox] = field(default_factory=list)  # mined positives (deeplesion head)
    ignore: List[LesionBox] = field(default_factory=list)  # mined ignore regions (deeplesion head)
    propagate: bool = False                                # key-slice labels propagated to 3D (mining strategy 3)

    @property
    def folder(self) -> str:
        return self.study.name


def read_truth(folder: str) -> dict:
    with open(os.path.join(folder, 'truth.json')) as f:
        return json.load(f)


def load_lens_study(folder: str, dataset: str, cache: Optional[str]) -> LensStudy:
    if dataset not in DATASETS:
        raise SystemExit(f'unknown dataset {dataset!r} (known: {", ".join(DATASETS)})')
    if any(v in os.path.basename(os.path.normpath(folder)) for v in VALIDATION_ONLY):
        raise SystemExit(f'{folder}: lung-dx-a0001 and lidc-idri-0314 are validation only, never trained on')
    st = load_study(folder, cache)
    truth = read_truth(folder)
    entries = [les for s in truth['studies'] for les in s['lesions'] if les['type'] in spec.LESION_TYPES]
    if len(entries) != len(st.lesions):
        raise SystemExit(f'{folder}: truth lesions and loaded boxes differ ({len(entries)} vs {len(st.lesions)})')
    ls = LensStudy(dataset, st)
    sz = float(st.slice_pos_mm[1] - st.slice_pos_mm[0]) if len(st.slice_pos_mm) > 1 else 1.0
    for les, box in zip(entries, st.lesions):
        if not les.get('labeled', {}).get(dataset):
            continue
        if dataset == 'deeplesion':
            if box.key_box is None:
                raise SystemExit(f'{folder}: a deeplesion label needs keySliceBoxPx on an axis-aligned volume')
            ls.key_labels.append(KeyLabel(box.type_index, les['keySlice']['sliceIndex'] * sz, box.key_box))
        else:
            ls.labels.append(box)
    return ls


def load_mined(ls: LensStudy, mined_dir: str, strategies: List[str]) -> None:
    """Adds the mining results (mine_lens.py: <mined_dir>/<study>.json) of the chosen strategies to a deeplesion study."""
    path = os.path.join(mined_dir, ls.folder + '.json')
    if not os.path.exists(path):
        raise SystemExit(f'{path}: no mining result for {ls.folder} (run mine_lens.py first)')
    with open(path) as f:
        mined = json.load(f)
    meta_path = os.path.join(mined['folder'], 'volume.json')
    with open(meta_path) as f:
        meta = json.load(f)
    for s in strategies:
        for e in mined.get(s, {}).get('pseudo', []):
            b = lps_box(meta, e['bboxLPS'], spec.LESION_TYPES.index(e['type']))
            ls.pseudo.append(b)
        for e in mined.get(s, {}).get('ignore', []):
            ls.ignore.append(lps_box(meta, e['bboxLPS']))
    ls.propagate = 'propagation' in strategies


def head_targets(dataset: str, hm: np.ndarray) -> np.ndarray:
    """The head's heatmap channels out of make_targets' universal ones."""
    return hm[[spec.LESION_TYPES.index(t) for t in DATASETS[dataset]]]


class LensSampler:
    """Random 2.5D crops; the dataset of each crop drawn by `weights`, then as that dataset's labels allow."""

    def __init__(self, studies: List[LensStudy], weights: Dict[str, float], crop: int, pos_fraction: float,
                 rng: random.Random, slices: int, augment: bool):
        self.by_dataset: Dict[str, List[LensStudy]] = {}
        for s in studies:
            self.by_dataset.setdefault(s.dataset, []).append(s)
        self.names = [d for d in DATASETS if d in self.by_dataset]
        self.weights = [weights.get(d, 1.0) for d in self.names]
        self.crop, self.pos_fraction, self.rng, self.slices, self.augment = crop, pos_fraction, rng, slices, augment
        # Positives: (study, label) pairs by type, so that rare types are seen as often as common ones.
        self.pos: Dict[str, Dict[int, list]] = {}
        for d, sts in self.by_dataset.items():
            pool: Dict[int, list] = {}
            for s in sts:
                for lab in self._positives(s):
                    pool.setdefault(lab[1].type_index, []).append((s,) + lab)
            self.pos[d] = pool

    @staticmethod
    def _positives(s: LensStudy):
        """(kind, box) of each positive: 'key' crops sit on the key slice, '3d' ones anywhere in the lesion."""
        if s.dataset != 'deeplesion':
            return [('3d', b) for b in s.labels]
        out = [('3d', k.as_round_lesion()) if s.propagate else ('key', k.as_key_slice_box()) for k in s.key_labels]
        return out + [('3d', b) for b in s.pseudo]

    def _targets_of(self, s: LensStudy, z: float):
        """The positives and ignore regions a crop of `s` at z learns from."""
        if s.dataset != 'deeplesion':
            return s.labels, []
        if s.propagate:
            return [k.as_round_lesion() for k in s.key_labels] + s.pseudo, s.ignore
        # The label exists on the key slice only; elsewhere the lesion is there but unmarked: ignored.
        return [k.as_key_slice_box() for k in s.key_labels] + s.pseudo, [k.as_round_lesion() for k in s.key_labels] + s.ignore

    def sample(self):
        r, c = self.rng, self.crop
        d = r.choices(self.names, self.weights)[0]
        pool = self.pos[d]
        if pool and r.random() < self.pos_fraction:
            s, kind, box = r.choice(pool[r.choice(sorted(pool))])
            if kind == 'key':
                z = (box.z0 + box.z1) / 2
            else:
                zc, hz = (box.z0 + box.z1) / 2, (box.z1 - box.z0) / 2
                z = zc + r.uniform(-1, 1) * hz * math.sqrt(1 - MIN_FRAC ** 2)
            cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
            x0, y0 = int(round(cx - r.uniform(0.15, 0.85) * c)), int(round(cy - r.uniform(0.15, 0.85) * c))
        else:
            s = r.choice(self.by_dataset[d])
            _, H, W = s.study.vol.shape
            z = r.uniform(0, s.study.z_extent)
            if s.dataset == 'deeplesion' and not s.propagate and s.key_labels and r.random() < 0.5:
                # DeepLesion's images are the key slices: half of the background crops come from them.
                z = r.choice(s.key_labels).z
            x0 = r.randint(min(0, W - c), max(0, W - c))
            y0 = r.randint(min(0, H - c), max(0, H - c))
        x = stack_at(s.study, z, y0, x0, c, c, self.slices)
        lesions, ignore = self._targets_of(s, z)
        if self.augment:
            from train import flip_crop, hu_jitter  # train.py's augmentations, drawn in the same order
            x, lesions, ignore = flip_crop(x, lesions, ignore, x0, y0, c, r)
            if r.random() < 0.5:
                x = hu_jitter(x, r)
            x = np.ascontiguousarray(x, dtype=np.float32)
        hm, ign, mask, reg, nreg = make_targets(lesions, z, y0, x0, c, c, ignore)
        return d, x, head_targets(d, hm), ign, mask, reg, nreg


def load_sets(specs: List[str], cache: Optional[str]) -> List[LensStudy]:
    """`dataset=folder` entries -> studies."""
    out = []
    for e in specs:
        if '=' not in e:
            raise SystemExit(f'--set takes dataset=folder, got {e!r}')
        d, folder = e.split('=', 1)
        dirs = list_studies(folder)
        if not dirs:
            raise SystemExit(f'no raw studies in {folder}')
        out += [load_lens_study(f, d, cache) for f in dirs]
    return out
