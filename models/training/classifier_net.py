"""The proposal classifier (second stage): a small 3D CNN over the multi-scale crops around a detector candidate,
with the candidate's scalar features (detector score, log box extents) joined before the last layers."""
import torch
from torch import nn

from classifier_data import DEFAULT_SPEC, FEATURES, channels


def block(cin, cout):
    return nn.Sequential(nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class ProposalNet(nn.Module):
    def __init__(self, width=12, in_channels=channels(DEFAULT_SPEC)):
        super().__init__()
        w = width
        # Sizes below for the default [8, 16, 16] crops; any depth >= 2 and height, width >= 4 pass (average at the end).
        self.body = nn.Sequential(
            block(in_channels, w), block(w, w), nn.MaxPool3d((1, 2, 2)),   # 8 x 8 x 8
            block(w, 2 * w), block(2 * w, 2 * w), nn.MaxPool3d(2),      # 4 x 4 x 4
            block(2 * w, 4 * w), nn.AdaptiveAvgPool3d(1))
        self.head = nn.Sequential(nn.Linear(4 * w + FEATURES, 32), nn.ReLU(inplace=True), nn.Linear(32, 1))

    def forward(self, crops, feats):
        x = self.body(crops).flatten(1)
        return self.head(torch.cat([x, feats], 1)).squeeze(1)
