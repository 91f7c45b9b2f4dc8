# man/examples - every command in the EXAMPLES of every page in man/
# still does what the page shows.
#
# In a page's EXAMPLES section each ".Bd -literal" display is read: a line
# "$ command" is run by sh (a command line ending in "|" or "\" goes on to
# the next line), and the lines after it, up to the next command or ".Ed",
# are its expected output, stdout and stderr together.  A command whose
# expected output holds a diagnostic ("t2m-...: ") must exit 1, any other
# must exit 0, unless a comment line '.\" exit N' before it says N.  A display without commands is not run; in t2m-stream.5 its
# offset-and-hex lines must spell out the example stream byte for byte.
#
# Each page runs in a directory of its own holding the inputs the pages
# name, made here.  Afterwards the files the examples wrote are checked:
# model.mlx.safetensors (converted) or weights.safetensors (not) against
# the layout t2m-pack(1) documents, and no out.safetensors or temporary
# file may be left behind.
#
# A section-1 page's SYNOPSIS must also read as its program's usage line.
set -u

work=$PWD
failed=0

fail() {
	echo "# FAIL: $*"
	failed=1
}

# ---- inputs ------------------------------------------------------------

mkdir inputs bin
"$PYTHON" - <<'EOF' || exit 1
import struct

import numpy as np

import st


def t(dtype, shape, npdtype):
    n = int(np.prod(shape))
    return dtype, shape, (np.arange(n) % 251).astype(npdtype).tobytes()


st.write("inputs/model.safetensors", {
    "embed.weight": t("F16", (4096, 128), "<f2"),
    "layers.0.attn.qkv.weight": t("F16", (384, 128), "<f2"),
    "layers.0.attn.qkv.bias": t("F16", (384,), "<f2"),
    "layers.0.norm.weight": t("F32", (128,), "<f4"),
    "layers.0.norm.bias": t("F32", (128,), "<f4"),
    "head.weight": t("BF16", (10, 128), "<u2"),
}, metadata={"format": "pt"})

st.write("inputs/f.st", {
    "b": ("U8", (2,), bytes([1, 2])),
    "w": ("F16", (2, 3), np.arange(6, dtype="<f2").tobytes()),
})

# A tensor name twice: the reference parser would keep the second.
h = (b'{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
     b'"w":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}')
with open("inputs/dup.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"abc")
EOF
# PyTorch inputs, saved by real torch (Debian's python3-torch).
"$PYTHON" - <<'EOF' || exit 1
import torch

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
    torch.nn.Linear(16, 10))
torch.save(model.state_dict(), "inputs/model.pt")
torch.save(model, "inputs/full.pt")
import json
json.dump({n: type(m).__module__ + "." + type(m).__name__
           for n, m in model.named_modules()}, open("inputs/types.json", "w"))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
model(torch.randn(2, 1, 8, 8)).sum().backward()
opt.step()
torch.save({"epoch": 3, "global_step": 120,
            "state_dict": {"model." + k: v
                           for k, v in model.state_dict().items()},
            "optimizer_states": [opt.state_dict()],
            "hyper_parameters": {"lr": 0.01, "channels": 4}},
           "inputs/model.ckpt")
torch.save({"fc.weight": torch.quantize_per_tensor(torch.randn(10, 16), 0.1,
                                                   0, torch.qint8),
            "fc.bias": torch.zeros(10)}, "inputs/quant.pt")
EOF
zstd -q -c inputs/model.safetensors > inputs/model.safetensors.zst ||
    exit 1
zstd -q -c inputs/model.pt > inputs/model.pt.zst || exit 1
# Made where it is used, so that its info names model.safetensors.
(cd inputs && t2m-unpack model.safetensors > model.t2m) || exit 1

# The pages show xxd's output; where xxd is missing, stand in for it.
if ! command -v xxd >/dev/null 2>&1; then
	cat > bin/xxd <<EOF
#!$PYTHON
import sys
data = sys.stdin.buffer.read()
for off in range(0, len(data), 16):
    row = data[off:off + 16]
    hexes = " ".join(row[i:i + 2].hex() for i in range(0, len(row), 2))
    text = "".join(chr(c) if 0x20 <= c < 0x7f else "." for c in row)
    print("%08x: %-39s  %s" % (off, hexes, text))
EOF
	chmod +x bin/xxd
