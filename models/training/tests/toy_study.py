"""Writes tiny raw studies in the `lens synth --format raw` layout (body ellipse + spherical lesions), only to
exercise the training code before/without the real generator. Usage: toy_study.py OUT_DIR N_STUDIES SEED"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import spec  # noqa: E402


def make(out: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cols = rows = 160
    n = 40
    sx = sy = float(rng.uniform(1.2, 2.0))
    sz = float(rng.choice([1.0, 2.0, 2.5]))
    z, y, x = np.mgrid[0:n, 0:rows, 0:cols].astype(np.float32)
    vol = np.full((n, rows, cols), -1000.0, dtype=np.float32)
    body = ((x - cols / 2) / (cols * 0.42)) ** 2 + ((y - rows / 2) / (rows * 0.32)) ** 2 <= 1
    vol[body] = 40
    lesions = []
    for _ in range(rng.integers(1, 4)):
        r_mm = float(rng.uniform(5, 15))
        cx, cy = cols / 2 + rng.uniform(-30, 30), rows / 2 + rng.uniform(-20, 20)
        cz = rng.uniform(r_mm / sz + 1, n - r_mm / sz - 1)
        d = ((x - cx) * sx / r_mm) ** 2 + ((y - cy) * sy / r_mm) ** 2 + ((z - cz) * sz / r_mm) ** 2
        t = int(rng.integers(0, len(spec.LESION_TYPES)))
        vol[d <= 1] = [-200, 100, 0, 80, 400, 120][t]
        lesions.append({'type': spec.LESION_TYPES[t],
                        'bboxLPS': [cx * sx - r_mm, cy * sy - r_mm, cz * sz - r_mm, cx * sx + r_mm, cy * sy + r_mm, cz * sz + r_mm]})
    vol += rng.normal(0, 10, vol.shape)
    d = os.path.join(out, f'toy-{seed:05d}')
    os.makedirs(d, exist_ok=True)
    vol.astype('<i2').tofile(os.path.join(d, 'volume.i16'))
    with open(os.path.join(d, 'volume.json'), 'w') as f:
        json.dump({'dims': [cols, rows, n], 'spacing': [sx, sy, sz], 'origin': [0, 0, 0],
                   'direction': {'row': [1, 0, 0], 'column': [0, 1, 0], 'normal': [0, 0, 1]}}, f)
    with open(os.path.join(d, 'truth.json'), 'w') as f:
        json.dump({'source': 'toy', 'boxConvention': 'LPS mm', 'studies': [
            {'studyInstanceUID': '1.2.3', 'seriesInstanceUIDs': ['1.2.3.4'], 'lesions': lesions}]}, f)


if __name__ == '__main__':
    out, k, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for s in range(k):
        make(out, seed * 1000 + s)
