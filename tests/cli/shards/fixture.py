"""A 3-shard Hugging Face-style checkpoint, made by real torch.

    fixture.py [--split none|lstm|attn] [--many N] [--only bin|st]

writes, in the current directory:

  full.pt, full.safetensors   the unsharded state dict (torch.save; st.py)
  bin/   pytorch_model-0000k-of-00003.bin (torch.save of each part)
         pytorch_model.bin.index.json, config.json
  st/    model-0000k-of-00003.safetensors (tests/lib/st.py, not t2m)
         model.safetensors.index.json, config.json

The model is small and Llama/BERT-like, with the layers t2m-transpose
changes: a Conv1d (permuted), a BatchNorm1d (its step count hidden), an
nn.MultiheadAttention per block (in_proj cut in three), an LSTM (biases
summed); F32, F16, BF16 and I64 tensors.  The shards are cut, as
transformers does, in state-dict order, but at module boundaries - so a
shard converts alone exactly as within the whole - unless --split puts
one module's tensors in two shards: "lstm" separates the LSTM's two
biases, "attn" an attention's in_proj weight from its bias.

--many N adds N small tensors to the third shard, for a manifest larger
than a pipe holds; --only makes one of bin/ and st/ (and full.pt only
with bin/).
"""
import argparse
import json
import os

import torch
from torch import nn

import st

D = 16
NAMES = {torch.float32: "F32", torch.float16: "F16",
         torch.bfloat16: "BF16", torch.int64: "I64"}


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, 2)
        self.norm2 = nn.LayerNorm(D)
        self.fc1 = nn.Linear(D, 4 * D)
        self.fc2 = nn.Linear(4 * D, D)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(64, D)
        self.conv = nn.Conv1d(D, D, 3, padding=1)
        self.bn = nn.BatchNorm1d(D)
        self.layers = nn.ModuleList(Block() for _ in range(3))
        self.rnn = nn.LSTM(D, D)
        self.norm = nn.LayerNorm(D)
        self.lm_head = nn.Linear(D, 64, bias=False)


def state_dict():
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        # Values no initializer gives: every byte of every tensor counts.
        for p in net.parameters():
            p.copy_(torch.randn_like(p))
        net.bn.running_mean.copy_(torch.randn(D))
        net.bn.running_var.copy_(torch.rand(D) + 0.5)
        net.bn.num_batches_tracked.fill_(7)
    sd = net.state_dict()
    sd["embed_tokens.weight"] = sd["embed_tokens.weight"].half()
    sd["lm_head.weight"] = sd["lm_head.weight"].bfloat16()
    return sd


def raw(t):
    """The tensor's bytes, little-endian, in C order."""
    t = t.contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def parts(sd, split):
    """Three lists of names, in state-dict order, cut between modules."""
    names = list(sd)
    first = names.index("layers.1.norm1.weight")
    third = names.index("layers.2.norm1.weight")
    cut = [names[:first], names[first:third], names[third:]]
    if split == "lstm":
        # The LSTM but its bias_hh_l0 goes to the shard before.
        for name in [n for n in cut[2] if n.startswith("rnn.") and
                     n != "rnn.bias_hh_l0"]:
            cut[2].remove(name)
            cut[1].append(name)
    elif split == "attn":
        cut[0].remove("layers.0.attn.in_proj_bias")
        cut[1].insert(0, "layers.0.attn.in_proj_bias")
    return cut


def write(sd, cut, d, kind):
    os.makedirs(d)
    n = len(cut)
    if kind == "bin":
        fmt, index = "pytorch_model-%05d-of-%05d.bin", \
            "pytorch_model.bin.index.json"
    else:
        fmt, index = "model-%05d-of-%05d.safetensors", \
            "model.safetensors.index.json"
    wmap, total = {}, 0
    for k, names in enumerate(cut):
        f = fmt % (k + 1, n)
        part = {name: sd[name] for name in names}
        if kind == "bin":
            torch.save(part, os.path.join(d, f))
        else:
            st.write(os.path.join(d, f), {
                name: (NAMES[t.dtype], tuple(t.shape), raw(t))
                for name, t in part.items()}, metadata={"format": "pt"})
        for name, t in part.items():
            wmap[name] = f
            total += len(raw(t))
    with open(os.path.join(d, index), "w") as out:
        json.dump({"metadata": {"total_size": total},
                   "weight_map": dict(sorted(wmap.items()))}, out,
                  indent=2)
    with open(os.path.join(d, "config.json"), "w") as out:
        json.dump({"model_type": "t2m-test", "hidden_size": D}, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="none",
                    choices=["none", "lstm", "attn"])
    ap.add_argument("--many", type=int, default=0)
    ap.add_argument("--only", choices=["bin", "st"])
    a = ap.parse_args()
    sd = state_dict()
    for k in range(a.many):
        sd["extra.%06d.a_long_name_to_make_the_manifest_large" % k] = \
            torch.full((1,), float(k))
    st.write("full.safetensors", {
        name: (NAMES[t.dtype], tuple(t.shape), raw(t))
        for name, t in sd.items()})
    cut = parts(sd, a.split)
    if a.only != "st":
        torch.save(sd, "full.pt")
        write(sd, cut, "bin", "bin")
    if a.only != "bin":
        write(sd, cut, "st", "st")


main()
