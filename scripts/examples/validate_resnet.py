#!/usr/bin/env python3
"""validate_resnet.py - a ResNet-style CNN, PyTorch to MLX, checked.

The PyTorch model (a stem, residual blocks with BatchNorm, two with a
1x1 projection shortcut, adaptive average pooling, a Linear head) is
decorated with @torch2mlx.export; it is given trained-looking weights
and BatchNorm statistics with load_state_dict, put in eval mode, and its
first forward() writes the MLX weights.  t2m lays the convolutions out
channels last and keeps BatchNorm's running statistics; the MLX network
below, built from mlx.nn layers under the same module paths, loads the
file strictly (AdaptiveAvgPool2d(1) becomes a mean: MLX has no adaptive
pooling).  Both run on the same batch; the outputs must agree within
1e-5 (float32).  Prints the difference and the forward times of both,
side by side, and exits 1 if they disagree.

Needs torch, mlx and numpy in one interpreter, and the t2m filters on
PATH (or in $T2M_BIN; run from a built checkout, build/bin is used).

    python3 validate_resnet.py [-o resnet.safetensors] [-b BATCH] [-n RUNS]
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import torch2mlx
except ImportError:     # run from the source tree, not installed
    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    import torch2mlx
if "T2M_BIN" not in os.environ and \
        os.path.isdir(os.path.join(HERE, "..", "..", "build", "bin")):
    os.environ["T2M_BIN"] = os.path.join(HERE, "..", "..", "build", "bin")

import mlx.core as mx
import mlx.nn as mnn
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TOLERANCE = 1e-5
p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("-o", default="resnet.safetensors", help="output file")
p.add_argument("-b", type=int, default=16, help="batch size")
p.add_argument("-n", type=int, default=10, help="timed runs (median)")
args = p.parse_args()


# ---- PyTorch ----

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


@torch2mlx.export(args.o)
class ResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.layer3 = nn.Sequential(BasicBlock(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):                       # x: (N, 3, 32, 32)
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


# ---- MLX: the same module paths, mlx.nn layers ----
# torch's nn.Sequential is a Python list here: mlx.nn.Sequential keeps its
# layers under .layers, which would add a level to every path.

def run(layers, x):
    for layer in layers:
        x = layer(x)
    return x


class MlxBasicBlock(mnn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = mnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = mnn.BatchNorm(cout)
        self.conv2 = mnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = mnn.BatchNorm(cout)
        self.shortcut = []
        if stride != 1 or cin != cout:
            self.shortcut = [mnn.Conv2d(cin, cout, 1, stride, bias=False),
                             mnn.BatchNorm(cout)]

    def __call__(self, x):
        y = mnn.relu(self.bn1(self.conv1(x)))
        return mnn.relu(self.bn2(self.conv2(y)) + run(self.shortcut, x))


class MlxResNet(mnn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = [mnn.Conv2d(3, 16, 3, padding=1, bias=False),
                     mnn.BatchNorm(16), mnn.ReLU()]
        self.layer1 = [MlxBasicBlock(16, 16), MlxBasicBlock(16, 16)]
        self.layer2 = [MlxBasicBlock(16, 32, 2), MlxBasicBlock(32, 32)]
        self.layer3 = [MlxBasicBlock(32, 64, 2)]
        self.fc = mnn.Linear(64, classes)

    def __call__(self, x):                      # x: (N, 32, 32, 3)
        for seq in (self.stem, self.layer1, self.layer2, self.layer3):
            x = run(seq, x)
        return self.fc(x.mean(axis=(1, 2)))     # AdaptiveAvgPool2d(1)


def trained_state(model):
    """A state dict as training would leave it: BatchNorm's weights,
    biases and running statistics away from 1 and 0, and a count of
    batches seen."""
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(100)
        elif k.endswith(("running_var", "bn1.weight", "bn2.weight",
                         "stem.1.weight", "shortcut.1.weight")):
            sd[k] = torch.rand(v.shape, generator=g) + 0.5
        elif k.endswith(("running_mean", ".bias")):
            sd[k] = torch.randn(v.shape, generator=g) * 0.2
    return sd


def median_ms(f, n):
    f()                                         # warm up
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1e3 * sorted(times)[len(times) // 2]


def main():
    torch.manual_seed(0)
    model = ResNet()
    model.load_state_dict(trained_state(model))
    model.eval()
    x = torch.randn(args.b, 3, 32, 32)
    with torch.no_grad():
        y = model(x)                # the first forward: converts
    result = model.exported
    print(f"validate_resnet: {result.report.tensors.count} tensors -> "
          f"{result.path}, coverage {result.coverage.layers:.0%} of layers")

    mlx_model = MlxResNet()
    mlx_model.load_weights(result.path, strict=True)
    mlx_model.eval()                # BatchNorm with the running statistics
    xm = mx.array(x.permute(0, 2, 3, 1).numpy())    # NCHW -> NHWC
    diff = float(np.max(np.abs(np.array(mlx_model(xm)) - y.numpy())))

    with torch.no_grad():
        t_torch = median_ms(lambda: model(x), args.n)
    t_mlx = median_ms(lambda: mx.eval(mlx_model(xm)), args.n)
    ok = diff <= TOLERANCE
    print(f"max abs difference {diff:.3g} (limit {TOLERANCE:g}): "
          f"{'ok' if ok else 'FAIL'}")
    print(f"{'forward, batch %d' % args.b:<20}{'PyTorch':>12}{'MLX':>12}")
    print(f"{'median of %d' % args.n:<20}{t_torch:>9.3f} ms{t_mlx:>9.3f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
