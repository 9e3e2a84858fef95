"""Checks that models/lens-ulb/model.onnx in onnxruntime-node (the runtime D2 uses) gives the checkpoint's PyTorch
outputs on a real preprocessed stack of a raw study. Usage: check_onnx.py CHECKPOINT STUDY_DIR [MODEL_DIR]"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec  # noqa: E402
from data import load_study, stack_at  # noqa: E402
from export import build_model  # noqa: E402

JS = r"""
const ort = require('onnxruntime-node'); const fs = require('fs'); const path = require('path');
(async () => {
  const [model, dir] = process.argv.slice(2);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json')));
  const s = await ort.InferenceSession.create(model);
  const x = new Float32Array(fs.readFileSync(path.join(dir, 'input.f32')).buffer.slice(0));
  const out = await s.run({ [meta.input]: new ort.Tensor('float32', x, meta.shape) });
  let worst = 0;
  for (const name of meta.outputs) {
    const want = new Float32Array(fs.readFileSync(path.join(dir, name + '.f32')).buffer.slice(0));
    const got = out[name].data;
    if (got.length !== want.length) throw new Error(name + ': length ' + got.length + ' vs ' + want.length);
    let d = 0; for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
    console.log(name, out[name].dims.join('x'), 'max rel diff', d.toExponential(2)); worst = Math.max(worst, d);
  }
  process.exit(worst < 1e-3 ? 0 : 1);
})();
"""


def main(ck_path, study_dir, model_dir='models/lens-ulb'):
    ck = torch.load(ck_path, map_location='cpu')
    model = build_model(ck.get('arch'))
    model.load_state_dict(ck['model'])
    model.eval()
    st = load_study(study_dir)
    _, H, W = st.vol.shape
    m = spec.SIZE_MULTIPLE
    x = np.stack([stack_at(st, st.z_extent / 2 + d, 0, 0, -(-H // m) * m, -(-W // m) * m, model.in_slices) for d in (0, 5)])
    with torch.no_grad():
        outs = model(torch.from_numpy(x))
    with tempfile.TemporaryDirectory() as d:
        x.astype('<f4').tofile(os.path.join(d, 'input.f32'))
        for name, o in zip(model.output_names(), outs):
            o.numpy().astype('<f4').tofile(os.path.join(d, name + '.f32'))
        json.dump({'input': spec.INPUT_NAME, 'shape': list(x.shape), 'outputs': model.output_names()}, open(os.path.join(d, 'meta.json'), 'w'))
        js = os.path.join(os.path.dirname(os.path.abspath(__file__)), '.check_onnx.js')
        with open(js, 'w') as f:
            f.write(JS)
        try:
            r = subprocess.run(['node', js, os.path.join(model_dir, 'model.onnx'), d])
        finally:
            os.remove(js)
    sys.exit(r.returncode)


if __name__ == '__main__':
    main(*sys.argv[1:])