fi
PATH=$work/bin:$PATH
export PATH

# ---- reading the pages --------------------------------------------------

# extract PAGE DIR: DIR/N.cmd and DIR/N.exp for each example, and
# DIR/listing with the lines of displays that hold no command.
extract() {
	"$PYTHON" - "$1" "$2" <<'EOF'
import os
import sys

page, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
lines = open(page, encoding="utf-8").read().split("\n")
n = 0
cur = None
listing = []


def unescape(i):
    s = lines[i].replace("\\e", "\0").replace("\\&", "").replace("\\-", "-")
    if "\\" in s:
        sys.exit("%s:%d: an escape this test cannot read" % (page, i + 1))
    return s.replace("\0", "\\")


def flush():
    global cur
    if cur is not None:
        with open("%s/%d.cmd" % (out, n), "w") as f:
            f.write(cur[0] + "\n")
        with open("%s/%d.exp" % (out, n), "w") as f:
            f.write("".join(l + "\n" for l in cur[1]))
    cur = None


section = None
literal = False
status = None
i = 0
while i < len(lines):
    line = lines[i]
    if line.startswith(".Sh "):
        section = line[4:].strip().strip('"')
    elif section == "EXAMPLES":
        if line.startswith(".Dl") or line.startswith(".D1"):
            sys.exit("%s:%d: a .Dl example is not run; use .Bd -literal"
                     % (page, i + 1))
        if line.startswith(".Bd"):
            literal = line.split()[1:2] == ["-literal"]
        elif line.startswith(".Ed"):
            flush()
            literal = False
        elif literal and line.startswith('.\\" exit '):
            # A comment giving the next command's exit status, for an
            # output that holds a warning rather than an error.
            status = line.split()[2]
        elif literal:
            text = unescape(i)
            if text.startswith("$ "):
                flush()
                n += 1
                cmd = text[2:]
                while cmd.endswith("|") or cmd.endswith("\\"):
                    i += 1
                    cmd += "\n" + unescape(i)
                cur = (cmd, [])
                if status is not None:
                    with open("%s/%d.status" % (out, n), "w") as f:
                        f.write(status + "\n")
                    status = None
            elif cur is not None:
                cur[1].append(text)
            else:
                listing.append(text)
    i += 1
if n == 0:
    sys.exit("%s: no examples found" % page)
with open(out + "/listing", "w") as f:
    f.write("".join(l + "\n" for l in listing))
EOF
}

# ---- checks of what the examples wrote ------------------------------------

# check_pack DIR SRC OUT META: DIR/OUT holds the tensors of DIR/SRC (a
# safetensors file, or a PyTorch state dict read by torch), unchanged,
# with the metadata META (JSON), in the layout t2m-pack(1) documents.
check_pack() {
	"$PYTHON" - "$1/$2" "$1/$3" "$4" <<'EOF'
import json
import struct
import sys

import st

src, dst, meta_want = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if src.endswith(".pt"):
    import torch
    names = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}
    want = {k: (names[v.dtype], tuple(v.shape), v.contiguous().numpy().tobytes())
            for k, v in torch.load(src).items()}
else:
    _, want, _ = st.read(src)
meta, got, header = st.read(dst)
if got != want:
    sys.exit("tensors differ from the input's")
if meta != meta_want:
    sys.exit("__metadata__ is %r" % meta)
order = sorted(want, key=lambda k: (-st.DTYPES[want[k][0]][1], k.encode()))
h = {"__metadata__": {k: meta[k] for k in sorted(meta, key=str.encode)}}
at = 0
for k in order:
    dtype, shape, data = want[k]
    h[k] = {"dtype": dtype, "shape": list(shape),
            "data_offsets": [at, at + len(data)]}
    at += len(data)
text = json.dumps(h, separators=(",", ":"), ensure_ascii=False).encode()
text += b" " * (-len(text) % 8)
if header != struct.pack("<Q", len(text)) + text:
    sys.exit("header is not the documented layout:\n%r" % header[8:200])
EOF
}

