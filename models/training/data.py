"""Training data from `lens synth --format raw` studies: the preprocessing of docs/contracts.md#preprocessing and the
CenterNet targets.

A raw study folder holds volume.i16 (Int16 LE HU, index k*rows*cols + j*cols + i), volume.json
{dims:[cols,rows,slices], spacing:[sx,sy,sz], origin, direction:{row,column,normal}} and truth.json (TruthFile).

Preprocessing, identical to the TypeScript runtime (src/detect/preprocess.ts; test/integration/training/
preprocess-parity.test.ts compares the two):
1. in-plane bilinear resampling to spec.PIXEL_SPACING_MM along the image axes: output pixel u samples the source
   at i = u * s / sx (pixel centres of index 0 coincide), clamped at the edges; output width floor((cols-1)*sx/s)+1;
2. channel c of the stack at z (mm along the normal from slice 0) is the slice at z + (c-k)*interval, linearly
   interpolated between the two nearest slices, clamped at the ends;
3. HU clipped to the window and mapped to [0, 1];
4. H, W padded at the bottom/right with 0 to a multiple of spec.SIZE_MULTIPLE.
"""
import json
import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
from scipy import ndimage

import spec

TYPE_INDEX = {t: i for i, t in enumerate(spec.LESION_TYPES)}
# Real-data truth files name types outside LESION_TYPES (shared/data/ct/lung-dx-a0001: a lung tumour).
TYPE_INDEX.update({'lung_tumour': 0, 'lung_tumor': 0})


@dataclass
class LesionBox:
    """A truth lesion in model-input coordinates: x, y in resampled pixels, z in mm along the normal."""
    type_index: int
    x0: float
    y0: float
    z0: float
    x1: float
    y1: float
    z1: float
    # The widest cross-section when the truth gives it (lens synth's keySliceBoxPx): box in model pixels.
    key_box: Optional[Tuple[float, float, float, float]] = None


@dataclass
class Study:
    name: str
    vol: np.ndarray              # [slices, H', W'] int16, in-plane resampled to the model spacing
    slice_pos_mm: np.ndarray     # position of each slice along the normal, relative to slice 0
    lesions: List[LesionBox] = field(default_factory=list)
    # Real-anatomy studies (lesions inserted into real CT, scripts/detector-mining.ts): regions the heatmap loss
    # ignores (the LENS rule: confident detections on unannotated anatomy may be unlabelled lesions) and the other
    # detections of an earlier model there (hard negatives, where training crops are centred more often).
    ignore: List[LesionBox] = field(default_factory=list)
    proposals: List[LesionBox] = field(default_factory=list)
    real: bool = False           # real CT (lesions inserted into a real background), not a phantom

    @property
    def z_extent(self) -> float:
        return float(self.slice_pos_mm[-1])


def read_raw_volume(folder: str) -> Tuple[np.ndarray, dict]:
    with open(os.path.join(folder, 'volume.json')) as f:
        meta = json.load(f)
    cols, rows, slices = meta['dims']
    data = np.fromfile(os.path.join(folder, 'volume.i16'), dtype='<i2')
    if data.size != cols * rows * slices:
        raise ValueError(f'{folder}: volume.i16 has {data.size} voxels, volume.json says {cols}x{rows}x{slices}')
    return data.reshape(slices, rows, cols), meta


# Names the resampling arithmetic in cache file names (load_study); change it whenever resample_inplane's output can.
RESAMPLING = 'r2'


