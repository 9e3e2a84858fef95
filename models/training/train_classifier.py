"""Trains the proposal classifier on candidates from scripts/classifier-candidates.ts (CPU, 1-2 torch threads).

  /usr/bin/python3 models/training/train_classifier.py --train models/training/data/fpr/train \
      --val models/training/data/fpr/val --out models/training/runs/fpr --epochs 61 [--seed 0]

--train and --val take one folder or several (pooled in the order given: e.g. the classifier sets of several archives).

Balanced batches (half positives: lesions are rare among candidates; of the negatives, --hard-fraction drawn from
those the detector scored at least --hard-score, which uniform draws would rarely meet), random flips of the crops along the three
axes (lesion-agnostic symmetries), BCE loss, AdamW. Ignored candidates (label -1) are left out. Validation AUC and
the validation candidates' outputs are kept per epoch; the best-AUC epoch is written to <out>/best.pt.
Training stops at an epoch count (never a clock, so that a slower machine trains the same model); --max-minutes only
aborts with an error.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from classifier_data import channels, load_many
from classifier_net import ProposalNet


def auc(scores, labels):
    order = np.argsort(-scores, kind='stable')
    l = labels[order]
    pos, neg = l.sum(), len(l) - l.sum()
    if pos == 0 or neg == 0:
        return float('nan')
    # Mann-Whitney: for every positive, the negatives ranked below it.
    neg_above = np.cumsum(1 - l)
    return float(((neg - neg_above[l == 1]).sum()) / (pos * neg))


def batch_indices(rng, pos, neg, hard, batch, hard_fraction):
    """One batch: half lesions; of the negatives, hard_fraction (rounded) from the high-scoring ones when there are any."""
    n_neg = batch - batch // 2
    n_hard = int(round(hard_fraction * n_neg)) if len(hard) else 0
    return np.concatenate([rng.choice(pos, batch // 2), rng.choice(neg, n_neg - n_hard), rng.choice(hard, n_hard)]).astype(np.int64)


def to_tensors(crops, feats):
    return torch.from_numpy(crops.astype(np.float32) / 255.0), torch.from_numpy(feats)


def predict(model, crops, feats, batch=256):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            c, f = to_tensors(crops[i:i + batch], feats[i:i + batch])
            out.append(torch.sigmoid(model(c, f)).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    # Several folders (e.g. the classifier sets of several archives) are pooled, in the order given.
    ap.add_argument('--train', required=True, nargs='+')
    ap.add_argument('--val', required=True, nargs='+')
    ap.add_argument('--out', required=True)
    ap.add_argument('--epochs', type=int, required=True)
    ap.add_argument('--max-minutes', type=float, default=0, help='a safety limit: abort with an error (exit 3)')
    ap.add_argument('--iters-per-epoch', type=int, default=200)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--width', type=int, default=12)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--hard-fraction', type=float, default=0.0, help='share of each batch\'s negatives drawn from the high-scoring ones')
    ap.add_argument('--hard-score', type=float, default=0.5, help='detector score (feature 0) from which a negative is high-scoring')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)
    tc, tf, tl, _, spec = load_many(a.train)
    vc, vf, vl, _, val_spec = load_many(a.val)
    if val_spec != spec:
        sys.exit(f'--val crops are of another spec than --train\'s ({val_spec} != {spec})')
    pos, neg = np.flatnonzero(tl == 1), np.flatnonzero(tl == 0)
    hard = np.flatnonzero((tl == 0) & (tf[:, 0] >= a.hard_score))
    print(f'train {len(tl)} candidates ({len(pos)} lesions, {len(hard)} negatives scoring >= {a.hard_score}), val {len(vl)} ({int(vl.sum())} lesions)', flush=True)
    model = ProposalNet(a.width, channels(spec))
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    lossf = torch.nn.BCEWithLogitsLoss()
    t0, epoch, best, history = time.time(), 0, -1.0, []
    while epoch < a.epochs:
        if a.max_minutes > 0 and (time.time() - t0) / 60 > a.max_minutes:
            print(f'aborting at epoch {epoch}: --max-minutes {a.max_minutes} exceeded', file=sys.stderr, flush=True)
            sys.exit(3)
        model.train()
        total = 0.0
        for _ in range(a.iters_per_epoch):
            idx = batch_indices(rng, pos, neg, hard, a.batch, a.hard_fraction)
            c, f = to_tensors(tc[idx], tf[idx])
            for axis in (2, 3, 4):
                flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
                c[flip] = c[flip].flip(axis)
            y = torch.from_numpy(tl[idx].astype(np.float32))
            loss = lossf(model(c, f), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        epoch += 1
        p = predict(model, vc, vf)
        v_auc = auc(p, vl)
        history.append({'epoch': epoch, 'iters': epoch * a.iters_per_epoch, 'loss': total / a.iters_per_epoch, 'valAuc': v_auc, 'minutes': (time.time() - t0) / 60})
        print(json.dumps(history[-1]), flush=True)
        torch.save({'model': model.state_dict(), 'width': a.width, 'crop': spec, 'epoch': epoch}, os.path.join(a.out, f'epoch-{epoch}.pt'))
        if v_auc > best:
            best = v_auc
            torch.save({'model': model.state_dict(), 'width': a.width, 'crop': spec, 'epoch': epoch}, os.path.join(a.out, 'best.pt'))
    arg = lambda v: ' '.join(v) if isinstance(v, list) else v  # noqa: E731
    record = {'command': 'train_classifier.py ' + ' '.join(f'--{k.replace("_", "-")} {arg(v)}' for k, v in vars(a).items()),
              'crop': spec, 'trainCandidates': int(len(tl)), 'trainLesionCandidates': int(len(pos)), 'valCandidates': int(len(vl)),
              'valLesionCandidates': int(vl.sum()), 'bestValAuc': best, 'history': history}
    with open(os.path.join(a.out, 'record.json'), 'w') as f:
        json.dump(record, f, indent=1)
    print(f'best val AUC {best:.4f}', flush=True)


if __name__ == '__main__':
    main()
