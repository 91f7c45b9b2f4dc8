"""nn.Module classes for the full-model fixtures of the PyTorch corpus.

torch.save(model) pickles a module by class reference, so the fixtures
made by scripts/gen-torch-fixtures.py name these classes as
'models <Class>' and torch.load needs this file importable as `models`
(tests/torch on sys.path, which expect.py arranges for itself).  Keep the
classes stable: changing one changes what the full-model fixtures hold.
"""
import torch
from torch import nn


class Block(nn.Module):
    """A custom submodule: grouped conv without bias, batch norm, a
    persistent buffer and a non-persistent one (which state_dict() and so
    the converter's output must not contain)."""

    def __init__(self, ch=4):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1, groups=2, bias=False)
        self.bn = nn.BatchNorm2d(ch)
        self.register_buffer("scale", torch.linspace(0.5, 2.0, ch))
        self.register_buffer("cache", torch.full((ch,), 7.0), persistent=False)

    def forward(self, x):
        return self.bn(self.conv(x)) * self.scale.view(1, -1, 1, 1)


class Net(nn.Module):
    """A small module tree: Sequential, the custom Block, Linear with and
    without bias, a ModuleList, a ModuleDict, a bare Parameter and a
    parameter slot holding None (which state_dict() leaves out)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1),
                                  nn.BatchNorm2d(4), nn.ReLU())
        self.block = Block(4)
        self.head = nn.Linear(4, 5)
        self.proj = nn.Linear(5, 3, bias=False)
        self.layers = nn.ModuleList([nn.Linear(3, 3), nn.LayerNorm(3)])
        self.extra = nn.ModuleDict({"emb": nn.Embedding(6, 3)})
        self.gamma = nn.Parameter(torch.linspace(-1.0, 1.0, 3))
        self.register_parameter("unused", None)

    def forward(self, x):
        x = self.block(self.stem(x)).mean(dim=(2, 3))
        x = self.proj(self.head(x))
        for layer in self.layers:
            x = layer(x)
        return x * self.gamma


class Tiny(nn.Module):
    """Linear layers whose weights are tied (one Parameter, two paths), as
    language models tie embeddings and output heads."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.out = nn.Linear(4, 5, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, idx):
        return self.out(self.embed(idx))


class WithConst(nn.Module):
    """Uses a tensor constant in forward: tracing stores it in
    constants.pkl / constants/, which is not part of the state dict."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x) + torch.tensor([0.25, -0.5])


def build(cls, seed=0):
    """An instance of cls with deterministic weights, every parameter and
    buffer random (no two alike, so a name mix-up cannot go unseen)."""
    torch.manual_seed(seed)
    m = cls()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape))
        for name, buf in m.named_buffers():
            if buf.is_floating_point():
                buf.copy_(torch.randn(buf.shape).abs() + 0.1)
            elif name.endswith("num_batches_tracked"):
                buf.fill_(seed + 3)
    return m.eval()
