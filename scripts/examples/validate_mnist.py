#!/usr/bin/env python3
"""validate_mnist.py - a small MNIST CNN, PyTorch to MLX, checked.

The PyTorch model is decorated with @torch2mlx.export: its first
forward() writes the MLX weights.  The same network written with
mlx.nn layers, under the same module paths, loads them strictly; both
run on the same batch; the outputs must agree within 1e-5 (float32).
Prints the difference and the forward times of both, side by side, and
exits 1 if they disagree.

Needs torch, mlx and numpy in one interpreter, and the t2m filters on
PATH (or in $T2M_BIN; run from a built checkout, build/bin is used).

    python3 validate_mnist.py [-o mnist_cnn.safetensors] [-b BATCH] [-n RUNS]
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
from torch import nn

TOLERANCE = 1e-5
p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("-o", default="mnist_cnn.safetensors", help="output file")
p.add_argument("-b", type=int, default=16, help="batch size")
p.add_argument("-n", type=int, default=10, help="timed runs (median)")
args = p.parse_args()


# ---- PyTorch ----

@torch2mlx.export(args.o)
class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):                       # x: (N, 1, 28, 28)
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = self.dropout(torch.flatten(x, 1))
        return self.fc2(torch.relu(self.fc1(x)))


# ---- MLX: the same module paths, mlx.nn layers ----

class MlxMnistCNN(mnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = mnn.Conv2d(1, 32, 3)
        self.conv2 = mnn.Conv2d(32, 64, 3)
        self.pool = mnn.MaxPool2d(2)
        self.dropout = mnn.Dropout(0.25)
        self.fc1 = mnn.Linear(64 * 5 * 5, 128)
        self.fc2 = mnn.Linear(128, 10)

    def __call__(self, x):                      # x: (N, 28, 28, 1)
        x = self.pool(mnn.relu(self.conv1(x)))
        x = self.pool(mnn.relu(self.conv2(x)))
        # torch flattens (C, H, W): fc1's columns are in that order
        x = self.dropout(x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1))
        return self.fc2(mnn.relu(self.fc1(x)))


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
    model = MnistCNN().eval()
    x = torch.randn(args.b, 1, 28, 28)
    with torch.no_grad():
        y = model(x)                # the first forward: converts
    result = model.exported
    print(f"validate_mnist: {result.report.tensors.count} tensors -> "
          f"{result.path}, coverage {result.coverage.layers:.0%} of layers")

    mlx_model = MlxMnistCNN()
    mlx_model.load_weights(result.path, strict=True)
    mlx_model.eval()
    xm = mx.array(x.permute(0, 2, 3, 1).numpy())    # NCHW -> NHWC
    ym = mlx_model(xm)
    diff = float(np.max(np.abs(np.array(ym) - y.numpy())))

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
