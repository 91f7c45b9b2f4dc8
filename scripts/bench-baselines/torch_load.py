#!/usr/bin/python3
"""torch.load + safetensors written with the standard library.

usage: torch_load.py IN OUT      (IN "-" reads the checkpoint from stdin)

The baseline scripts/bench compares t2m with: what a user does without
t2m.  torch.load reads the whole checkpoint into memory; from a pipe it
needs a seekable file, so stdin is read into an io.BytesIO first.  A
pickled nn.Module gives its state_dict().  The output is a safetensors
file -- an 8-byte little-endian header length, a JSON header padded with
spaces to 8 bytes, then each tensor's bytes -- written with json and
struct (no safetensors package).  Tensors are written as they are: no
layout conversion.  A tensor under two names (a tied embedding: the same
storage, offset, shape, strides and dtype) is written once, under its
first name, the second recorded in __metadata__ as t2m-pack records it
("t2m.tie.<second>": "<first>"), so both write the same tensors.
"""
import io
import json
import struct
import sys

import torch

DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
          torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
          torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
          torch.bool: "BOOL"}


def raw(t):
    """The bytes of a tensor, as a buffer (numpy has no bfloat16: its bits
    go as int16)."""
    t = t.detach().contiguous().reshape(-1)
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().data


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: torch_load.py IN OUT")
    src, dst = sys.argv[1:]
    if src == "-":
        src = io.BytesIO(sys.stdin.buffer.read())
    obj = torch.load(src, map_location="cpu")
    sd = obj.state_dict() if isinstance(obj, torch.nn.Module) else obj
    header, ties, first, off = {}, {}, {}, 0
    for name, t in sd.items():
        n = t.numel() * t.element_size()
        f = first.setdefault((t.storage().data_ptr(), t.storage_offset(),
                              tuple(t.shape), tuple(t.stride()), t.dtype),
                             name)
        if f != name and n:
            ties[f"t2m.tie.{name}"] = f
            continue
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + n]}
        off += n
    if ties:
        header = {"__metadata__": ties, **header}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for name, t in sd.items():
            if name in header:
                out.write(raw(t))


if __name__ == "__main__":
    main()