def resample_inplane(vol: np.ndarray, sx: float, sy: float, s: float = spec.PIXEL_SPACING_MM) -> np.ndarray:
    """Bilinear, pixel-centre aligned at index 0, clamped; works slice by slice to bound memory.

    The arithmetic is src/detect/preprocess.ts resampleSlice's, step for step (float32 weights, float64 sums,
    along x then y, ties rounded up like Math.round), so that both give the same whole HU: numpy's round-half-to-
    even and float32 sums differed from it by 1 HU on up to a quarter of the pixels (test/integration/training/
    preprocess-parity.test.ts). The 1e-9 keeps the width of preprocess.ts InPlaneGrid when (cols-1)*sx/s is a
    whole number computed a hair below it."""
    slices, rows, cols = vol.shape
    w = int(math.floor((cols - 1) * sx / s + 1e-9)) + 1
    h = int(math.floor((rows - 1) * sy / s + 1e-9)) + 1
    xi = np.minimum(np.arange(w) * (s / sx), cols - 1)
    yi = np.minimum(np.arange(h) * (s / sy), rows - 1)
    x0 = np.floor(xi).astype(np.int64); x1 = np.minimum(x0 + 1, cols - 1)
    y0 = np.floor(yi).astype(np.int64); y1 = np.minimum(y0 + 1, rows - 1)
    fx = (xi - x0).astype(np.float32).astype(np.float64)[None, :]
    fy = (yi - y0).astype(np.float32).astype(np.float64)[:, None]
    out = np.empty((slices, h, w), dtype=np.int16)
    for k in range(slices):
        a = vol[k].astype(np.float64)
        r0, r1 = a[y0], a[y1]
        top = r0[:, x0] + (r0[:, x1] - r0[:, x0]) * fx
        bot = r1[:, x0] + (r1[:, x1] - r1[:, x0]) * fx
        out[k] = np.floor(top + (bot - top) * fy + 0.5).astype(np.int16)
    return out


def lps_to_voxel(meta: dict, p) -> np.ndarray:
    d = np.asarray(p, dtype=np.float64) - np.asarray(meta['origin'], dtype=np.float64)
    dr = meta['direction']
    sx, sy, sz = meta['spacing']
    return np.array([d @ np.asarray(dr['row']) / sx, d @ np.asarray(dr['column']) / sy, d @ np.asarray(dr['normal']) / sz])


def is_axis_aligned(meta: dict) -> bool:
    d = meta['direction']
    return all(abs(abs(d[k][i]) - 1) < 1e-6 for k, i in (('row', 0), ('column', 1)))


def lps_box(meta: dict, b, type_index: int = -1) -> LesionBox:
    """A bboxLPS [x0, y0, z0, x1, y1, z1] -> model-input pixel box (x, y) and mm along the normal (z)."""
    sx, sy, sz = meta['spacing']
    s = spec.PIXEL_SPACING_MM
    corners = np.array([lps_to_voxel(meta, (x, y, z)) for x in (b[0], b[3]) for y in (b[1], b[4]) for z in (b[2], b[5])])
    lo, hi = corners.min(0), corners.max(0)
    # Source voxel index i -> model pixel u = i * sx / s (the resampling is centre-aligned at index 0).
    return LesionBox(type_index, lo[0] * sx / s, lo[1] * sy / s, lo[2] * sz, hi[0] * sx / s, hi[1] * sy / s, hi[2] * sz)


def truth_regions(meta: dict, truth: dict, key: str) -> List[LesionBox]:
    """The `ignoreRegions` or `proposals` ({bboxLPS, score} entries, scripts/detector-mining.ts) of a truth file."""
    return [lps_box(meta, r['bboxLPS']) for st in truth['studies'] for r in st.get(key, [])]


def truth_to_boxes(meta: dict, truth: dict) -> List[LesionBox]:
    """Truth bboxLPS -> model-input pixel box (x, y) and mm along the normal (z), all lesions (fully labeled)."""
    sx, sy, sz = meta['spacing']
    s = spec.PIXEL_SPACING_MM
    boxes = []
    for st in truth['studies']:
        for les in st['lesions']:
            t = TYPE_INDEX.get(les['type'])
            if t is None:
                continue
            box = lps_box(meta, les['bboxLPS'], t)
            kb = les.get('keySliceBoxPx')
            if kb and is_axis_aligned(meta):
                # Inclusive first/last pixel -> pixel edges -> model pixels.
                box.key_box = ((kb[0] - 0.5) * sx / s, (kb[1] - 0.5) * sy / s, (kb[2] + 0.5) * sx / s, (kb[3] + 0.5) * sy / s)
            boxes.append(box)
    return boxes


