"""Unit tests of the LENS pieces: each dataset's label scope, key-slice labels and their propagation, the per-head
losses, mining thresholds and the intra-patient registration.

    cd models/training && /usr/bin/python3 -m unittest tests/test_lens.py
"""
import os
import random
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import spec  # noqa: E402
from data import LesionBox, Study  # noqa: E402
from export import build_model, manifest  # noqa: E402
from lens_data import DATASETS, KeyLabel, LensSampler, LensStudy, head_targets  # noqa: E402
from mine_lens import register, threshold_at_precision  # noqa: E402
from calibrate_heads import fit_platt  # noqa: E402
from train_lens import batch_losses, fuse_heads, platt  # noqa: E402

ARCH = {'widths': [8, 8, 8, 8, 8], 'neck': 8, 'slices': 3}


def volume(n=40, h=96, w=96, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 20, (n, h, w)) + 40).astype(np.int16)


def dl_study(propagate=False):
    st = Study('s', volume(), np.arange(40) * 2.0, [LesionBox(1, 40, 40, 10, 56, 56, 30)])
    ls = LensStudy('deeplesion', st, key_labels=[KeyLabel(1, 20.0, (40, 40, 56, 56))])
    ls.propagate = propagate
    return ls


class LabelScopes(unittest.TestCase):
    def test_deeplesion_label_is_positive_on_its_key_slice_only_and_ignored_around_it(self):
        s = LensSampler([dl_study()], {'deeplesion': 1}, 64, 1.0, random.Random(0), 3, augment=False)
        on_key, ign_key = s._targets_of(s.by_dataset['deeplesion'][0], 20.0)
        from data import make_targets
        hm, ign, _, _, nreg = make_targets(on_key, 20.0, 16, 16, 64, 64, ign_key)
        self.assertEqual(nreg, 1)
        self.assertEqual(hm[1].max(), 1.0)
        hm, ign, _, _, nreg = make_targets(on_key, 24.0, 16, 16, 64, 64, ign_key)
        self.assertEqual(nreg, 0)            # 4 mm off the key slice: no label ...
        self.assertEqual(hm.max(), 0.0)
        self.assertGreater(ign.sum(), 0)     # ... and not background either

    def test_propagated_label_is_positive_off_the_key_slice(self):
        s = LensSampler([dl_study(True)], {'deeplesion': 1}, 64, 1.0, random.Random(0), 3, augment=False)
        lesions, _ = s._targets_of(s.by_dataset['deeplesion'][0], 24.0)
        from data import make_targets
        hm, _, _, _, nreg = make_targets(lesions, 24.0, 16, 16, 64, 64, [])
        self.assertEqual(nreg, 1)
        # The round-lesion extent: +- half the mean side (16 px x 1.5 mm / 2 = 12 mm) around z = 20.
        r = KeyLabel(1, 20.0, (40, 40, 56, 56)).as_round_lesion()
        self.assertAlmostEqual(r.z0, 8.0)
        self.assertAlmostEqual(r.z1, 32.0)

    def test_single_type_head_sees_only_its_type_channel(self):
        hm = np.zeros((len(spec.LESION_TYPES), 4, 4), dtype=np.float32)
        hm[spec.LESION_TYPES.index('liver_lesion'), 1, 1] = 1
        hm[spec.LESION_TYPES.index('lung_nodule'), 2, 2] = 1
        t = head_targets('lits', hm)
        self.assertEqual(t.shape, (1, 4, 4))
        self.assertEqual(t[0, 1, 1], 1)
        self.assertEqual(t[0, 2, 2], 0)
        self.assertEqual(head_targets('deeplesion', hm).shape[0], len(spec.LESION_TYPES))

    def test_each_head_learns_only_from_its_own_datasets_crops(self):
        torch.manual_seed(0)
        model = build_model(dict(ARCH, heads={'deeplesion': DATASETS['deeplesion'], 'luna': DATASETS['luna']}))
        luna = LensStudy('luna', Study('l', volume(seed=1), np.arange(40) * 2.0), labels=[LesionBox(0, 30, 30, 20, 40, 40, 34)])
        sampler = LensSampler([luna], {'luna': 1}, 64, 1.0, random.Random(1), 3, augment=False)
        items = [sampler.sample() for _ in range(2)]
        self.assertTrue(all(i[0] == 'luna' for i in items))
        loss, parts = batch_losses(model, items)
        loss.backward()
        self.assertIn('luna', parts)
        self.assertNotIn('deeplesion', parts)
        self.assertIsNone(model.heads['deeplesion'].heatmap[-1].weight.grad)
        self.assertGreater(float(model.heads['luna'].heatmap[-1].weight.grad.abs().sum()), 0)

    def test_manifest_names_each_heads_classes_and_a_head_subset(self):
        model = build_model(dict(ARCH, heads={'deeplesion': DATASETS['deeplesion'], 'nihln': DATASETS['nihln']}))
        m = manifest(model, '0', {})
        self.assertEqual([h['classes'] for h in m['output']['heads']], [DATASETS['deeplesion'], ['lymph_node']])
        m = manifest(model, '0', {}, only_heads=['deeplesion'])
        self.assertEqual([h['name'] for h in m['output']['heads']], ['deeplesion'])
        with self.assertRaises(SystemExit):
            manifest(model, '0', {}, only_heads=['luna'])


