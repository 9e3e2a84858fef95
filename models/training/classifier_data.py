"""Reads the proposal classifier's candidates written by scripts/classifier-candidates.ts.

A data folder holds crops.u8 (crop values x 255, [C, D, H, W] per candidate), feats.f32 (FEATURE_COUNT floats per
candidate) and meta.jsonl (one JSON line per candidate, with `label`: 1 lesion, 0 not a lesion, -1 ignored).
The crop geometry (CROP below) must equal DEFAULT_CROP_SPEC in src/detect/proposal-crops.ts.
"""
import json
import os

import numpy as np

# src/detect/proposal-crops.ts DEFAULT_CROP_SPEC: 2 scales x 2 HU windows, [D, H, W] = [8, 16, 16].
CHANNELS = 4
CROP = (8, 16, 16)
FEATURES = 4


def load(folder, keep_ignored=False):
    """(crops uint8 [N, C, D, H, W], feats float32 [N, F], labels int8 [N], meta list) of one data folder."""
    meta = [json.loads(line) for line in open(os.path.join(folder, 'meta.jsonl'))]
    n = len(meta)
    per = CHANNELS * CROP[0] * CROP[1] * CROP[2]
    crops = np.fromfile(os.path.join(folder, 'crops.u8'), dtype=np.uint8)
    feats = np.fromfile(os.path.join(folder, 'feats.f32'), dtype=np.float32)
    if crops.size != n * per or feats.size != n * FEATURES:
        raise ValueError(f'{folder}: {n} meta lines but {crops.size / per} crops and {feats.size / FEATURES} feature rows')
    crops = crops.reshape(n, CHANNELS, *CROP)
    feats = feats.reshape(n, FEATURES)
    labels = np.array([m['label'] for m in meta], dtype=np.int8)
    if not keep_ignored:
        keep = labels >= 0
        crops, feats, labels = crops[keep], feats[keep], labels[keep]
        meta = [m for m, k in zip(meta, keep) if k]
    return crops, feats, labels, meta


def load_many(folders, keep_ignored=False):
    """load() of each folder, concatenated in the order given (several archives' classifier sets as one)."""
    parts = [load(f, keep_ignored) for f in folders]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]), [m for p in parts for m in p[3]])