def load_study(folder: str, cache_dir: Optional[str] = None) -> Study:
    name = os.path.basename(os.path.normpath(folder))
    vol, meta = read_raw_volume(folder)
    sx, sy, sz = meta['spacing']
    # The cache name says which resampling made it: caches written before it matched the runtime's rounding
    # (no suffix) are not reused.
    cache = os.path.join(cache_dir, name + f'_{spec.PIXEL_SPACING_MM}_{RESAMPLING}.npy') if cache_dir else None
    if cache and os.path.exists(cache):
        res = np.load(cache, mmap_mode='r')
    else:
        res = resample_inplane(vol, sx, sy)
        if cache:
            os.makedirs(cache_dir, exist_ok=True)
            # Written under a name of this process and renamed: two trainings sharing a cache never map a half file.
            part = f'{cache}.{os.getpid()}.part.npy'
            np.save(part, res)
            os.replace(part, cache)
            res = np.load(cache, mmap_mode='r')
    with open(os.path.join(folder, 'truth.json')) as f:
        truth = json.load(f)
    pos = np.arange(vol.shape[0], dtype=np.float64) * sz
    return Study(name, res, pos, truth_to_boxes(meta, truth), truth_regions(meta, truth, 'ignoreRegions'),
                 truth_regions(meta, truth, 'proposals'), any('background' in st for st in truth['studies']))


def stack_at(st: Study, z_mm: float, y0: int = 0, x0: int = 0, h: Optional[int] = None, w: Optional[int] = None,
             slices: int = spec.SLICES) -> np.ndarray:
    """[slices = 2k+1, h, w] float32 stack at z (mm along the normal), window-normalised, zero-padded outside the image."""
    n, H, W = st.vol.shape
    h = H if h is None else h
    w = W if w is None else w
    out = np.zeros((slices, h, w), dtype=np.float32)
    ys0, ys1 = max(0, y0), min(H, y0 + h)
    xs0, xs1 = max(0, x0), min(W, x0 + w)
    if ys1 <= ys0 or xs1 <= xs0:
        return out
    sz = st.slice_pos_mm[1] - st.slice_pos_mm[0] if n > 1 else 1.0
    lo, hi = spec.HU_WINDOW
    k = slices // 2
    for c in range(slices):
        zf = min(max((z_mm + (c - k) * spec.SLICE_INTERVAL_MM) / sz, 0.0), n - 1.0)
        k0 = int(math.floor(zf)); k1 = min(k0 + 1, n - 1); f = zf - k0
        a = st.vol[k0, ys0:ys1, xs0:xs1].astype(np.float32)
        if f > 1e-6:
            a = a * (1 - f) + st.vol[k1, ys0:ys1, xs0:xs1].astype(np.float32) * f
        out[c, ys0 - y0:ys1 - y0, xs0 - x0:xs1 - x0] = (np.clip(a, lo, hi) - lo) / (hi - lo)
    return out


def lesion_on_slice(les: LesionBox, z_mm: float) -> Optional[Tuple[float, float, float, float, float]]:
    """The lesion's 2D box on the slice at z, assuming an ellipsoid inscribed in the 3D box: (x0,y0,x1,y1,frac)
    with frac = the in-plane scale relative to the widest slice; None when z is outside."""
    if z_mm < les.z0 or z_mm > les.z1:
        return None
    zc, hz = (les.z0 + les.z1) / 2, max((les.z1 - les.z0) / 2, 1e-3)
    frac = math.sqrt(max(0.0, 1 - ((z_mm - zc) / hz) ** 2))
    # The widest cross-section is the key-slice box when known (the 3D box is the union over slices, larger for
    # tilted lesions), else the 3D box's in-plane extent.
    b = les.key_box or (les.x0, les.y0, les.x1, les.y1)
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    hw, hh = (b[2] - b[0]) / 2 * frac, (b[3] - b[1]) / 2 * frac
    return cx - hw, cy - hh, cx + hw, cy + hh, frac


# A lesion slice whose cross-section is below this fraction of its widest one is neither a positive nor a
# negative (its tip): the heatmap loss ignores it.
MIN_FRAC = 0.45
MIN_SIZE_PX = 2.0