class Mining(unittest.TestCase):
    def test_threshold_at_precision(self):
        dets = [(0.9, True), (0.8, True), (0.7, False), (0.6, True), (0.5, False), (0.4, False)]
        self.assertEqual(threshold_at_precision(dets, 0.75), 0.6)   # 3 of 4 at >= 0.6
        self.assertEqual(threshold_at_precision(dets, 1.0), 0.8)
        self.assertEqual(threshold_at_precision([(0.5, False)], 0.5), 1.01)

    def test_registration_recovers_a_rigid_shift(self):
        rng = np.random.default_rng(4)
        base = np.full((40, 96, 96), -1000, dtype=np.int16)
        z, y, x = np.mgrid[0:40, 0:96, 0:96]
        for _ in range(12):  # a few blobs of soft tissue as anatomy
            c = rng.uniform([8, 20, 20], [32, 76, 76])
            base[((z - c[0]) / 4) ** 2 + ((y - c[1]) / 7) ** 2 + ((x - c[2]) / 7) ** 2 <= 1] = int(rng.uniform(0, 200))
        moved = np.roll(base, (3, 6, -8), axis=(0, 1, 2))  # 3 slices of 2.5 mm, 6 px down, 8 px left
        a = Study('a', base, np.arange(40) * 2.5)
        b = Study('b', moved, np.arange(40) * 2.5)
        shift = register(a, b)
        np.testing.assert_allclose(shift, [-8, 6, 7.5], atol=2.0)


class Calibration(unittest.TestCase):
    def test_platt_fit_recovers_the_scaling_that_made_the_outcomes(self):
        rng = np.random.default_rng(0)
        s = rng.uniform(0.02, 0.98, 20000)
        truth = (2.0, -1.5)
        p = np.array([platt(truth, x) for x in s])
        a, b = fit_platt(s, rng.uniform(size=s.size) < p, l2=0)
        self.assertAlmostEqual(a, 2.0, delta=0.1)
        self.assertAlmostEqual(b, -1.5, delta=0.1)

    def test_calibration_decides_which_heads_detection_a_fused_proposal_keeps(self):
        box = [0, 0, 0, 10, 10, 10]
        by_head = {'deeplesion': [(0.5, 1, box)], 'luna': [(0.7, 0, [1, 1, 1, 11, 11, 11])]}
        self.assertEqual(fuse_heads(by_head)[0][3], 'luna')
        fused = fuse_heads(by_head, {'deeplesion': (1.0, 1.0), 'luna': (1.0, -1.5)})
        self.assertEqual(len(fused), 1)
        self.assertEqual(fused[0][3], 'deeplesion')
        self.assertAlmostEqual(fused[0][0], platt((1.0, 1.0), 0.5))


if __name__ == '__main__':
    unittest.main()
