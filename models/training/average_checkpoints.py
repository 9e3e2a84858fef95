"""A uniform "model soup" (Wortsman et al. 2022): the element-wise mean of several checkpoints of one architecture
fine-tuned from the same start, which often generalises better than any one of them.

    /usr/bin/python3 models/training/average_checkpoints.py --checkpoints A.pt,B.pt,... --out SOUP.pt

Float tensors are averaged; integer buffers (BatchNorm's batch counters) are taken from the first checkpoint. The
output is a checkpoint export.py reads: its `provenance.averageOf` names each input (path, SHA-256, iteration and its
own provenance), its `iteration` is the largest input iteration.
"""
import argparse
import os
import sys
from typing import Any, Dict, List

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from provenance import file_sha256, git_record  # noqa: E402


def average(checkpoints: List[Dict[str, Any]]) -> Dict[str, torch.Tensor]:
    first = checkpoints[0]
    for c in checkpoints[1:]:
        if c.get('arch') != first.get('arch') or c['model'].keys() != first['model'].keys():
            raise ValueError('checkpoints of different architectures cannot be averaged')
    out = {}
    for k, v in first['model'].items():
        if v.is_floating_point():
            out[k] = sum(c['model'][k].double() for c in checkpoints).div(len(checkpoints)).to(v.dtype)
        else:
            out[k] = v.clone()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--checkpoints', required=True, help='comma-separated checkpoints (train.py --keep-checkpoints)')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    paths = [p for p in a.checkpoints.split(',') if p]
    if len(paths) < 2:
        sys.exit('average_checkpoints: give at least two checkpoints')
    cks = [torch.load(p, map_location='cpu') for p in paths]
    soup = {
        'model': average(cks),
        'arch': cks[0].get('arch'),
        'iteration': max(int(c.get('iteration', 0)) for c in cks),
        'metrics': {},
        'provenance': {
            'git': git_record(),
            'averageOf': [{'checkpoint': p, 'sha256': file_sha256(p), 'iteration': c.get('iteration'), 'provenance': c.get('provenance', {})}
                          for p, c in zip(paths, cks)],
        },
    }
    torch.save(soup, a.out)
    print(f'averaged {len(paths)} checkpoints into {a.out}')


if __name__ == '__main__':
    main()
