"""The PyTorch reference models of the MLX proof (tests/mlx/check.py).

Each is small, seeded and float32 unless a variant says otherwise.  The
classes live in this importable module, so torch.save(model) pickles them
by reference (module "t2mref") and torch.load finds them again; t2m
reads the module tree without importing anything.

MODELS maps a name to a spec:
    build()     the model, in eval mode (but for the submodules _spec's
                train= names: see NormNet), parameters made non-trivial
    inputs()    a tuple of input tensors (seeded)
    ts          how to make its TorchScript: "script" or "trace" (torch
                1.13 cannot script MultiheadAttention or weight norm)
    full        False when torch.save(model) cannot pickle it
    dtype       the dtype of its parameters

Parameters that start constant are made random, BatchNorm layers get
running statistics, weight norm's g is scaled: every rule has something
to get wrong.
"""
import torch
from torch import nn
import torch.nn.functional as F


def _seed(n):
    torch.manual_seed(n)


@torch.no_grad()
def _nontrivial(model, seed):
    """Constant parameters (LayerNorm and BatchNorm weights and biases,
    attention biases are ones or zeros at init) get random values, so a
    conversion that drops, swaps or zeroes them shows in the outputs."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if bool((p == p.flatten()[0]).all()):
            if name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


@torch.no_grad()
def _warm_batchnorm(model, *inputs):
    """A few training steps give BatchNorm running statistics that are
    not 0 and 1, and a num_batches_tracked that is not 0."""
    model.train()
    for k in range(3):
        model(*[x * (1.0 + 0.5 * k) + 0.3 * k for x in inputs])
    model.eval()


# ---- the three models torch2mlx proved ----

class SmallCNN(nn.Module):
    """torch2mlx's validate_mnist model, smaller."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class TiedLM(nn.Module):
    """A language model whose output layer is its embedding, one
    Parameter under two names, as GPT-2, Llama 3.2 and Gemma tie them:
    t2m-pack writes its bytes once."""

    def __init__(self, vocab=50, d=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(self.norm(torch.tanh(self.proj(
            self.embed(tokens)))))


class TransformerClassifier(nn.Module):
    """Embedding, nn.TransformerEncoder of two post-norm layers (attention
    with biases, feed-forward, LayerNorm) and a final norm, mean pool,
    Linear head."""

    def __init__(self, vocab=50, d=32, heads=4, ff=64, layers=2, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers,
                                             norm=nn.LayerNorm(d),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(1))


class ResBlock(nn.Module):
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


class ResNet(nn.Module):
    """torch2mlx's validate_resnet shape: stem Conv+BN+ReLU, residual
    blocks (one with a 1x1 projection shortcut), adaptive average pool,
    Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU())
        self.block1 = ResBlock(8, 8)
        self.block2 = ResBlock(8, 16, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


# ---- beyond torch2mlx ----

class Conv1dNet(nn.Module):
    """Conv1d, grouped Conv1d (with dilation), depthwise Conv1d (stride)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.grouped = nn.Conv1d(8, 12, 3, padding=2, dilation=2, groups=4)
        self.depthwise = nn.Conv1d(12, 12, 5, stride=2, padding=2, groups=12)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.relu(self.grouped(x))
        return self.depthwise(x)


class GroupedConv2dNet(nn.Module):
    """Grouped and depthwise Conv2d, with kernels that are not square."""

    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(4, 8, (2, 3), padding=(1, 1), groups=2)
        self.depthwise = nn.Conv2d(8, 8, 3, stride=2, groups=8)
        self.pointwise = nn.Conv2d(8, 6, (3, 1), groups=2, bias=False)

    def forward(self, x):
        x = F.relu(self.grouped(x))
        x = F.relu(self.depthwise(x))
        return self.pointwise(x)


class Conv3dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv3d(2, 4, (2, 3, 1), padding=(0, 1, 0))
        self.conv2 = nn.Conv3d(4, 3, 3, stride=2, padding=1, dilation=1)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x)))


