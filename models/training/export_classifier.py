"""Exports a proposal classifier checkpoint (train_classifier.py) to ONNX with its manifest (models/lens-fpr/).

  /usr/bin/python3 models/training/export_classifier.py --checkpoint models/training/runs/fpr/best.pt \
      --out models/lens-fpr --record models/training/runs/fpr/record.json

The manifest (read by src/detect/proposal-classifier.ts) names the graph's inputs and output, the crops they are
built with (input.crop: the training data's crop spec, src/detect/proposal-crops.ts) and how the final score is
made; the operating point and the measured evaluation are written into it afterwards by scripts/evaluate-proposal-classifier.ts.

Several checkpoints (--checkpoint A B ..., each with its --record in the same order) make one graph whose
probability is the mean of theirs: an ensemble of trainings that differ only by seed or width, because one
training's ranking moves with its seed (docs/harvest.md, "A second seed").
"""
import argparse
import json
import os

import torch

from classifier_data import DEFAULT_SPEC, FEATURES, channels, crop_shape
from classifier_net import ProposalNet


class MeanProbability(torch.nn.Module):
    """The mean of the members' sigmoid probabilities (one member: its probability)."""

    def __init__(self, members):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, crops, feats):
        return torch.stack([torch.sigmoid(m(crops, feats)) for m in self.members]).mean(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--checkpoint', required=True, nargs='+')
    ap.add_argument('--out', default='models/lens-fpr')
    ap.add_argument('--record', nargs='+', help='record.json of each training run, copied into the manifest')
    ap.add_argument('--version', default='0.1.0')
    ap.add_argument('--name', default='lens-fpr', help='model name (a classifier trained on one archive\'s harvest is not lens-fpr)')
    a = ap.parse_args()
    if a.record and len(a.record) != len(a.checkpoint):
        ap.error(f'{len(a.checkpoint)} checkpoints but {len(a.record)} records: give one record per checkpoint, in the same order')
    members, trainings, specs = [], [], []
    for i, path in enumerate(a.checkpoint):
        ck = torch.load(path, map_location='cpu')
        # Checkpoints written before the spec was recorded learned from the default crops.
        specs.append(ck.get('crop', DEFAULT_SPEC))
        if specs[-1] != specs[0]:
            ap.error(f'{path} learned from other crops than {a.checkpoint[0]} ({specs[-1]} != {specs[0]}): members must share one crop spec')
        model = ProposalNet(ck['width'], channels(specs[-1]))
        model.load_state_dict(ck['model'])
        model.eval()
        members.append(model)
        training = json.load(open(a.record[i])) if a.record else {}
        training['checkpoint'] = os.path.relpath(path)
        training['epoch'] = ck['epoch']
        trainings.append(training)
    ensemble = MeanProbability(members)

    os.makedirs(a.out, exist_ok=True)
    spec = specs[0]
    dummy = (torch.zeros(2, *crop_shape(spec)), torch.zeros(2, FEATURES))
    torch.onnx.export(ensemble, dummy, os.path.join(a.out, 'model.onnx'), input_names=['crops', 'features'],
                      output_names=['probability'], dynamic_axes={'crops': {0: 'n'}, 'features': {0: 'n'}, 'probability': {0: 'n'}},
                      opset_version=13, do_constant_folding=True)
    training = trainings[0] if len(trainings) == 1 else {'ensemble': 'mean of the members\' probabilities', 'members': trainings}
    manifest = {
        'name': a.name,
        'version': a.version,
        'file': 'model.onnx',
        'description': 'Proposal classifier (second stage): lesion probability of a detector candidate from 3D crops at two scales',
        'input': {'crops': 'crops', 'features': 'features', 'channels': channels(spec), 'size': list(spec['size']), 'crop': spec},
        'output': {'probability': 'probability'},
        # The candidates it was trained on (classifier-candidates.ts --min-score 0.15 --top 150); the rule and the
        # operating point are chosen afterwards on validation data (evaluate-proposal-classifier.ts).
        'scoring': {'candidateScoreThreshold': 0.15, 'maxCandidates': 150, 'combine': 'geometric-mean', 'finalScoreThreshold': 0},
        'parameters': sum(p.numel() for p in ensemble.parameters()),
        'training': training,
    }
    with open(os.path.join(a.out, 'model.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    print(f'wrote {a.out}/model.onnx and model.json ({manifest["parameters"]} parameters)')


if __name__ == '__main__':
    main()
