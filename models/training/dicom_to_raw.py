"""Converts a folder of single-frame, uncompressed CT instances of one series into the raw layout of
`lens synth --format raw` (volume.i16 + volume.json), so the Python sanity check can run on real CT.
Header values come from dcmtk's dcmdump (no pydicom here); pixels are the PixelData element's bytes.
Usage: dicom_to_raw.py DICOM_DIR OUT_DIR [TRUTH_JSON]"""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

TAGS = {'0020,0032': 'pos', '0020,0037': 'iop', '0028,0010': 'rows', '0028,0011': 'cols', '0028,0030': 'ps',
        '0028,1052': 'b', '0028,1053': 'm', '0028,0103': 'pr', '0002,0010': 'ts'}


def header(path):
    out = subprocess.run(['dcmdump', '-q', path], capture_output=True, text=True, check=True).stdout
    h = {}
    for line in out.splitlines():
        m = re.match(r'\((\w{4},\w{4})\) (\w\w) (.*?)\s+#', line)
        if m and m.group(1).lower() in TAGS:
            h[TAGS[m.group(1).lower()]] = m.group(3).strip().strip('[]=')
    return h


def pixels(path, n, signed):
    raw = open(path, 'rb').read()
    i = raw.rfind(b'\xe0\x7f\x10\x00')
    if i < 0:
        raise ValueError(f'{path}: no PixelData')
    # Implicit VR: tag, 4-byte length; explicit VR OW: tag, 'OW', 2 reserved, 4-byte length.
    off = i + 12 if raw[i + 4:i + 6] in (b'OW', b'OB') else i + 8
    return np.frombuffer(raw[off:off + 2 * n], dtype='<i2' if signed else '<u2')


def main(src, out, truth=None):
    files = sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith('.dcm'))
    hs = [header(f) for f in files]
    iop = np.array([float(v) for v in hs[0]['iop'].split('\\')])
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    pos = [np.array([float(v) for v in h['pos'].split('\\')]) for h in hs]
    order = np.argsort([p @ normal for p in pos])
    rows, cols = int(hs[0]['rows']), int(hs[0]['cols'])
    ps = [float(v) for v in hs[0]['ps'].split('\\')]
    vol = np.empty((len(files), rows, cols), dtype=np.int16)
    for k, idx in enumerate(order):
        h = hs[idx]
        px = pixels(files[idx], rows * cols, h.get('pr', '0') == '1').astype(np.float32)
        vol[k] = np.clip(px * float(h.get('m', 1)) + float(h.get('b', 0)), -32768, 32767).reshape(rows, cols)
    zs = [pos[i] @ normal for i in order]
    sz = float(np.median(np.diff(zs)))
    os.makedirs(out, exist_ok=True)
    vol.astype('<i2').tofile(os.path.join(out, 'volume.i16'))
    meta = {'dims': [cols, rows, len(files)], 'spacing': [ps[1], ps[0], sz], 'origin': pos[order[0]].tolist(),
            'direction': {'row': row.tolist(), 'column': col.tolist(), 'normal': normal.tolist()}}
    json.dump(meta, open(os.path.join(out, 'volume.json'), 'w'))
    if truth:
        shutil.copy(truth, os.path.join(out, 'truth.json'))
    print(out, meta)


if __name__ == '__main__':
    main(*sys.argv[1:])
