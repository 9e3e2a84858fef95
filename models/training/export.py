"""Export a LensNet checkpoint to ONNX plus its manifest (models/<name>/model.json, src/detect/manifest.ts)."""
import argparse
import json
import os
import shlex
import sys
from typing import Any, Dict, List, Optional

import torch

import spec
from lensnet import LensNet
from provenance import git_record


def build_model(arch: Optional[Dict[str, Any]] = None) -> LensNet:
    arch = dict(arch or {})
    # Checkpoints before lens-ulb 0.3.0 have no 'slices': they are 3-slice models.
    slices = arch.pop('slices', spec.SLICES)
    # Multi-dataset (LENS) checkpoints name their heads and each head's channel types (train_lens.py).
    head_classes = arch.pop('heads', None)
    if head_classes:
        return LensNet(slices, {h: len(c) for h, c in head_classes.items()}, head_classes=head_classes, **arch)
    return LensNet(slices, spec.HEADS, **arch)


def manifest(model: LensNet, version: str, training: Dict[str, Any], onnx_file: str = 'model.onnx',
             head_threshold: float = spec.SCORE_THRESHOLD, only_heads: Optional[List[str]] = None,
             name: str = 'lens-ulb') -> Dict[str, Any]:
    """`only_heads`: the heads the runtime reads and fuses (the graph keeps every output), e.g. one head of a LENS
    model for the ablation row without proposal fusion."""
    heads = []
    for name_ in only_heads or model.head_names:
        if name_ not in model.head_names:
            raise SystemExit(f'no head {name_!r} in this model (heads: {", ".join(model.head_names)})')
        heads.append({
            'name': name_,
            'heatmap': f'{name_}_heatmap',
            'size': f'{name_}_size',
            'offset': f'{name_}_offset',
            'classes': model.head_classes.get(name_, spec.LESION_TYPES),
            'scoreThreshold': head_threshold,
        })
    output: Dict[str, Any] = {'format': 'centernet', 'stride': spec.STRIDE, 'heads': heads}
    if len(heads) > 1:
        # LENS proposal fusion: the runtime merges the heads' detections on each slice (src/detect/fuse.ts).
        output['fusion'] = {'method': 'weighted-box-fusion', 'iouThreshold': spec.FUSION_IOU}
    if model.mask is not None:
        output['mask'] = 'mask'
    return {
        'name': name,
        'version': version,
        'file': onnx_file,
        'description': 'LENS-style universal lesion detector: 2.5D CenterNet on %d slices, trained on lens-pacs '
                       'synthetic phantom CT (see docs/model.md)' % model.in_slices,
        'input': {
            'name': spec.INPUT_NAME,
            'slices': model.in_slices,
            'sliceIntervalMm': spec.SLICE_INTERVAL_MM,
            'sliceStrideMm': spec.SLICE_STRIDE_MM,
            'pixelSpacingMm': spec.PIXEL_SPACING_MM,
            'huWindow': list(spec.HU_WINDOW),
            'sizeMultiple': spec.SIZE_MULTIPLE,
        },
        'output': output,
        'lesionTypes': spec.LESION_TYPES,
        'training': training,
    }


