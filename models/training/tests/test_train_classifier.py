"""Batch composition of the proposal classifier's training (cd models/training && python3 -m unittest tests/test_train_classifier.py)."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from train_classifier import batch_indices  # noqa: E402


class BatchIndices(unittest.TestCase):
    def setUp(self):
        self.pos = np.arange(0, 10)
        self.neg = np.arange(10, 1000)
        self.hard = np.arange(990, 1000)

    def test_half_lesions_and_the_hard_share_of_the_negatives(self):
        idx = batch_indices(np.random.default_rng(0), self.pos, self.neg, self.hard, 32, 0.5)
        self.assertEqual(len(idx), 32)
        self.assertTrue(np.all(idx[:16] < 10))
        self.assertTrue(np.all(idx[-8:] >= 990))

    def test_uniform_negatives_by_default_and_without_hard_ones(self):
        for hard, frac in ((self.hard, 0.0), (np.array([], dtype=np.int64), 0.5)):
            idx = batch_indices(np.random.default_rng(0), self.pos, self.neg, hard, 32, frac)
            self.assertEqual(len(idx), 32)
            self.assertTrue(np.all(idx[16:] >= 10))


if __name__ == '__main__':
    unittest.main()