# Ignore regions are detection boxes: grown by this many mm in plane and along z, since a detector's box need not
# cover all of what it fired on.
IGNORE_MARGIN_MM = 3.0


def make_targets(lesions: List[LesionBox], z_mm: float, y0: int, x0: int, h: int, w: int,
                 ignore_regions: Optional[List[LesionBox]] = None):
    """CenterNet targets at stride 4 for a crop [y0:y0+h, x0:x0+w] of the slice at z. Cells of `ignore_regions`
    that hold no lesion are ignored by the heatmap and mask losses (neither positive nor negative)."""
    s = spec.STRIDE
    hs, ws = h // s, w // s
    hm = np.zeros((len(spec.LESION_TYPES), hs, ws), dtype=np.float32)
    ignore = np.zeros((hs, ws), dtype=np.float32)
    m = IGNORE_MARGIN_MM / spec.PIXEL_SPACING_MM
    for r in ignore_regions or []:
        if not (r.z0 - IGNORE_MARGIN_MM <= z_mm <= r.z1 + IGNORE_MARGIN_MM):
            continue
        # Cells whose pixel span [i*s, (i+1)*s) meets the grown box.
        i0 = max(0, int(math.floor((r.x0 - m - x0) / s))); i1 = min(ws, int(math.ceil((r.x1 + m - x0 + 1) / s)))
        j0 = max(0, int(math.floor((r.y0 - m - y0) / s))); j1 = min(hs, int(math.ceil((r.y1 + m - y0 + 1) / s)))
        if i1 > i0 and j1 > j0:
            ignore[j0:j1, i0:i1] = 1.0
    mask = np.zeros((hs, ws), dtype=np.float32)
    # Regression targets at the centre cells: (cy, cx, w, h, dx, dy), at most 16 per sample.
    reg = np.zeros((16, 6), dtype=np.float32)
    nreg = 0
    gy, gx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    for les in lesions:
        b = lesion_on_slice(les, z_mm)
        if b is None:
            continue
        bx0, by0, bx1, by1, frac = b[0] - x0, b[1] - y0, b[2] - x0, b[3] - y0, b[4]
        bw, bh = bx1 - bx0, by1 - by0
        cx, cy = (bx0 + bx1) / 2 / s, (by0 + by1) / 2 / s  # centre in output cells (cell i covers [i*s, (i+1)*s))
        # Output cell i's centre is at input pixel i*s + ... the runtime decodes centre = (i + dx) * s, so the
        # target cell is floor(c/s) and the offset the remainder.
        ci, cj = int(math.floor(cx)), int(math.floor(cy))
        # Mask: the ellipse at cell centres (cell (j,i) covers input pixels around (i*s + s/2 - 0.5)).
        ex, ey = (gx * s + (s - 1) / 2 - (bx0 + bx1) / 2) / max(bw / 2, 0.75), (gy * s + (s - 1) / 2 - (by0 + by1) / 2) / max(bh / 2, 0.75)
        inside = ex ** 2 + ey ** 2 <= 1.0
        if frac < MIN_FRAC or min(bw, bh) < MIN_SIZE_PX:
            ignore[inside] = 1.0
            if 0 <= ci < ws and 0 <= cj < hs:
                ignore[cj, ci] = 1.0
            continue
        mask[inside] = 1.0
        if not (0 <= ci < ws and 0 <= cj < hs):
            continue
        mask[cj, ci] = 1.0
        sigma = max(0.5, 0.12 * math.sqrt(bw * bh) / s)
        g = np.exp(-((gx - ci) ** 2 + (gy - cj) ** 2) / (2 * sigma ** 2))
        np.maximum(hm[les.type_index], g, out=hm[les.type_index])
        hm[les.type_index, cj, ci] = 1.0
        if nreg < reg.shape[0]:
            reg[nreg] = (cj, ci, bw, bh, cx - ci, cy - cj)
            nreg += 1
    return hm, ignore, mask, reg, nreg


def list_studies(root: str) -> List[str]:
    out = []
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if os.path.isfile(os.path.join(d, 'volume.i16')) and os.path.isfile(os.path.join(d, 'truth.json')):
            out.append(d)
    return out
