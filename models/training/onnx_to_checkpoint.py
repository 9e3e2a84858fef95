"""Recover a train.py checkpoint from an exported LensNet ONNX file, for fine-tuning a shipped model whose .pt is gone.

    /usr/bin/python3 models/training/onnx_to_checkpoint.py --onnx models/lens-ulb/model.onnx --out runs/lens-ulb-0.3.0.pt

export.py exports in eval mode with constant folding, so every Conv + BatchNorm pair is one Conv with a bias in the
ONNX file. The checkpoint written here puts the folded kernel into the convolution and the folded bias into its
BatchNorm (weight 1, running mean 0, running variance 1 - eps, so the BatchNorm is the identity plus the bias): in
eval mode it computes exactly what the ONNX model computes. Fine-tune it with `train.py --freeze-bn` (BatchNorm
kept in eval mode), since batch statistics of these folded activations would change the model.

Which ONNX initializer is which parameter: a LensNet of the same architecture with distinct random weights (and
identity BatchNorms) is exported the same way, its Conv kernels are matched to its parameters by value, and the
shipped file's Conv nodes, which come in the same order, take those names. No onnx package is needed (this
machine's Debian python has none): the few protobuf fields used are read directly.
"""
import argparse
import io
import os
import struct
import sys
import tempfile
from typing import Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import build_model  # noqa: E402
import spec  # noqa: E402


def _varint(b: bytes, i: int) -> Tuple[int, int]:
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return v, i


def _fields(b: bytes):
    """(field number, wire type, value) of one protobuf message; length-delimited values as bytes."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v = b[i:i + 8]; i += 8
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]; i += n
        elif wt == 5:
            v = b[i:i + 4]; i += 4
        else:
            raise ValueError(f'unsupported protobuf wire type {wt}')
        yield f, wt, v


def _tensor(b: bytes) -> Tuple[str, np.ndarray]:
    dims: List[int] = []
    name, raw, floats, dtype = '', None, [], 1
    for f, wt, v in _fields(b):
        if f == 1:
            if wt == 2:  # packed
                j = 0
                while j < len(v):
                    d, j = _varint(v, j); dims.append(d)
            else:
                dims.append(v)
        elif f == 2:
            dtype = v
        elif f == 4:
            floats.extend(struct.unpack(f'<{len(v) // 4}f', v) if wt == 2 else struct.unpack('<f', v))
        elif f == 8:
            name = v.decode()
        elif f == 9:
            raw = v
    if dtype != 1:  # only FLOAT tensors are weights here
        return name, None
    arr = np.frombuffer(raw, dtype='<f4').copy() if raw is not None else np.asarray(floats, dtype=np.float32)
    return name, arr.reshape(dims) if dims else arr


def read_onnx(path: str) -> Tuple[List[Tuple[str, List[str]]], Dict[str, np.ndarray]]:
    """The graph's nodes (op type, inputs) in order and its float initializers by name."""
    with open(path, 'rb') as f:
        model = f.read()
    graph = next(v for f, _, v in _fields(model) if f == 7)
    nodes, inits = [], {}
    for f, _, v in _fields(graph):
        if f == 1:
            op, inputs = '', []
            for g, _, w in _fields(v):
                if g == 1:
                    inputs.append(w.decode())
                elif g == 4:
                    op = w.decode()
            nodes.append((op, inputs))
        elif f == 5:
            name, arr = _tensor(v)
            if arr is not None:
                inits[name] = arr
    return nodes, inits


def conv_names(model: torch.nn.Module, arch: dict) -> List[Tuple[str, str]]:
    """For each Conv node of `model`'s ONNX export, in graph order: (conv module name, its BatchNorm's name or '')."""
    torch.manual_seed(0)
    convs = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    bn_of = {}
    mods = dict(model.named_modules())
    for n, m in mods.items():
        if isinstance(m, torch.nn.Sequential):
            kids = list(m.named_children())
            for (a, ma), (b, mb) in zip(kids, kids[1:]):
                if isinstance(ma, torch.nn.Conv2d) and isinstance(mb, torch.nn.BatchNorm2d):
                    bn_of[f'{n}.{a}'] = f'{n}.{b}'
    probe = build_model(arch)
    with torch.no_grad():
        for n, m in probe.named_modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.copy_(torch.randn_like(m.weight))
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.fill_(1); m.bias.zero_(); m.running_mean.zero_(); m.running_var.fill_(1)
    probe.eval()
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, 'probe.onnx')
        torch.onnx.export(probe, torch.zeros(1, probe.in_slices, 128, 160), p, input_names=[spec.INPUT_NAME],
                          output_names=probe.output_names(), opset_version=13, do_constant_folding=True)
        nodes, inits = read_onnx(p)
    pw = {n: m.weight.detach().numpy() for n, m in probe.named_modules() if isinstance(m, torch.nn.Conv2d)}
    out = []
    for op, inputs in nodes:
        if op != 'Conv':
            continue
        w = inits[inputs[1]]
        best = min((n for n in pw if pw[n].shape == w.shape), key=lambda n: float(np.abs(pw[n] - w).max()))
        if float(np.abs(pw[best] - w).max()) > 1e-3:
            raise SystemExit(f'no parameter matches ONNX conv weight {inputs[1]}')
        out.append((best, bn_of.get(best, '')))
    if sorted(n for n, _ in out) != sorted(convs):
        raise SystemExit('the ONNX convolutions do not map one to one onto the model\'s')
    return out


def convert(onnx_path: str, arch: dict) -> dict:
    model = build_model(arch)
    names = conv_names(model, arch)
    nodes, inits = read_onnx(onnx_path)
    convs = [inputs for op, inputs in nodes if op == 'Conv']
    if len(convs) != len(names):
        raise SystemExit(f'{onnx_path}: {len(convs)} convolutions, the architecture has {len(names)}')
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for (conv, bn), inputs in zip(names, convs):
        w = torch.from_numpy(inits[inputs[1]])
        if state[conv + '.weight'].shape != w.shape:
            raise SystemExit(f'{conv}: ONNX weight {tuple(w.shape)} vs model {tuple(state[conv + ".weight"].shape)}')
        b = torch.from_numpy(inits[inputs[2]]) if len(inputs) > 2 else torch.zeros(w.shape[0])
        state[conv + '.weight'] = w
        if bn:
            eps = dict(model.named_modules())[bn].eps
            state[bn + '.weight'] = torch.ones_like(b)
            state[bn + '.bias'] = b
            state[bn + '.running_mean'] = torch.zeros_like(b)
            state[bn + '.running_var'] = torch.full_like(b, 1 - eps)
        else:
            state[conv + '.bias'] = b
    return state


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--onnx', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--widths', default='16,24,48,96,128')
    ap.add_argument('--neck', type=int, default=48)
    ap.add_argument('--slices', type=int, default=spec.SLICES)
    a = ap.parse_args()
    arch = {'widths': [int(v) for v in a.widths.split(',')], 'neck': a.neck, 'slices': a.slices}
    state = convert(a.onnx, arch)
    model = build_model(arch)
    model.load_state_dict(state)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save({'model': model.state_dict(), 'arch': arch, 'iteration': 0, 'metrics': {},
                'provenance': {'convertedFrom': os.path.relpath(a.onnx)}}, a.out)
    print(f'wrote {a.out} from {a.onnx}')


if __name__ == '__main__':
    main()
