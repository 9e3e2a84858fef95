"""Averages the weights of several checkpoints of one run (the same architecture) into one checkpoint.

Checkpoints late in a cosine schedule sit around one basin; their mean (stochastic weight averaging, Izmailov et
al. 2018) is often a flatter, better-generalising point than any of them. BatchNorm running statistics are averaged
too, which is adequate when the checkpoints are close (they are re-estimated in full SWA; not needed here since
the model is exported with the averaged statistics and evaluated as such).

  /usr/bin/python3 models/training/average_checkpoints.py --out runs/stage4/avg.pt runs/stage4/it-6000.pt runs/stage4/it-8000.pt
"""
import argparse

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoints', nargs='+')
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    cks = [torch.load(p, map_location='cpu') for p in a.checkpoints]
    if any(ck['arch'] != cks[0]['arch'] for ck in cks):
        raise SystemExit('checkpoints have different architectures')
    state = {}
    for k, v in cks[0]['model'].items():
        if v.is_floating_point():
            state[k] = sum(ck['model'][k] for ck in cks) / len(cks)
        else:  # e.g. BatchNorm's num_batches_tracked
            state[k] = v.clone()
    iterations = [ck['iteration'] for ck in cks]
    torch.save({'model': state, 'arch': cks[0]['arch'], 'iteration': max(iterations), 'averagedIterations': iterations,
                'metrics': {}}, a.out)
    print(f'averaged iterations {iterations} into {a.out}')


if __name__ == '__main__':
    main()
