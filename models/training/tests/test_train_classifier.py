"""Batch composition and pooled data folders of the proposal classifier's training (cd models/training && python3 -m unittest tests/test_train_classifier.py)."""
import json
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from classifier_data import CHANNELS, CROP, FEATURES, load_many  # noqa: E402
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



def write_folder(folder, labels, first_value):
    """A data folder of len(labels) candidates whose crops and features are filled with first_value, first_value + 1, ..."""
    os.makedirs(folder)
    per = CHANNELS * CROP[0] * CROP[1] * CROP[2]
    values = np.arange(first_value, first_value + len(labels))
    np.repeat(values, per).astype(np.uint8).tofile(os.path.join(folder, 'crops.u8'))
    np.repeat(values, FEATURES).astype(np.float32).tofile(os.path.join(folder, 'feats.f32'))
    with open(os.path.join(folder, 'meta.jsonl'), 'w') as f:
        for v, l in zip(values, labels):
            f.write(json.dumps({'candidate': int(v), 'label': l}) + '\n')


class LoadMany(unittest.TestCase):
    def test_folders_pooled_in_order_without_ignored_candidates(self):
        with tempfile.TemporaryDirectory() as d:
            write_folder(os.path.join(d, 'a'), [1, 0, -1], 10)
            write_folder(os.path.join(d, 'b'), [0, 1], 20)
            crops, feats, labels, meta = load_many([os.path.join(d, 'a'), os.path.join(d, 'b')])
            self.assertEqual(labels.tolist(), [1, 0, 0, 1])
            self.assertEqual([m['candidate'] for m in meta], [10, 11, 20, 21])
            self.assertEqual(feats[:, 0].tolist(), [10, 11, 20, 21])
            self.assertEqual(crops[:, 0, 0, 0, 0].tolist(), [10, 11, 20, 21])
            self.assertEqual(crops.shape, (4, CHANNELS, *CROP))

    def test_a_folder_whose_files_disagree_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            write_folder(os.path.join(d, 'a'), [1, 0], 10)
            write_folder(os.path.join(d, 'b'), [1, 0], 20)
            with open(os.path.join(d, 'b', 'meta.jsonl'), 'a') as f:
                f.write(json.dumps({'candidate': 99, 'label': 0}) + '\n')
            with self.assertRaisesRegex(ValueError, 'b: 3 meta lines'):
                load_many([os.path.join(d, 'a'), os.path.join(d, 'b')])


if __name__ == '__main__':
    unittest.main()
