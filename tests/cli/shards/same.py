"""same.py A B: A and B hold the same tensors - names, dtypes, shapes and
every byte - read by tests/lib/st.py, not by t2m.

Each is a safetensors file or a shard index (*.index.json).  An index is
checked against its shards on the way: each tensor in the shard the index
names and in no other, no tensor the index does not name, total_size the
bytes of tensor data.
"""
import json
import os
import sys

import st


def load(path):
    if not path.endswith(".index.json"):
        return st.read(path)[1]
    with open(path, encoding="utf-8") as f:
        idx = json.load(f)
    wmap = idx["weight_map"]
    out, total = {}, 0
    for shard in sorted(set(wmap.values())):
        _, tensors, _ = st.read(os.path.join(os.path.dirname(path), shard))
        for name, t in tensors.items():
            if wmap.get(name) != shard:
                sys.exit("%s: '%s' is in %s, the index says %s"
                         % (path, name, shard, wmap.get(name)))
            out[name] = t
            total += len(t[2])
    if set(out) != set(wmap):
        sys.exit("%s: the index names %s, not in its shards"
                 % (path, sorted(set(wmap) - set(out))))
    if idx["metadata"]["total_size"] != total:
        sys.exit("%s: total_size %d, the shards hold %d bytes"
                 % (path, idx["metadata"]["total_size"], total))
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    only = sorted(set(a) ^ set(b))
    differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])
    sys.exit("%s and %s differ: names in one only %s, tensors differing %s"
             % (sys.argv[1], sys.argv[2], only[:5], differ[:5]))
