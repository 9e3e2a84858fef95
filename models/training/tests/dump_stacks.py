"""Writes the network input that training builds (data.py load_study + stack_at) for a raw study at the given
positions, for test/integration/training/preprocess-parity.test.ts to compare with src/detect/preprocess.ts.

    /usr/bin/python3 models/training/tests/dump_stacks.py STUDY_DIR POSITIONS_JSON OUT.f32

POSITIONS_JSON is a JSON list of positions in mm along the normal from the first slice. OUT.f32 receives float32
little-endian [positions, slices, H, W] (H, W padded to spec.SIZE_MULTIPLE); stdout one JSON line with the shape
and the resampled (unpadded) slice size."""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import spec  # noqa: E402
from data import load_study, stack_at  # noqa: E402


def main(study_dir: str, positions_json: str, out: str) -> None:
    st = load_study(study_dir)
    zs = json.loads(positions_json)
    _, h, w = st.vol.shape
    m = spec.SIZE_MULTIPLE
    hp, wp = int(math.ceil(h / m) * m), int(math.ceil(w / m) * m)
    x = np.stack([stack_at(st, z, 0, 0, hp, wp, spec.SLICES) for z in zs]).astype('<f4')
    x.tofile(out)
    print(json.dumps({'shape': list(x.shape), 'resampled': [h, w]}))


if __name__ == '__main__':
    main(*sys.argv[1:])
