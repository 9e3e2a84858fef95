"""Reads the proposal classifier's candidates written by src/detect/classifier-data-writer.ts.

A data folder holds crops.u8 (crop values x 255, [C, D, H, W] per candidate), feats.f32 (FEATURES floats per
candidate), meta.jsonl (one JSON line per candidate, with `label`: 1 lesion, 0 not a lesion, -1 ignored) and
crop-spec.json (the crops' geometry, src/detect/proposal-crops.ts CropSpec; folders written before it existed hold
DEFAULT_SPEC's crops). The spec travels on into the checkpoint and the exported manifest (`input.crop`).
"""
import json
import os

import numpy as np

# src/detect/proposal-crops.ts DEFAULT_CROP_SPEC: 2 scales x 2 HU windows, [D, H, W] = [8, 16, 16].
DEFAULT_SPEC = {'size': [8, 16, 16], 'fixedMm': [32, 40, 40], 'boxFactor': 2, 'minMm': 32, 'maxMm': 160,
                'windows': [[-1000, 200], [-160, 240]]}
FEATURES = 4
SPEC_FILE = 'crop-spec.json'


def channels(spec):
    """Two scales, each in every HU window."""
    return 2 * len(spec['windows'])


def crop_shape(spec):
    """[C, D, H, W] of one candidate's crops."""
    return (channels(spec), *spec['size'])


def crop_spec(folder):
    path = os.path.join(folder, SPEC_FILE)
    return json.load(open(path)) if os.path.exists(path) else DEFAULT_SPEC


def load(folder, keep_ignored=False):
    """(crops uint8 [N, C, D, H, W], feats float32 [N, F], labels int8 [N], meta list) of one data folder."""
    meta = [json.loads(line) for line in open(os.path.join(folder, 'meta.jsonl'))]
    n = len(meta)
    shape = crop_shape(crop_spec(folder))
    per = int(np.prod(shape))
    crops = np.fromfile(os.path.join(folder, 'crops.u8'), dtype=np.uint8)
    feats = np.fromfile(os.path.join(folder, 'feats.f32'), dtype=np.float32)
    if crops.size != n * per or feats.size != n * FEATURES:
        raise ValueError(f'{folder}: {n} meta lines but {crops.size / per} crops and {feats.size / FEATURES} feature rows')
    crops = crops.reshape(n, *shape)
    feats = feats.reshape(n, FEATURES)
    labels = np.array([m['label'] for m in meta], dtype=np.int8)
    if not keep_ignored:
        keep = labels >= 0
        crops, feats, labels = crops[keep], feats[keep], labels[keep]
        meta = [m for m, k in zip(meta, keep) if k]
    return crops, feats, labels, meta


def load_many(folders, keep_ignored=False):
    """load() of each folder, concatenated in the order given (several archives' classifier sets as one), and their
    common crop spec: (crops, feats, labels, meta, spec)."""
    specs = [crop_spec(f) for f in folders]
    for f, spec in zip(folders, specs):
        if spec != specs[0]:
            raise ValueError(f'{f}: crops of another spec than {folders[0]} ({spec} != {specs[0]}): one classifier learns from one geometry')
    parts = [load(f, keep_ignored) for f in folders]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]), [m for p in parts for m in p[3]], specs[0])
