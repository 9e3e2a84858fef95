"""Batch composition and pooled data folders of the proposal classifier's training (cd models/training && python3 -m unittest tests/test_train_classifier.py)."""
import json
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from classifier_data import DEFAULT_SPEC, FEATURES, SPEC_FILE, crop_shape, load_many  # noqa: E402
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



# A spec like models/training/crop-specs/z64.json, with three windows: six channels of [16, 16, 16].
LONG = {**DEFAULT_SPEC, 'size': [16, 16, 16], 'fixedMm': [64, 40, 40], 'windows': [[-1000, 200], [-160, 240], [0, 100]]}


def write_folder(folder, labels, first_value, spec=None):
    """A data folder of len(labels) candidates whose crops and features are filled with first_value, first_value + 1, ...
    With a spec, its crop-spec.json (without: a folder of the default crops written before the file existed)."""
    os.makedirs(folder)
    if spec:
        with open(os.path.join(folder, SPEC_FILE), 'w') as f:
            json.dump(spec, f)
    per = int(np.prod(crop_shape(spec or DEFAULT_SPEC)))
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
            crops, feats, labels, meta, spec = load_many([os.path.join(d, 'a'), os.path.join(d, 'b')])
            self.assertEqual(labels.tolist(), [1, 0, 0, 1])
            self.assertEqual([m['candidate'] for m in meta], [10, 11, 20, 21])
            self.assertEqual(feats[:, 0].tolist(), [10, 11, 20, 21])
            self.assertEqual(crops[:, 0, 0, 0, 0].tolist(), [10, 11, 20, 21])
            self.assertEqual(crops.shape, (4, 4, 8, 16, 16))
            self.assertEqual(spec, DEFAULT_SPEC)

    def test_crops_take_the_shape_of_the_folders_spec_and_specs_are_not_mixed(self):
        with tempfile.TemporaryDirectory() as d:
            write_folder(os.path.join(d, 'long'), [1, 0], 10, LONG)
            crops, _, _, _, spec = load_many([os.path.join(d, 'long')])
            self.assertEqual(crops.shape, (2, 6, 16, 16, 16))
            self.assertEqual(crops[1].min(), 11)
            self.assertEqual(spec, LONG)
            write_folder(os.path.join(d, 'default'), [1, 0], 20)
            with self.assertRaisesRegex(ValueError, 'default: crops of another spec'):
                load_many([os.path.join(d, 'long'), os.path.join(d, 'default')])

    def test_a_folder_whose_files_disagree_is_named(self):
        with tempfile.TemporaryDirectory() as d:
            write_folder(os.path.join(d, 'a'), [1, 0], 10)
            write_folder(os.path.join(d, 'b'), [1, 0], 20)
            with open(os.path.join(d, 'b', 'meta.jsonl'), 'a') as f:
                f.write(json.dumps({'candidate': 99, 'label': 0}) + '\n')
            with self.assertRaisesRegex(ValueError, 'b: 3 meta lines'):
                load_many([os.path.join(d, 'a'), os.path.join(d, 'b')])


class Ensemble(unittest.TestCase):
    def test_the_probability_is_the_mean_of_the_members(self):
        import torch
        from classifier_net import ProposalNet
        from export_classifier import MeanProbability
        torch.manual_seed(0)
        a, b = ProposalNet(4).eval(), ProposalNet(6).eval()
        crops, feats = torch.rand(3, *crop_shape(DEFAULT_SPEC)), torch.rand(3, FEATURES)
        with torch.no_grad():
            pa, pb = torch.sigmoid(a(crops, feats)), torch.sigmoid(b(crops, feats))
            self.assertTrue(torch.allclose(MeanProbability([a, b])(crops, feats), (pa + pb) / 2))
            self.assertTrue(torch.allclose(MeanProbability([a])(crops, feats), pa))

    def test_export_of_two_checkpoints_records_both(self):
        import subprocess
        import torch
        from classifier_net import ProposalNet
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, w in enumerate((4, 6)):
                paths.append(os.path.join(d, f'{i}.pt'))
                torch.save({'model': ProposalNet(w).state_dict(), 'width': w, 'epoch': i + 1}, paths[-1])
                with open(os.path.join(d, f'{i}.json'), 'w') as f:
                    json.dump({'bestValAuc': 0.5 + i / 10}, f)
            here = os.path.join(os.path.dirname(__file__), '..')
            export = [sys.executable, os.path.join(here, 'export_classifier.py'), '--checkpoint', *paths, '--out', os.path.join(d, 'm')]
            r = subprocess.run([*export, '--record', os.path.join(d, '0.json'), os.path.join(d, '1.json')], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            m = json.load(open(os.path.join(d, 'm', 'model.json')))
            self.assertEqual([t['bestValAuc'] for t in m['training']['members']], [0.5, 0.6])
            self.assertEqual([t['epoch'] for t in m['training']['members']], [1, 2])
            self.assertEqual(m['parameters'], sum(p.numel() for w in (4, 6) for p in ProposalNet(w).parameters()))
            self.assertGreater(os.path.getsize(os.path.join(d, 'm', 'model.onnx')), 0)
            self.assertEqual(m['input']['crop'], DEFAULT_SPEC)
            r = subprocess.run([*export, '--record', os.path.join(d, '0.json')], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn('2 checkpoints but 1 records', r.stderr)

    def test_export_carries_the_crop_spec_and_refuses_members_of_other_crops(self):
        import subprocess
        import torch
        from classifier_net import ProposalNet
        with tempfile.TemporaryDirectory() as d:
            long_ck, old_ck = os.path.join(d, 'long.pt'), os.path.join(d, 'old.pt')
            torch.save({'model': ProposalNet(4, 6).state_dict(), 'width': 4, 'crop': LONG, 'epoch': 1}, long_ck)
            torch.save({'model': ProposalNet(4).state_dict(), 'width': 4, 'epoch': 1}, old_ck)
            here = os.path.join(os.path.dirname(__file__), '..')
            export = [sys.executable, os.path.join(here, 'export_classifier.py'), '--out', os.path.join(d, 'm'), '--checkpoint']
            r = subprocess.run([*export, long_ck], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            m = json.load(open(os.path.join(d, 'm', 'model.json')))
            self.assertEqual(m['input']['crop'], LONG)
            self.assertEqual((m['input']['channels'], m['input']['size']), (6, [16, 16, 16]))
            r = subprocess.run([*export, long_ck, old_ck], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn('members must share one crop spec', r.stderr)


if __name__ == '__main__':
    unittest.main()