class ConvT1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose1d(4, 6, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose1d(6, 3, 3, stride=2, padding=1,
                                      output_padding=1, dilation=2)

    def forward(self, x):
        return self.up2(F.relu(self.up1(x)))


class ConvT2dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose2d(4, 6, (2, 3), stride=2, padding=(0, 1))
        self.up2 = nn.ConvTranspose2d(6, 3, 3, stride=(2, 1), padding=1,
                                      output_padding=(1, 0), bias=False)

    def forward(self, x):
        return self.up2(F.relu(self.up1(x)))


class ConvT3dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose3d(3, 5, (2, 3, 1), stride=2,
                                      padding=(0, 1, 0))
        self.up2 = nn.ConvTranspose3d(5, 2, 3, stride=1, padding=1)

    def forward(self, x):
        return self.up2(F.relu(self.up1(x)))


class LSTMNet(nn.Module):
    """A 2-layer LSTM, batch first."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


class GRUNet(nn.Module):
    """A 2-layer GRU, sequence first (torch's default), then a GRU
    without biases."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(6, 8, num_layers=2)
        self.plain = nn.GRU(8, 4, bias=False)

    def forward(self, x):
        return self.plain(self.gru(x)[0])[0]


class RNNNet(nn.Module):
    """A 2-layer tanh RNN, then a 1-layer ReLU RNN."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(6, 8, num_layers=2, batch_first=True)
        self.relu_rnn = nn.RNN(8, 5, nonlinearity="relu", batch_first=True)

    def forward(self, x):
        return self.relu_rnn(self.rnn(x)[0])[0]


class BiRNNNet(nn.Module):
    """A bidirectional 2-layer LSTM, then a bidirectional GRU."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 8, num_layers=2, batch_first=True,
                            bidirectional=True)
        self.gru = nn.GRU(16, 5, batch_first=True, bidirectional=True)

    def forward(self, x):
        return self.gru(self.lstm(x)[0])[0]


class AttentionNet(nn.Module):
    """MultiheadAttention with a packed in_proj (with biases), then one
    without biases, fed its output as queries."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)
        self.plain = nn.MultiheadAttention(16, 2, bias=False,
                                           batch_first=True)

    def forward(self, q, k, v):
        y = self.attn(q, k, v)[0]
        return self.plain(y, k, v)[0]


class AttentionKVNet(nn.Module):
    """MultiheadAttention with kdim and vdim: separate q/k/v_proj_weight."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, kdim=12, vdim=10,
                                          batch_first=True)

    def forward(self, q, k, v):
        return self.attn(q, k, v)[0]


class WeightNormNet(nn.Module):
    """torch.nn.utils.weight_norm (weight_g / weight_v): a Conv1d (dim 0),
    a ConvTranspose1d (dim 0, which is its input-channel axis), a Conv1d
    normed on dim 1 and a Linear normed as a whole (dim None)."""

    def __init__(self):
        super().__init__()
        wn = nn.utils.weight_norm
        self.conv = wn(nn.Conv1d(4, 8, 3, padding=1))
        self.up = wn(nn.ConvTranspose1d(8, 6, 4, stride=2, padding=1))
        self.conv_in = wn(nn.Conv1d(6, 5, 3), dim=1)
        self.fc = wn(nn.Linear(5, 3), dim=None)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.relu(self.up(x))
        x = self.conv_in(x)
        return self.fc(x.mean(2))