def export(model: LensNet, out_dir: str, version: str, training: Dict[str, Any],
           head_threshold: float = spec.SCORE_THRESHOLD, only_heads: Optional[List[str]] = None,
           name: str = 'lens-ulb', onnx_file: Optional[str] = None) -> None:
    """`onnx_file`: write only the manifest, naming this existing graph (relative to out_dir) of the same weights,
    e.g. another head selection of one network."""
    os.makedirs(out_dir, exist_ok=True)
    model = model.eval()
    if onnx_file:
        if not os.path.exists(os.path.join(out_dir, onnx_file)):
            raise SystemExit(f'{onnx_file} (relative to {out_dir}) does not exist')
        with open(os.path.join(out_dir, 'model.json'), 'w') as f:
            json.dump(manifest(model, version, training, onnx_file, head_threshold, only_heads, name), f, indent=2)
            f.write('\n')
        return
    dummy = torch.zeros(1, model.in_slices, 128, 160)
    names = model.output_names()
    dyn = {spec.INPUT_NAME: {0: 'N', 2: 'H', 3: 'W'}}
    for n in names:
        dyn[n] = {0: 'N', 2: 'h', 3: 'w'}
    path = os.path.join(out_dir, 'model.onnx')
    torch.onnx.export(model, dummy, path, input_names=[spec.INPUT_NAME], output_names=names,
                      dynamic_axes=dyn, opset_version=13, do_constant_folding=True)
    # A new export drops any earlier evaluation and operating point: they belong to the old graph and must be
    # re-measured (scripts/evaluate-model.ts).
    with open(os.path.join(out_dir, 'model.json'), 'w') as f:
        json.dump(manifest(model, version, training, head_threshold=head_threshold, only_heads=only_heads, name=name), f, indent=2)
        f.write('\n')


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--checkpoint', help='a .pt written by train.py (untrained weights when absent)')
    ap.add_argument('--out', default='models/lens-ulb')
    ap.add_argument('--version', default='0.0.1-untrained')
    ap.add_argument('--summary', help="the run's summary.json (train.py), recorded as the manifest's training; "
                    'for exporting a checkpoint kept by --keep-checkpoints other than the run\'s own pick')
    ap.add_argument('--selection', default='', help='why this checkpoint (recorded as training.selection)')
    ap.add_argument('--record', help='a JSON file of further training.* fields (e.g. models/training/lens-ulb-record.json: '
                    'the lineage of stages, how to reproduce, the validation sets)')
    ap.add_argument('--head-threshold', type=float, default=spec.SCORE_THRESHOLD, help='the heads\' peak (candidate) '
                    'threshold in the manifest; 0.05 lets an evaluation sweep reach 8 FPs per volume (the shipped models\' value)')
    ap.add_argument('--heads', default='', help='comma-separated heads the manifest lists (default: all); the runtime '
                    'fuses the listed heads\' detections (src/detect/fuse.ts)')
    ap.add_argument('--name', default='lens-ulb', help='the model name in the manifest')
    ap.add_argument('--onnx', help='write only the manifest, naming this ONNX file (relative to --out) already exported '
                    'from the same checkpoint (e.g. a head selection of one network: no second copy of the graph)')
    a = ap.parse_args()
    training: Dict[str, Any] = {'note': 'untrained weights (interface preview)'}
    if a.checkpoint:
        ck = torch.load(a.checkpoint, map_location='cpu')
        m = build_model(ck.get('arch'))
        m.load_state_dict(ck['model'])
        training = {}
        if a.summary:
            with open(a.summary) as f:
                training = json.load(f)
            # The run's own pick (by its small --val set) is not what is exported here.
            training['runBestIteration'] = training.pop('bestIteration', None)
        # The code and data the weights were trained from (train.py saves them in every checkpoint; checkpoints
        # written before it did have none, and nothing is guessed for them).
        training.update({k: v for k, v in ck.get('provenance', {}).items() if k not in training})
        training['exportedIteration'] = ck['iteration']
        training['exportGit'] = git_record()
        training['validation2D'] = dict(ck.get('metrics', {}), iteration=ck['iteration'])
        training['exportCommand'] = shlex.join(['/usr/bin/python3'] + sys.argv)
        if a.selection:
            training['selection'] = a.selection
        if a.record:
            with open(a.record) as f:
                training.update(json.load(f))
    else:
        torch.manual_seed(0)
        m = build_model()
    export(m, a.out, a.version, training, head_threshold=a.head_threshold,
           only_heads=[h for h in a.heads.split(',') if h] or None, name=a.name, onnx_file=a.onnx)
    print('exported', a.out)
