"""Unit tests of the stage-5 pieces (real-CT ignore regions, domain randomisation, ONNX -> checkpoint recovery).

    cd models/training && /usr/bin/python3 -m unittest tests/test_stage5.py
"""
import os
import random
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import spec  # noqa: E402
from data import LesionBox, Study, make_targets  # noqa: E402
from export import build_model, export  # noqa: E402
from onnx_to_checkpoint import convert  # noqa: E402
from train import domain_randomise, mirror, rescale_crop  # noqa: E402
from average_checkpoints import average  # noqa: E402

ARCH = {'widths': [8, 8, 8, 8, 8], 'neck': 8, 'slices': 3}


class IgnoreRegions(unittest.TestCase):
    def test_region_cells_are_ignored_and_a_lesion_inside_stays_positive(self):
        les = LesionBox(0, 40, 40, 0, 52, 52, 20)
        region = LesionBox(-1, 30, 30, 0, 70, 70, 20)
        hm, ign, mask, reg, nreg = make_targets([les], 10.0, 0, 0, 128, 128, [region])
        self.assertEqual(nreg, 1)
        self.assertEqual(hm[0].max(), 1.0)
        cj, ci = int(reg[0, 0]), int(reg[0, 1])
        self.assertEqual(hm[0, cj, ci], 1.0)
        # The region (grown by the margin) is ignored, cells far from it are not.
        self.assertTrue(ign[8:17, 8:17].all())
        self.assertEqual(ign[25:, :].sum(), 0)
        self.assertEqual(ign[:, 25:].sum(), 0)

    def test_region_outside_the_slice_is_not_ignored(self):
        region = LesionBox(-1, 30, 30, 0, 70, 70, 20)
        _, ign, _, _, _ = make_targets([], 40.0, 0, 0, 64, 64, [region])
        self.assertEqual(ign.sum(), 0)

    def test_mirrored_region_moves_with_the_crop(self):
        region = LesionBox(-1, 10, 20, 0, 30, 40, 20)
        m = mirror(region, 0, 0, 128, True, False)
        self.assertAlmostEqual(m.x0, 127 - 30)
        self.assertAlmostEqual(m.x1, 127 - 10)
        self.assertEqual((m.y0, m.y1), (20, 40))


class DomainRandomisation(unittest.TestCase):
    def test_changes_the_image_keeps_padding_and_range(self):
        rng = np.random.default_rng(3)
        x = np.full((3, 64, 64), 0.52, dtype=np.float32)
        x[:, :, 48:] = 0  # zero padding outside the image
        changed = False
        for _ in range(20):
            y = domain_randomise(x, rng)
            self.assertEqual(y.shape, x.shape)
            self.assertTrue((y[:, :, 48:] == 0).all())
            self.assertTrue(((y >= 0) & (y <= 1)).all())
            changed |= bool(np.abs(y[:, :, :48] - x[:, :, :48]).max() > 1e-3)
        self.assertTrue(changed)


class RescaleCrop(unittest.TestCase):
    def test_the_mapped_box_lies_where_the_resampled_image_shows_the_lesion(self):
        vol = np.full((5, 200, 200), -1000, dtype=np.int16)
        vol[:, 90:110, 60:100] = 40  # a 40 x 20 pixel lesion, pixels x 60..99, y 90..109
        st = Study('toy', vol, np.arange(5, dtype=np.float64) * 2.0)
        les = LesionBox(0, 59.5, 89.5, 0.0, 99.5, 109.5, 8.0, key_box=(59.5, 89.5, 99.5, 109.5))
        x0, y0, c = 30, 40, 96
        for s in (0.8, 1.0, 1.25):
            x, to_crop = rescale_crop(st, 4.0, x0, y0, c, s, 3)
            self.assertEqual(x.shape, (3, c, c))
            m = to_crop(les)
            ys, xs = np.nonzero(x[1] > 0.5)
            # The bright region (resampled) and the mapped box agree to about a pixel, in crop coordinates.
            self.assertAlmostEqual(xs.min() - 0.5, m.x0 - x0, delta=1.0)
            self.assertAlmostEqual(xs.max() + 0.5, m.x1 - x0, delta=1.0)
            self.assertAlmostEqual(ys.min() - 0.5, m.y0 - y0, delta=1.0)
            self.assertAlmostEqual(ys.max() + 0.5, m.y1 - y0, delta=1.0)
            self.assertAlmostEqual(m.x1 - m.x0, 40 / s, delta=0.6)
            self.assertEqual(m.key_box, (m.x0, m.y0, m.x1, m.y1))
            self.assertEqual((m.z0, m.z1), (les.z0, les.z1))


class ModelSoup(unittest.TestCase):
    def test_float_weights_are_averaged_and_counters_kept(self):
        torch.manual_seed(0)
        a, b = build_model(ARCH), build_model(ARCH)
        soup = average([{'arch': ARCH, 'model': a.state_dict()}, {'arch': ARCH, 'model': b.state_dict()}])
        for k, v in a.state_dict().items():
            if v.is_floating_point():
                self.assertTrue(torch.allclose(soup[k], (v + b.state_dict()[k]) / 2, atol=1e-6), k)
            else:
                self.assertTrue(torch.equal(soup[k], v), k)
        build_model(ARCH).load_state_dict(soup)  # a loadable state dict of the same network

    def test_refuses_different_architectures(self):
        other = dict(ARCH, neck=16)
        with self.assertRaises(ValueError):
            average([{'arch': ARCH, 'model': build_model(ARCH).state_dict()}, {'arch': other, 'model': build_model(other).state_dict()}])


class OnnxRecovery(unittest.TestCase):
    def test_recovered_checkpoint_computes_the_exported_model(self):
        torch.manual_seed(5)
        m = build_model(ARCH)
        # Non-trivial BatchNorm statistics, so that folding matters.
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.running_mean.uniform_(-0.5, 0.5); mod.running_var.uniform_(0.5, 2.0)
                    mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
        m.eval()
        with tempfile.TemporaryDirectory() as d:
            export(m, d, '0.0.0-test', {})
            state = convert(os.path.join(d, 'model.onnx'), ARCH)
        r = build_model(ARCH)
        r.load_state_dict(state)
        r.eval()
        x = torch.rand(2, 3, 64, 80)
        with torch.no_grad():
            for a, b in zip(m(x), r(x)):
                self.assertLess(float((a - b).abs().max()), 1e-4)


if __name__ == '__main__':
    unittest.main()