# check_listing LISTING STREAM: the offset-and-hex lines of LISTING are
# the bytes of STREAM, at the offsets they say.
check_listing() {
	"$PYTHON" - "$1" "$2" <<'EOF'
import re
import sys

listing, stream = sys.argv[1], sys.argv[2]
want = open(stream, "rb").read()
got = bytearray()
lines = 0
for line in open(listing, encoding="utf-8"):
    m = re.match(r"^ *(\d*)  ((?:[0-9a-f]{2} )*[0-9a-f]{2})(?:  |$)", line)
    if m is None:
        m = re.match(r"^end of input at offset (\d+)$", line)
        if m and int(m.group(1)) != len(got):
            sys.exit("listing ends at %s, its bytes at %d"
                     % (m.group(1), len(got)))
        continue
    if m.group(1) and int(m.group(1)) != len(got):
        sys.exit("listing says offset %s where byte %d is"
                 % (m.group(1), len(got)))
    got += bytes.fromhex(m.group(2))
    lines += 1
if lines == 0:
    sys.exit("no listing found")
if bytes(got) != want:
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            sys.exit("listing differs from the stream at byte %d" % i)
    sys.exit("listing has %d bytes, the stream %d" % (len(got), len(want)))
EOF
}

# ---- running the examples ---------------------------------------------------

bs=$(printf '\b')	# mandoc -Tascii overstrikes bold text
pages=0
for page in "$T2M_TOP"/man/*.[1-9]; do
	name=${page##*/}
	pages=$((pages + 1))
	dir=$work/run.$name
	ex=$work/ex.$name
	mkdir "$dir"
	cp inputs/* "$dir"/
	if ! extract "$page" "$ex"; then
		fail "$name: cannot read its examples"
		continue
	fi
	i=1
	while [ -f "$ex/$i.cmd" ]; do
		cmd=$(cat "$ex/$i.cmd")
		(cd "$dir" && sh -c "$cmd") > "$ex/$i.got" 2>&1
		status=$?
		want=0
		grep -q '^t2m-[a-z]*: ' "$ex/$i.exp" && want=1
		[ -f "$ex/$i.status" ] && want=$(cat "$ex/$i.status")
		if [ "$status" -ne "$want" ]; then
			fail "$name: \$ $cmd: exit status $status, expected $want"
			sed 's/^/#   /' "$ex/$i.got" | head -5
		elif ! cmp -s "$ex/$i.exp" "$ex/$i.got"; then
			fail "$name: \$ $cmd: output differs from the page"
			diff "$ex/$i.exp" "$ex/$i.got" | head -10 | sed 's/^/#   /'
		fi
		i=$((i + 1))
	done

	leftover=$(cd "$dir" && ls -A | grep '^\.')
	[ -z "$leftover" ] || fail "$name: temporary files left: $leftover"
	[ ! -e "$dir/out.safetensors" ] ||
	    fail "$name: out.safetensors exists after a failed run"
	case $name in
	*.1)
		synopsis=$(mandoc -Tascii -Owidth=200 "$page" |
		    sed "s/.$bs//g" | sed -n '/^SYNOPSIS/{n;s/^ *//;p;}')
		usage=$(${name%.1} -Z 2>&1 | sed -n 's/^usage: //p')
		[ -n "$usage" ] && [ "$synopsis" = "$usage" ] ||
		    fail "$name: SYNOPSIS '$synopsis', usage '$usage'"
		;;
	esac
	case $name in
	t2m-pack.1 | t2m-unpack.1 | t2m.7)
		# model.safetensors converts with nothing to permute.
		src=model.safetensors out=model.mlx.safetensors
		meta='{"format": "mlx", "t2m.layout": "mlx",
		    "t2m.reverse": "{\"recipes\":{},\"consumed\":[]}"}'
		[ "$name" = t2m-unpack.1 ] && src=model.pt \
		    out=weights.safetensors meta='{"format": "pt"}'
		if [ ! -f "$dir/$out" ]; then
			fail "$name: the examples wrote no $out"
		elif ! msg=$(check_pack "$dir" "$src" "$out" "$meta" 2>&1); then
			fail "$name: $out: $msg"
		fi
		;;
	t2m-stream.5)
		msg=
		(cd "$dir" && t2m-unpack -C 8 f.st) > "$ex/f.t2m" &&
		    msg=$(check_listing "$ex/listing" "$ex/f.t2m" 2>&1) ||
		    fail "$name: field-by-field listing: $msg"
		;;
	esac
done
[ "$pages" -ge 5 ] || fail "only $pages pages in $T2M_TOP/man"
exit $failed
