"""Averages the weights of several checkpoints of one architecture into one checkpoint.

Checkpoints late in a cosine schedule sit around one basin; their mean (stochastic weight averaging, Izmailov et
al. 2018) is often a flatter, better-generalising point than any of them. The same holds for checkpoints of runs
fine-tuned from the same start (a uniform "model soup", Wortsman et al. 2022). BatchNorm running statistics are
averaged too, which is adequate when the checkpoints are close (the model is exported with the averaged statistics
and evaluated as such); integer buffers (BatchNorm's batch counters) are taken from the first checkpoint.

  /usr/bin/python3 models/training/average_checkpoints.py --out runs/stage4/avg.pt runs/stage4/it-6000.pt runs/stage4/it-8000.pt

The output is a checkpoint export.py reads: `iteration` is the largest input iteration, `averagedIterations` lists
them, and `provenance.averageOf` names each input (path, SHA-256, iteration and its own provenance).
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
            raise ValueError('checkpoints have different architectures')
    out = {}
    for k, v in first['model'].items():
        if v.is_floating_point():
            out[k] = sum(c['model'][k].double() for c in checkpoints).div(len(checkpoints)).to(v.dtype)
        else:
            out[k] = v.clone()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoints', nargs='+')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    cks = [torch.load(p, map_location='cpu') for p in a.checkpoints]
    try:
        state = average(cks)
    except ValueError as e:
        raise SystemExit(str(e))
    iterations = [ck.get('iteration') for ck in cks]
    torch.save({
        'model': state,
        'arch': cks[0].get('arch'),
        'iteration': max(int(i or 0) for i in iterations),
        'averagedIterations': iterations,
        'metrics': {},
        'provenance': {
            'git': git_record(),
            'averageOf': [{'checkpoint': p, 'sha256': file_sha256(p), 'iteration': c.get('iteration'), 'provenance': c.get('provenance', {})}
                          for p, c in zip(a.checkpoints, cks)],
        },
    }, a.out)
    print(f'averaged iterations {iterations} into {a.out}')


if __name__ == '__main__':
    main()