class _WeightNorm(nn.Module):
    """torch 2.x's parametrizations.weight_norm, which torch 1.13 lacks:
    the same parametrization, so the state dict holds
    parametrizations.weight.original0 (g) and original1 (v)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = dim

    def forward(self, weight_g, weight_v):
        return torch._weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return torch.norm_except_dim(weight, 2, self.dim), weight


class ParamWeightNormNet(nn.Module):
    """Weight norm as a parametrization (new style), on a Conv1d and a
    ConvTranspose1d."""

    def __init__(self):
        super().__init__()
        reg = nn.utils.parametrize.register_parametrization
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        reg(self.conv, "weight", _WeightNorm(0))
        self.up = nn.ConvTranspose1d(8, 3, 4, stride=2, padding=1)
        reg(self.up, "weight", _WeightNorm(0))

    def forward(self, x):
        return self.up(F.relu(self.conv(x)))


class BilinearNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.bil = nn.Bilinear(6, 5, 4)
        self.plain = nn.Bilinear(4, 5, 3, bias=False)

    def forward(self, x1, x2):
        return self.plain(torch.tanh(self.bil(x1, x2)), x2)


class NormNet(nn.Module):
    """The identity rules around a Conv2d: GroupNorm, PReLU (one slope per
    channel), BatchNorm2d, LayerNorm over the channels; and InstanceNorm2d
    with running statistics, which t2m hides: MLX always normalizes with
    the instance's statistics, so the torch module is left in training
    mode, where it does the same (tests/mlx/check.py runs it on a copy,
    so the statistics saved stay as they were)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.act = nn.PReLU(8)
        self.inorm = nn.InstanceNorm2d(8, affine=True,
                                       track_running_stats=True)
        self.bn = nn.BatchNorm2d(8)
        self.ln = nn.LayerNorm(8)

    def forward(self, x):
        x = self.inorm(self.act(self.gn(self.conv(x))))
        return self.ln(self.bn(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


# ---- the specs ----

def _randn(*shape):
    return torch.randn(*shape)


def _spec(cls, inputs, seed, ts="script", warm=False, dtype=None, full=True,
          perturb=None, train=()):
    def build():
        _seed(seed)
        m = cls()
        _nontrivial(m, seed + 1)
        if perturb:
            perturb(m, seed + 2)
        m.eval()
        if warm:
            _seed(seed + 3)
            _warm_batchnorm(m, *inputs())
        with torch.no_grad():   # weight_norm's hook recomputes weight
            _seed(seed + 4)
            m(*inputs())
        if dtype is not None:
            m = m.to(dtype)
        for name in train:
            m.get_submodule(name).train()
        return m

    def make_inputs():
        _seed(seed + 100)
        xs = inputs()
        if dtype is not None:
            xs = tuple(x.to(dtype) if x.is_floating_point() else x
                       for x in xs)
        return xs

    return {"build": build, "inputs": make_inputs, "ts": ts, "full": full,
            "dtype": dtype or torch.float32}


@torch.no_grad()
def _scale_g(model, seed):
    """weight_norm starts with g = |v|, so weight = v: scale g so the
    fold is tested (build() then runs the model once, so the weight the
    old-style hook keeps is current)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith("weight_g") or name.endswith("original0"):
            p.mul_(torch.rand(p.shape, generator=g) + 0.5)


def _tokens():
    return (torch.randint(0, 50, (2, 7)),)


MODELS = {
    "cnn": _spec(SmallCNN, lambda: (_randn(2, 1, 16, 16),), 1),
    "cnn-f16": _spec(SmallCNN, lambda: (_randn(2, 1, 16, 16),), 1,
                     dtype=torch.float16),
    "cnn-bf16": _spec(SmallCNN, lambda: (_randn(2, 1, 16, 16),), 1,
                      dtype=torch.bfloat16),
    "cnn-f64": _spec(SmallCNN, lambda: (_randn(2, 1, 16, 16),), 1,
                     dtype=torch.float64),
    "transformer": _spec(TransformerClassifier, _tokens, 2),
    "resnet": _spec(ResNet, lambda: (_randn(2, 3, 12, 12),), 3, warm=True),
    "conv1d": _spec(Conv1dNet, lambda: (_randn(2, 4, 17),), 4),
    "conv2d-grouped": _spec(GroupedConv2dNet,
                            lambda: (_randn(2, 4, 9, 11),), 5),
    "conv3d": _spec(Conv3dNet, lambda: (_randn(2, 2, 5, 6, 7),), 6),
    "convt1d": _spec(ConvT1dNet, lambda: (_randn(2, 4, 9),), 7),
    "convt2d": _spec(ConvT2dNet, lambda: (_randn(2, 4, 5, 6),), 8),
    "convt3d": _spec(ConvT3dNet, lambda: (_randn(2, 3, 3, 4, 5),), 9),
    "lstm": _spec(LSTMNet, lambda: (_randn(2, 7, 6),), 10),
    "gru": _spec(GRUNet, lambda: (_randn(7, 2, 6),), 11),
    "gru-f16": _spec(GRUNet, lambda: (_randn(7, 2, 6),), 11,
                     dtype=torch.float16),
    "rnn": _spec(RNNNet, lambda: (_randn(2, 7, 6),), 12),
    "birnn": _spec(BiRNNNet, lambda: (_randn(2, 7, 6),), 13),
    "mha": _spec(AttentionNet, lambda: (_randn(2, 5, 16), _randn(2, 7, 16),
                                        _randn(2, 7, 16)), 14, ts="trace"),
    "mha-kv": _spec(AttentionKVNet, lambda: (_randn(2, 5, 16),
                                             _randn(2, 7, 12),
                                             _randn(2, 7, 10)), 15,
                     ts="trace"),
    "weightnorm": _spec(WeightNormNet, lambda: (_randn(2, 4, 9),), 16,
                        ts="trace", perturb=_scale_g),
    "weightnorm-bf16": _spec(WeightNormNet, lambda: (_randn(2, 4, 9),), 16,
                             ts="trace", perturb=_scale_g,
                             dtype=torch.bfloat16),
    "weightnorm-param": _spec(ParamWeightNormNet, lambda: (_randn(2, 4, 9),),
                              17, ts="trace", full=False, perturb=_scale_g),
    "norms": _spec(NormNet, lambda: (_randn(2, 3, 6, 5),), 19, warm=True,
                   train=("inorm",)),
    "bilinear": _spec(BilinearNet, lambda: (_randn(3, 6), _randn(3, 5)), 18),
    "tied-lm": _spec(TiedLM, _tokens, 20),
}
