"""MLX mirrors of the reference models in t2mref.py.

Each mirror is built from mlx.nn layers only, and its module tree is the
PyTorch one: the same attribute names, an nn.Sequential or a stack of
layers as a Python list (so "features.3.weight" is features[3].weight),
the recurrent layers as MLX's single-layer modules at <path>.<k> (a list)
or <path>.<k> and <path>.<k>_reverse (a dict, when bidirectional).  So a
t2m-converted file loads with load_weights(path, strict=True) and nothing
is renamed here.

MIRRORS maps a model name to (make, forward): make() builds the mirror,
forward(model, inputs) takes the torch-layout numpy inputs and returns a
numpy array laid out as torch's output is - the NCHW <-> NHWC moves are
here, on activations, never on weights.
"""
import mlx.core as mx
import mlx.nn as nn
import numpy as np


def _seq(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def _cl(x):
    """Channels first (N, C, ...) to channels last (N, ..., C)."""
    return mx.moveaxis(x, 1, -1)


def _cf(x):
    """Channels last back to channels first."""
    return mx.moveaxis(x, -1, 1)


def _np(x):
    return np.array(x.astype(mx.float32))


# ---- the three models torch2mlx proved ----

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = [
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def __call__(self, x):
        x = _seq(self.features, x)
        # torch flattens (C, H, W): the Linear's columns are in that order.
        return self.fc(_cf(x).reshape(x.shape[0], -1))


class EncoderLayer(nn.Module):
    """torch's TransformerEncoderLayer, post-norm, ReLU, under its names."""

    def __init__(self, d, heads, ff):
        super().__init__()
        self.self_attn = nn.MultiHeadAttention(d, heads, bias=True)
        self.linear1 = nn.Linear(d, ff)
        self.linear2 = nn.Linear(ff, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)

    def __call__(self, x):
        x = self.norm1(x + self.self_attn(x, x, x))
        return self.norm2(x + self.linear2(nn.relu(self.linear1(x))))


class Encoder(nn.Module):
    def __init__(self, d, heads, ff, n):
        super().__init__()
        self.layers = [EncoderLayer(d, heads, ff) for _ in range(n)]
        self.norm = nn.LayerNorm(d)

    def __call__(self, x):
        return self.norm(_seq(self.layers, x))


class TransformerClassifier(nn.Module):
    def __init__(self, vocab=50, d=32, heads=4, ff=64, layers=2, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.encoder = Encoder(d, heads, ff, layers)
        self.head = nn.Linear(d, classes)

    def __call__(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(1))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm(cout)
        self.shortcut = []
        if stride != 1 or cin != cout:
            self.shortcut = [nn.Conv2d(cin, cout, 1, stride, bias=False),
                             nn.BatchNorm(cout)]

    def __call__(self, x):
        y = nn.relu(self.bn1(self.conv1(x)))
        return nn.relu(self.bn2(self.conv2(y)) + _seq(self.shortcut, x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = [nn.Conv2d(3, 8, 3, padding=1, bias=False),
                     nn.BatchNorm(8), nn.ReLU()]
        self.block1 = ResBlock(8, 8)
        self.block2 = ResBlock(8, 16, stride=2)
        self.fc = nn.Linear(16, 10)

    def __call__(self, x):
        x = self.block2(self.block1(_seq(self.stem, x)))
        # AdaptiveAvgPool2d(1): MLX has no adaptive pooling; a mean.
        return self.fc(x.mean(axis=(1, 2)))


# ---- beyond torch2mlx ----

class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.grouped = nn.Conv1d(8, 12, 3, padding=2, dilation=2, groups=4)
        self.depthwise = nn.Conv1d(12, 12, 5, stride=2, padding=2,
                                   groups=12)

    def __call__(self, x):
        x = nn.relu(self.conv(x))
        x = nn.relu(self.grouped(x))
        return self.depthwise(x)


class GroupedConv2dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(4, 8, (2, 3), padding=(1, 1), groups=2)
        self.depthwise = nn.Conv2d(8, 8, 3, stride=2, groups=8)
        self.pointwise = nn.Conv2d(8, 6, (3, 1), groups=2, bias=False)

    def __call__(self, x):
        x = nn.relu(self.grouped(x))
        x = nn.relu(self.depthwise(x))
        return self.pointwise(x)


class Conv3dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(2, 4, (2, 3, 1), padding=(0, 1, 0))
        self.conv2 = nn.Conv3d(4, 3, 3, stride=2, padding=1)

    def __call__(self, x):
        return self.conv2(nn.relu(self.conv1(x)))


class ConvT1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose1d(4, 6, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose1d(6, 3, 3, stride=2, padding=1,
                                      output_padding=1, dilation=2)

    def __call__(self, x):
        return self.up2(nn.relu(self.up1(x)))


class ConvT2dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose2d(4, 6, (2, 3), stride=2, padding=(0, 1))
        self.up2 = nn.ConvTranspose2d(6, 3, 3, stride=(2, 1), padding=1,
                                      output_padding=(1, 0), bias=False)

    def __call__(self, x):
        return self.up2(nn.relu(self.up1(x)))


class ConvT3dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose3d(3, 5, (2, 3, 1), stride=2,
                                      padding=(0, 1, 0))
        self.up2 = nn.ConvTranspose3d(5, 2, 3, stride=1, padding=1)

    def __call__(self, x):
        return self.up2(nn.relu(self.up1(x)))


def _stack(layers, x):
    """torch's multi-layer recurrent module as MLX's layers in a row;
    an LSTM returns (hidden, cell), its hidden states feed the next."""
    for layer in layers:
        x = layer(x)
        if isinstance(x, tuple):
            x = x[0]
    return x


def _bidirectional(layers, n, x):
    """A bidirectional torch module: layer k runs forward as layers["k"]
    and on the reversed sequence as layers["k_reverse"]; the two outputs
    are joined on the feature axis, forward first, as torch joins them."""
    for k in range(n):
        f = _stack([layers[str(k)]], x)
        b = _stack([layers[f"{k}_reverse"]], x[:, ::-1])[:, ::-1]
        x = mx.concatenate([f, b], axis=-1)
    return x


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = [nn.LSTM(6, 8), nn.LSTM(8, 8)]

    def __call__(self, x):
        return _stack(self.lstm, x)


class GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = [nn.GRU(6, 8), nn.GRU(8, 8)]
        self.plain = [nn.GRU(8, 4, bias=False)]

    def __call__(self, x):
        return _stack(self.plain, _stack(self.gru, x))


class RNNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = [nn.RNN(6, 8), nn.RNN(8, 8)]
        self.relu_rnn = [nn.RNN(8, 5, nonlinearity=nn.relu)]

    def __call__(self, x):
        return _stack(self.relu_rnn, _stack(self.rnn, x))


class BiRNNNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = {"0": nn.LSTM(6, 8), "0_reverse": nn.LSTM(6, 8),
                     "1": nn.LSTM(16, 8), "1_reverse": nn.LSTM(16, 8)}
        self.gru = {"0": nn.GRU(16, 5), "0_reverse": nn.GRU(16, 5)}

    def __call__(self, x):
        return _bidirectional(self.gru, 1, _bidirectional(self.lstm, 2, x))


class AttentionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiHeadAttention(16, 4, bias=True)
        self.plain = nn.MultiHeadAttention(16, 2, bias=False)

    def __call__(self, q, k, v):
        return self.plain(self.attn(q, k, v), k, v)


class AttentionKVNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiHeadAttention(16, 4, key_input_dims=12,
                                          value_input_dims=10, bias=True)

    def __call__(self, q, k, v):
        return self.attn(q, k, v)


class WeightNormNet(nn.Module):
    """weight_norm is folded by t2m: plain layers here."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.up = nn.ConvTranspose1d(8, 6, 4, stride=2, padding=1)
        self.conv_in = nn.Conv1d(6, 5, 3)
        self.fc = nn.Linear(5, 3)

    def __call__(self, x):
        x = nn.relu(self.conv(x))
        x = nn.relu(self.up(x))
        return self.fc(self.conv_in(x).mean(1))


class ParamWeightNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.up = nn.ConvTranspose1d(8, 3, 4, stride=2, padding=1)

    def __call__(self, x):
        return self.up(nn.relu(self.conv(x)))


class BilinearNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.bil = nn.Bilinear(6, 5, 4)
        self.plain = nn.Bilinear(4, 5, 3, bias=False)

    def __call__(self, x1, x2):
        return self.plain(mx.tanh(self.bil(x1, x2)), x2)


class NormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8, pytorch_compatible=True)
        self.act = nn.PReLU(8)
        self.inorm = nn.InstanceNorm(8, affine=True)
        self.bn = nn.BatchNorm(8)
        self.ln = nn.LayerNorm(8)

    def __call__(self, x):
        x = self.inorm(self.act(self.gn(self.conv(x))))
        return self.ln(self.bn(x))


# ---- how each is fed ----

def _channels(model, x):
    """One channels-first input, a channels-first output."""
    return _np(_cf(model(_cl(x))))


def _same(model, *xs):
    return _np(model(*xs))


def _seq_first(model, x):
    """torch's (L, B, D) to MLX's (B, L, D), and back."""
    return _np(model(x.transpose(1, 0, 2)).transpose(1, 0, 2))


def _feed(adapt):
    def forward(model, inputs, dtype):
        xs = [mx.array(x).astype(dtype) if x.dtype.kind == "f"
              else mx.array(x) for x in inputs]
        return adapt(model, *xs)
    return forward


def _flat_channels(model, x):
    """A channels-first input, an output without channels."""
    return _np(model(_cl(x)))


class TiedLM(nn.Module):
    """The output layer is the embedding, as mlx-lm ties them: no
    parameter of its own, so the file must not have one either."""

    def __init__(self, vocab=50, d=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)

    def __call__(self, tokens):
        return self.embed.as_linear(self.norm(mx.tanh(self.proj(
            self.embed(tokens)))))


MIRRORS = {
    "cnn": (SmallCNN, _feed(_flat_channels)),
    "cnn-f16": (SmallCNN, _feed(_flat_channels)),
    "cnn-bf16": (SmallCNN, _feed(_flat_channels)),
    "cnn-f64": (SmallCNN, _feed(_flat_channels)),
    "transformer": (TransformerClassifier, _feed(_same)),
    "resnet": (ResNet, _feed(_flat_channels)),
    "conv1d": (Conv1dNet, _feed(_channels)),
    "conv2d-grouped": (GroupedConv2dNet, _feed(_channels)),
    "conv3d": (Conv3dNet, _feed(_channels)),
    "convt1d": (ConvT1dNet, _feed(_channels)),
    "convt2d": (ConvT2dNet, _feed(_channels)),
    "convt3d": (ConvT3dNet, _feed(_channels)),
    "lstm": (LSTMNet, _feed(_same)),
    "gru": (GRUNet, _feed(_seq_first)),
    "gru-f16": (GRUNet, _feed(_seq_first)),
    "rnn": (RNNNet, _feed(_same)),
    "birnn": (BiRNNNet, _feed(_same)),
    "mha": (AttentionNet, _feed(_same)),
    "mha-kv": (AttentionKVNet, _feed(_same)),
    "weightnorm": (WeightNormNet, _feed(_flat_channels)),
    "weightnorm-bf16": (WeightNormNet, _feed(_flat_channels)),
    "weightnorm-param": (ParamWeightNormNet, _feed(_channels)),
    "norms": (NormNet, _feed(_channels)),
    "bilinear": (BilinearNet, _feed(_same)),
    "tied-lm": (TiedLM, _feed(_same)),
}
