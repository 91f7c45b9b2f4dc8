#!/usr/bin/env python3
"""validate_transformer.py - a TransformerEncoder classifier, PyTorch to
MLX, checked.

The PyTorch model (token and position embeddings, nn.TransformerEncoder
of post-norm layers, a final LayerNorm, mean pooling, a Linear head) is
converted with torch2mlx.export(model, path).  t2m cuts each layer's
packed attention projection (in_proj_weight, in_proj_bias) into MLX's
query_proj, key_proj and value_proj; the MLX network below, built from
mlx.nn layers under the same module paths, loads the file strictly.
Both run on the same tokens; the outputs must agree within 1e-5
(float32).  Prints the difference and the forward times of both, side by
side, and exits 1 if they disagree.

Needs torch, mlx and numpy in one interpreter, and the t2m filters on
PATH (or in $T2M_BIN; run from a built checkout, build/bin is used).

    python3 validate_transformer.py [-o transformer.safetensors]
        [-b BATCH] [-n RUNS]
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
VOCAB, SEQ, D, HEADS, FF, LAYERS, CLASSES = 1000, 32, 64, 4, 128, 2, 4


# ---- PyTorch ----

class TransformerClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D)
        self.pos = nn.Embedding(SEQ, D)
        layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.1,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, LAYERS,
                                             norm=nn.LayerNorm(D),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(D, CLASSES)

    def forward(self, tokens):                  # tokens: (N, L) int64
        positions = torch.arange(tokens.shape[1])
        x = self.embed(tokens) + self.pos(positions)
        return self.head(self.encoder(x).mean(1))


# ---- MLX: the same module paths, mlx.nn layers ----

class EncoderLayer(mnn.Module):
    """torch's TransformerEncoderLayer: post-norm, ReLU, in eval mode."""

    def __init__(self):
        super().__init__()
        self.self_attn = mnn.MultiHeadAttention(D, HEADS, bias=True)
        self.linear1 = mnn.Linear(D, FF)
        self.linear2 = mnn.Linear(FF, D)
        self.norm1 = mnn.LayerNorm(D)
        self.norm2 = mnn.LayerNorm(D)

    def __call__(self, x):
        x = self.norm1(x + self.self_attn(x, x, x))
        return self.norm2(x + self.linear2(mnn.relu(self.linear1(x))))


class Encoder(mnn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [EncoderLayer() for _ in range(LAYERS)]
        self.norm = mnn.LayerNorm(D)

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class MlxTransformerClassifier(mnn.Module):
    def __init__(self):
        super().__init__()
        self.embed = mnn.Embedding(VOCAB, D)
        self.pos = mnn.Embedding(SEQ, D)
        self.encoder = Encoder()
        self.head = mnn.Linear(D, CLASSES)

    def __call__(self, tokens):
        x = self.embed(tokens) + self.pos(mx.arange(tokens.shape[1]))
        return self.head(self.encoder(x).mean(1))


@torch.no_grad()
def trained(model):
    """Freshly made, LayerNorm weights are ones and biases and attention
    biases zeros: give them values, as training would, so that a tensor
    dropped or swapped in the conversion shows in the outputs."""
    g = torch.Generator().manual_seed(1)
    for name, p in model.named_parameters():
        if bool((p == p.flatten()[0]).all()):
            p.copy_(torch.rand(p.shape, generator=g) + 0.5
                    if name.endswith("weight") else
                    torch.randn(p.shape, generator=g) * 0.2)
    return model


def median_ms(f, n):
    f()                                         # warm up
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1e3 * sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", default="transformer.safetensors",
                   help="output file")
    p.add_argument("-b", type=int, default=16, help="batch size")
    p.add_argument("-n", type=int, default=10, help="timed runs (median)")
    args = p.parse_args()

    torch.manual_seed(0)
    model = trained(TransformerClassifier()).eval()
    result = torch2mlx.export(model, args.o)
    print(f"validate_transformer: {result.report.tensors.count} tensors -> "
          f"{result.path}, coverage {result.coverage.layers:.0%} of layers")

    tokens = torch.randint(0, VOCAB, (args.b, SEQ))
    with torch.no_grad():
        y = model(tokens)
    mlx_model = MlxTransformerClassifier()
    mlx_model.load_weights(result.path, strict=True)
    mlx_model.eval()
    tm = mx.array(tokens.numpy())
    diff = float(np.max(np.abs(np.array(mlx_model(tm)) - y.numpy())))

    with torch.no_grad():
        t_torch = median_ms(lambda: model(tokens), args.n)
    t_mlx = median_ms(lambda: mx.eval(mlx_model(tm)), args.n)
    ok = diff <= TOLERANCE
    print(f"max abs difference {diff:.3g} (limit {TOLERANCE:g}): "
          f"{'ok' if ok else 'FAIL'}")
    print(f"{'forward, batch %d' % args.b:<20}{'PyTorch':>12}{'MLX':>12}")
    print(f"{'median of %d' % args.n:<20}{t_torch:>9.3f} ms{t_mlx:>9.3f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
