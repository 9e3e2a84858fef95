"""LensNet: a small 2.5D CenterNet-style lesion detector in the spirit of LENS / MULAN.

Input  [N, 2k+1, H, W]: 2k+1 neighbouring CT slices as channels (windowed HU in [0, 1]); H, W multiples of 16.
Output per head (stride 4): heatmap [N, C, H/4, W/4] (sigmoid, one channel per lesion type),
size [N, 2, ..] (box w, h in input pixels), offset [N, 2, ..] (sub-cell centre offset);
plus a shared mask [N, 1, H/4, W/4] (per-pixel lesion probability, sigmoid).

The heads live in a ModuleDict keyed by name so that the multi-dataset LENS model (one head per dataset:
deeplesion, luna, lits, nihln, plus the universal one) only adds entries; the backbone and neck are shared.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

STRIDE = 4
SIZE_MULTIPLE = 16


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ResBlock(nn.Module):
    """Basic residual block; downsamples with a strided first conv when stride > 1."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.c1 = conv_bn(cin, cout, stride)
        self.c2 = nn.Sequential(nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x if self.skip is None else self.skip(x)
        return F.relu(self.c2(self.c1(x)) + s)


class CenterNetHead(nn.Module):
    """Heatmap (one channel per class), size and offset branches on the shared stride-4 features."""

    def __init__(self, cin: int, num_classes: int, mid: int = 32):
        super().__init__()

        def branch(cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, mid, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1))

        self.heatmap = branch(num_classes)
        self.size = branch(2)
        self.offset = branch(2)
        # CenterNet's prior: start with a low heatmap probability so the focal loss is stable.
        nn.init.constant_(self.heatmap[-1].bias, -2.19)

    def forward(self, f: torch.Tensor):
        hm = torch.sigmoid(self.heatmap(f))
        # Sizes are regressed in log space of input pixels (always positive, scale-friendly).
        size = torch.exp(self.size(f).clamp(-2.0, 6.0)) * 4.0
        offset = torch.sigmoid(self.offset(f))
        return hm, size, offset


class LensNet(nn.Module):
    def __init__(self, in_slices: int, heads: Dict[str, int], widths: Sequence[int] = (16, 24, 48, 96, 128),
                 neck: int = 48, with_mask: bool = True, head_classes: Optional[Dict[str, List[str]]] = None):
        super().__init__()
        # The lesion type of each heatmap channel, per head (the manifest's `classes`); a head without an entry
        # has the universal channel order (spec.LESION_TYPES).
        self.head_classes = dict(head_classes or {})
        w = list(widths)
        self.in_slices = in_slices
        self.stem = nn.Sequential(conv_bn(in_slices, w[0], 2), conv_bn(w[0], w[0]))  # stride 2
        self.layer1 = ResBlock(w[0], w[1], 2)  # stride 4
        self.layer2 = ResBlock(w[1], w[2], 2)  # stride 8
        self.layer3 = ResBlock(w[2], w[3], 2)  # stride 16
        self.layer4 = ResBlock(w[3], w[4], 1)  # stride 16, wider context via a second block
        self.lat1 = nn.Conv2d(w[1], neck, 1)
        self.lat2 = nn.Conv2d(w[2], neck, 1)
        self.lat3 = nn.Conv2d(w[4], neck, 1)
        self.smooth = conv_bn(neck, neck)
        self.head_names: List[str] = list(heads.keys())
        self.heads = nn.ModuleDict({name: CenterNetHead(neck, n) for name, n in heads.items()})
        self.mask = None
        if with_mask:
            self.mask = nn.Sequential(nn.Conv2d(neck, 16, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(16, 1, 1))
            nn.init.constant_(self.mask[-1].bias, -2.19)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        c1 = self.layer1(self.stem(x))
        c2 = self.layer2(c1)
        c3 = self.layer4(self.layer3(c2))
        p3 = self.lat3(c3)
        p2 = self.lat2(c2) + F.interpolate(p3, scale_factor=2.0, mode='nearest')
        p1 = self.lat1(c1) + F.interpolate(p2, scale_factor=2.0, mode='nearest')
        return self.smooth(p1)

    def forward(self, x: torch.Tensor):
        """Returns a flat tuple: for each head (heatmap, size, offset), then the mask when present."""
        f = self.features(x)
        out = []
        for name in self.head_names:
            out.extend(self.heads[name](f))
        if self.mask is not None:
            out.append(torch.sigmoid(self.mask(f)))
        return tuple(out)

    def output_names(self) -> List[str]:
        names = []
        for name in self.head_names:
            names += [f'{name}_heatmap', f'{name}_size', f'{name}_offset']
        if self.mask is not None:
            names.append('mask')
        return names
