# Sharded output (-s): for shard sizes from 1 byte to more than the
# model, DIR holds model-0000k-of-0000n.safetensors for k = 1..n and
# model.safetensors.index.json, nothing else.  Read with tests/lib/st.py
# (no t2m code): every shard is valid safetensors with t2m-pack's layout
# and the stream's metadata; the shards' tensors together are exactly
# the unsharded output's; the tensors run through the shards in the
# unsharded order, each shard filled greedily (the next shard's first
# tensor would not have fit) and within the size unless it holds one
# tensor alone; the hidden tensors are all in the first shard's header,
# as in the unsharded one's; the index names every tensor's shard and the
# total size, and for plain names is laid out exactly as documented.
set -eu
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
$PYTHON -m gen_st corpus corpus.st
t2m-unpack -C 64 corpus.st > a.t2m
# A stream with hidden tensors: a batch norm's step count, in MLX layout.
$PYTHON - <<'PY'
import torch
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8),
                        torch.nn.Flatten(), torch.nn.Linear(8, 300),
                        torch.nn.InstanceNorm1d(4, track_running_stats=True))
torch.save(m, "full.pt")
PY
t2m-unpack full.pt | t2m-transpose > b.t2m
t2m-ls b.t2m | grep -q '(hidden)'
# Sizes that a shard's tensors fill exactly: the sums of the first 3 and
# first 40 tensors in t2m-pack's order.
t2m-pack a.st < a.t2m
edges=$($PYTHON -c '
import st
_, t, _ = st.read("a.st")
print(" ".join(str(sum(len(v[2]) for v in list(t.values())[:n]))
               for n in (3, 40)))')
for s in a b; do
	t2m-pack $s.st < $s.t2m
	for size in 1 100 1K 4K 9K 64K 1G $edges; do
		t2m-pack -s $size $s-$size < $s.t2m
	done
done
$PYTHON - <<'PY'
import json, os, re, sys
import st

SIZES = {"1": 1, "100": 100, "1K": 1024, "4K": 4096, "9K": 9216,
         "64K": 65536, "1G": 1 << 30}
_, t, _ = st.read("a.st")
for n in (3, 40):
    e = sum(len(v[2]) for v in list(t.values())[:n])
    SIZES[str(e)] = e
bad = []
for s in ("a", "b"):
    meta1, whole, head1 = st.read(f"{s}.st")
    hidden = {k: v for k, v in meta1.items() if k.startswith("t2m.hidden.")}
    plain = {k: v for k, v in meta1.items() if k not in hidden}
    if s == "b" and not hidden:
        bad.append("b: no hidden tensors to test with")
    # t2m-pack's order: element size, largest first, then name bytewise.
    order = sorted(whole, key=lambda k: (-st.DTYPES[whole[k][0]][1],
                                         k.encode()))
    for tag, size in SIZES.items():
        d = f"{s}-{tag}"
        files = sorted(os.listdir(d))
        n = len(files) - 1
        want = [f"model-{k:05d}-of-{n:05d}.safetensors"
                for k in range(1, n + 1)] + ["model.safetensors.index.json"]
        if files != want:
            bad.append(f"{d}: files {files[:3]}...")
            continue
        seen, run, wmap = {}, [], {}
        for k, f in enumerate(files[:-1]):
            meta, t, _ = st.read(os.path.join(d, f))
            h = {x: v for x, v in meta.items() if x.startswith("t2m.hidden.")}
            m = {x: v for x, v in meta.items() if x not in h}
            if m != plain:
                bad.append(f"{d}/{f}: metadata {m}")
            if h != (hidden if k == 0 else {}):
                bad.append(f"{d}/{f}: hidden tensors {sorted(h)[:3]}")
            names = list(t)     # st.read keeps the data order
            used = sum(len(t[x][2]) for x in names)
            if used > size and len(names) > 1:
                bad.append(f"{d}/{f}: {used} bytes of {len(names)} tensors")
            if k > 0 and names and prev_used <= size and \
                    prev_used + len(t[names[0]][2]) <= size:
                bad.append(f"{d}/{f}: {names[0]} would have fit before")
            if not names and n > 1:
                bad.append(f"{d}/{f}: an empty shard")
            prev_used = used
            for x in names:
                if x in seen:
                    bad.append(f"{d}: {x!r} in two shards")
                seen[x] = t[x]
                wmap[x] = f
            run += names
        if seen != whole:
            bad.append(f"{d}: the shards hold other tensors than {s}.st")
        if run != order:
            bad.append(f"{d}: tensors out of t2m-pack's order")
        text = open(os.path.join(d, files[-1]), encoding="utf-8").read()
        idx = json.loads(text)
        total = sum(len(v[2]) for v in whole.values())
        if idx != {"metadata": {"total_size": total}, "weight_map": wmap}:
            bad.append(f"{d}: index {text[:200]!r}")
        if s == "b" and text != json.dumps(idx, indent=2, sort_keys=True) + "\n":
            bad.append(f"{d}: index not laid out as documented: {text!r}")
        if tag == "1G" and n != 1 or tag == "1" and n < len(whole) // 2:
            bad.append(f"{d}: {n} shards")
        if s == "a" and tag in [str(x) for x in SIZES.values()][7:] and \
                len(st.read(os.path.join(d, files[0]))[1]) not in (3, 40):
            bad.append(f"{d}: the first shard is not filled exactly")
for b in bad[:20]:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
# Each shard alone reads back; the first holds the hidden tensors.
t2m-unpack b-1K/model-00001-of-*.safetensors | t2m-ls | grep -q '(hidden)'
for f in a-4K/*.safetensors; do
	t2m-unpack "$f" > /dev/null
done
