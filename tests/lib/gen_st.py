"""gen_st - safetensors files for the CLI tests, and the checks run on
what t2m-pack writes.  Built on st.py (numpy and the format's README, no
t2m code); the bytes are derived from SHA-256 so every run, on every
machine and numpy version, makes the same files.

    $PYTHON -m gen_st corpus FILE [--variant]   the round-trip corpus
    $PYTHON -m gen_st small FILE                 a few tensors (truncation)
    $PYTHON -m gen_st big FILE MIB               one large tensor and a few small
    $PYTHON -m gen_st many FILE N                N tiny tensors
    $PYTHON -m gen_st bad DIR                    the corrupt corpus, DIR/LIST
    $PYTHON -m gen_st cuts FILE DIR              DIR/<n>: FILE's first n bytes,
                                                 for n at and inside every
                                                 part; DIR/LIST: n, region
    $PYTHON -m gen_st same SRC OUT...            each OUT holds its SRC's tensors
                                                 exactly (pairs of files)
    $PYTHON -m gen_st layout FILE...             each FILE has t2m-pack's layout

The checks print what differs and exit 1.
"""
import hashlib
import json
import re
import struct
import sys

import numpy as np

import st

# Every dtype st.py knows (the safetensors ones of whole bytes).
DTYPES = ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32",
          "F32", "F64", "I64", "U64", "F8_E4M3", "F8_E5M2", "C64",
          "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ"]
FLOATS = {"F16": "<u2", "BF16": "<u2", "F32": "<u4", "F64": "<u8",
          "C64": "<u8"}


def det_bytes(seed, n):
    """n bytes that depend only on seed."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}/{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def special_floats(dtype):
    """Bit patterns that a value-converting copy would lose or change:
    zeros of both signs, infinities, NaNs with payloads and signs,
    subnormals."""
    if dtype in ("F16", "BF16"):
        exp = 0x7C00 if dtype == "F16" else 0x7F80
        pats = [0x0000, 0x8000, exp, 0x8000 | exp, exp | 1, exp | 0x0200,
                0xFFFF, 0x0001, 0x8001, 0x3C00]
        return struct.pack(f"<{len(pats)}H", *pats)
    if dtype in ("F32", "C64"):
        pats = [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
                0x7F800001, 0xFFC00001, 0x7FBFFFFF, 0x00000001, 0x807FFFFF]
        return struct.pack(f"<{len(pats)}I", *pats)
    if dtype == "F64":
        pats = [0, 1 << 63, 0x7FF0 << 48, 0xFFF0 << 48, 0x7FF8 << 48,
                (0x7FF0 << 48) | 1, 0xFFFFFFFFFFFFFFFF, 1]
        return struct.pack(f"<{len(pats)}Q", *pats)
    return b""


def fill(dtype, shape, seed):
    n = st.nbytes(dtype, shape)
    if dtype == "BOOL":
        return bytes(b & 1 for b in det_bytes(seed, n))
    if st.DTYPES[dtype][1] == 8 and n == 256:
        return bytes(range(256))        # every 8-bit pattern once
    sp = special_floats(dtype)
    if n >= len(sp) > 0:
        return sp + det_bytes(seed, n - len(sp))
    return det_bytes(seed, n)


# Names a JSON writer must escape, or that are not ASCII.
ODD_NAMES = [
    "模型.层.0.权重", "café/ñandú", "emoji.\U0001F389.bias", "Ω",
    'has"quote', "back\\slash", "tab\there", "new\nline", "ctl\x01\x1f",
    "bs\bff\f", "del\x7f", "line\u2028sep", "slash/ok", " spaced name ",
    "", "__metadata", "\U0010FFFF",
]

METADATA = {
    "format": "pt", "名前": "値 ✓", 'quote"key': 'back\\val\nnew',
    "empty": "", "ctl\x01": "\x1f", "z": "last",
}


def corpus():
    """(tensors, metadata): every dtype as a vector, a matrix, a scalar,
    an empty tensor; odd names; a 64-dimension tensor; a zero-size tensor
    with a huge other dimension."""
    t = {}
    for k, dt in enumerate(DTYPES):
        key = dt.lower()
        vec = (256,) if st.DTYPES[dt][1] == 8 else (13 + k,)
        t[f"{key}.vec"] = (dt, vec, fill(dt, vec, f"{dt}.vec"))
        t[f"{key}.mat"] = (dt, (2, 3, 4), fill(dt, (2, 3, 4), f"{dt}.mat"))
        t[f"{key}.scalar"] = (dt, (), fill(dt, (), f"{dt}.scalar"))
        t[f"{key}.empty"] = (dt, (0,) if k % 2 else (3, 0, 2), b"")
    for k, name in enumerate(ODD_NAMES):
        dt = DTYPES[k % len(DTYPES)]
        t[name] = (dt, (k % 3 + 1,), fill(dt, (k % 3 + 1,), f"odd{k}"))
    t["dims64"] = ("U8", (1,) * 64, b"\x2a")
    t["wide.empty"] = ("F32", (0, 1 << 40), b"")
    return t, dict(METADATA)


def small():
    """Few tensors with some bytes each: many records at -C 16, yet few
    enough that truncating at every one of them stays quick."""
    t = {
        "a.weight": ("F32", (3, 5), fill("F32", (3, 5), "s1")),
        "b": ("U8", (), b"\x07"),
        "c.empty": ("I64", (0, 4), b""),
        "d.bias": ("BF16", (21,), fill("BF16", (21,), "s2")),
        "é": ("I8", (17,), fill("I8", (17,), "s3")),
    }
    return t, {"k": "v"}


def header_text(tensors, metadata, order, key_order=None, ascii=False,
                ws=False, pad=True, field_order=("dtype", "shape",
                                                 "data_offsets")):
    """The JSON header for tensors laid out in `order`, the keys written
    in key_order (default: order, metadata first)."""
    spans, off = {}, 0
    for name in order:
        n = len(tensors[name][2])
        spans[name] = (off, off + n)
        off += n
    keys = key_order if key_order is not None else (
        (["__metadata__"] if metadata is not None else []) + list(order))
    sep, colon = (", ", ": ") if ws else (",", ":")
    parts = []
    for k in keys:
        if k == "__metadata__":
            v = json.dumps(metadata, ensure_ascii=ascii,
                           separators=(sep, colon))
        else:
            dt, shape, _ = tensors[k]
            fields = {"dtype": json.dumps(dt),
                      "shape": json.dumps(list(shape),
                                          separators=(sep, colon)),
                      "data_offsets": json.dumps(list(spans[k]),
                                                 separators=(sep, colon))}
            v = "{" + sep.join(f'"{f}"{colon}{fields[f]}'
                               for f in field_order) + "}"
        parts.append(json.dumps(k, ensure_ascii=ascii) + colon + v)
    text = ("{" + ("\n  " if ws else "") + sep.join(parts) +
            ("\n}\n" if ws else "}")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return text


def write_variant(path, tensors, metadata, variant):
    """The same tensors, written differently: data in reverse order and
    keys shuffled, \\u escapes for everything, white space, no padding.
    t2m-pack must make the same file from each."""
    names = list(tensors)
    if variant == "plain":
        order, kw = names, {}
    elif variant == "reversed":
        order = names[::-1]
        keys = names[1::2] + ["__metadata__"] + names[0::2]
        kw = {"key_order": keys, "field_order": ("data_offsets", "shape",
                                                  "dtype")}
    elif variant == "ascii":
        order, kw = names, {"ascii": True}
    elif variant == "spaced":
        order, kw = sorted(names), {"ws": True, "pad": False}
    else:
        raise SystemExit(f"gen_st: unknown variant {variant}")
    text = header_text(tensors, metadata, order, **kw)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in order:
            f.write(tensors[name][2])


def big(mib):
    t = {
        "big": ("U8", (mib, 1024, 1024), det_bytes("big", mib << 20)),
        "tail": ("F32", (7,), fill("F32", (7,), "tail")),
        "z": ("I16", (3,), fill("I16", (3,), "z")),
    }
    return t, {"what": "big"}


def many(n):
    return {f"layers.{i}.w": ("F16", (2,), fill("F16", (2,), i))
            for i in range(n)}, None


# ---- the corrupt corpus ----

def raw(text, data=b"", hlen=None, pad=True):
    """A file from a header text given as written (str or bytes)."""
    if isinstance(text, str):
        text = text.encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text) if hlen is None else hlen) + text + data


def ent(dtype="F32", shape=(2,), offs=(0, 8)):
    return json.dumps({"dtype": dtype, "shape": list(shape),
                       "data_offsets": list(offs)})


E = ent()
D8 = bytes(range(8))

# name -> (file bytes, what the one line of stderr must contain)
BAD = {
    "len-zero": (raw("{}", hlen=0), "not a checkpoint format"),
    "len-huge": (raw("{}", hlen=100000001), "not a checkpoint format"),
    "len-past-end": (raw('{"a":' + E + "}", D8, hlen=1000),
                     "header length 1000 runs past the end"),
    "short-file": (b"\x02\0\0\0", "not a checkpoint format"),
    "not-object": (raw('["a"]'), "not a checkpoint format"),
    "not-utf8-name": (raw(b'{"a\xff":' + E.encode() + b"}", D8),
                      "not valid UTF-8"),
    "not-utf8-overlong": (raw(b'{"a\xc0\xaf":' + E.encode() + b"}", D8),
                          "not valid UTF-8"),
    "not-utf8-surrogate": (raw(b'{"\xed\xa0\x80":' + E.encode() + b"}", D8),
                           "not valid UTF-8"),
    "utf8-raw-outside": (raw(b'{"a":' + E.encode() + b"\xff}", D8),
                         "byte 0xff"),
    "escape-surrogate": (raw('{"\\ud800x":' + E + "}", D8),
                         "unpaired surrogate"),
    "escape-nul": (raw('{"a\\u0000":' + E + "}", D8), "NUL"),
    "escape-bad": (raw('{"a\\q":' + E + "}", D8), "bad escape"),
    "control-in-string": (raw('{"a\tb":' + E + "}", D8), "control byte"),
    "unterminated": (raw('{"a":' + E + ',"b', D8), "unterminated string"),
    "header-ends": (raw('{"a":' + E, D8), "header ends"),
    "trailing-comma": (raw('{"a":' + E + ",}", D8), "expected a string"),
    "missing-colon": (raw('{"a" ' + E + "}", D8), "expected ':'"),
    "trailing-garbage": (raw('{"a":' + E + "}x", D8),
                         "trailing characters"),
    "two-objects": (raw('{"a":' + E + "}{}", D8), "trailing characters"),
    "entry-not-object": (raw('{"a":5}'), "a tensor entry is an object"),
    "dtype-unknown": (raw('{"a":' + ent("F128") + "}", D8),
                      "unknown dtype 'F128'"),
    "dtype-lowercase": (raw('{"a":' + ent("f32") + "}", D8),
                        "unknown dtype 'f32'"),
    "dtype-c128": (raw('{"a":' + ent("C128", (1,), (0, 16)) + "}",
                       D8 + D8), "unknown dtype 'C128'"),
    "dtype-number": (raw('{"a":{"dtype":10,"shape":[2],'
                         '"data_offsets":[0,8]}}', D8),
                     "dtype is not a string"),
    "dtype-missing": (raw('{"a":{"shape":[2],"data_offsets":[0,8]}}', D8),
                      "tensor 'a' lacks a dtype"),
    "shape-missing": (raw('{"a":{"dtype":"F32","data_offsets":[0,8]}}', D8),
                      "tensor 'a' lacks a shape"),
    "offsets-missing": (raw('{"a":{"dtype":"F32","shape":[2]}}', D8),
                        "tensor 'a' lacks data_offsets"),
    "field-twice": (raw('{"a":{"dtype":"F32","dtype":"F32","shape":[2],'
                        '"data_offsets":[0,8]}}', D8),
                    "field 'dtype' appears twice"),
    "shape-not-array": (raw('{"a":' + E.replace("[2]", "2") + "}", D8),
                        "shape is an array"),
    "shape-negative": (raw('{"a":' + E.replace("[2]", "[-2]") + "}", D8),
                       "negative number"),
    "shape-fraction": (raw('{"a":' + E.replace("[2]", "[2.0]") + "}", D8),
                       "fraction or exponent"),
    "shape-leading-zero": (raw('{"a":' + E.replace("[2]", "[02]") + "}",
                               D8), "leading zero"),
    "shape-too-big": (raw('{"a":' + ent("U8", (18446744073709551616,),
                                        (0, 8)) + "}", D8),
                      "does not fit in 64 bits"),
    "shape-65-dims": (raw('{"a":' + ent("U8", (1,) * 65, (0, 1)) + "}",
                          b"x"), "more than 64 entries"),
    "shape-overflow": (raw('{"a":' + ent("F32", (1 << 32, 1 << 32),
                                         (0, 8)) + "}", D8), "overflows"),
    "f4-half-byte": (raw('{"a":' + ent("F4", (3,), (0, 2)) + "}", D8[:2]),
                     "do not fill whole bytes"),
    "extent-mismatch": (raw('{"a":' + ent("F32", (3,), (0, 8)) + "}", D8),
                        "hold 8 bytes, but its shape and F32 need 12"),
    "offsets-hole-start": (raw('{"a":' + ent(offs=(4, 12)) + "}",
                               D8 + D8[:4]), "leave a hole"),
    "offsets-hole": (raw('{"a":' + E + ',"b":' + ent(offs=(12, 20)) + "}",
                         D8 * 2 + D8[:4]), "leave a hole"),
    "offsets-overlap": (raw('{"a":' + E + ',"b":' + ent(offs=(4, 12)) + "}",
                            D8 + D8[:4]), "overlap"),
    "offsets-backwards": (raw('{"a":' + ent(offs=(8, 0)) + "}", D8),
                          "end before they begin"),
    "offsets-three": (raw('{"a":' + ent(offs=(0, 8, 8)) + "}", D8),
                      "data_offsets has 3 entries"),
    "offsets-one": (raw('{"a":' + ent(offs=(0,)) + "}", D8),
                    "data_offsets has 1 entries"),
    "data-trailing": (raw('{"a":' + E + "}", D8 + b"\0"),
                      "1 bytes after the last tensor"),
    "data-truncated": (raw('{"a":' + E + "}", D8[:5]),
                       "truncated: the header promises 8 bytes"),
    "name-twice": (raw('{"a":' + E + ',"a":' + ent(offs=(8, 16)) + "}",
                       D8 * 2), "tensor 'a' appears twice"),
    "meta-not-object": (raw('{"__metadata__":"x"}'),
                        "__metadata__ is an object"),
    "meta-number-value": (raw('{"__metadata__":{"k":1}}'),
                          "__metadata__ value is not a string"),
    "meta-object-value": (raw('{"__metadata__":{"k":{}}}'),
                          "__metadata__ value is not a string"),
    "meta-key-twice": (raw('{"__metadata__":{"k":"1","k":"2"}}'),
                       "__metadata__ key appears twice"),
    "meta-twice": (raw('{"__metadata__":{},"__metadata__":{}}'),
                   "__metadata__ appears twice"),
    "deep-nesting": (raw('{"a":{"x":' + "[" * 100 + "]" * 100 +
                         ',"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
                         D8), "nested deeper than"),
}

# Faults found only once the data is read: from a pipe, t2m-unpack has
# already written the manifest.
LATE = {"data-trailing", "data-truncated"}


def cuts(blob):
    """[(n, region)]: lengths to truncate a safetensors file to, and
    whether the cut falls in the 8-byte length ("len"), the JSON header
    ("header") or the data ("data"): inside the length, the first, middle
    and last byte of the header, and the start, first, middle and last
    byte of every tensor's data."""
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    base = 8 + n
    out = {1, 4, 7, 8, 9, 8 + n // 2, base - 1}
    for v in header.values():
        b, e = v["data_offsets"]
        out.add(base + b)
        if e > b:
            out |= {base + b + 1, base + (b + e) // 2, base + e - 1}
    return [(o, "len" if o < 9 else "header" if o < base else "data")
            for o in sorted(out) if 0 < o < len(blob)]


# ---- checks ----

def compare(src, out, want_meta):
    """Every tensor of src in out, bit for bit and value for value."""
    fails = []
    _, a, _ = st.read(src)
    meta, b, _ = st.read(out)
    if meta != want_meta:
        fails.append(f"metadata: expected {want_meta!r}, got {meta!r}")
    if set(a) != set(b):
        fails.append(f"names only in {src}: {sorted(set(a) - set(b))!r}; "
                     f"only in {out}: {sorted(set(b) - set(a))!r}")
    for name in sorted(set(a) & set(b)):
        (dt, shape, raw_a), (dt2, shape2, raw_b) = a[name], b[name]
        if (dt, shape) != (dt2, shape2):
            fails.append(f"{name!r}: {dt}{list(shape)} became "
                         f"{dt2}{list(shape2)}")
            continue
        if raw_a != raw_b:
            at = next(i for i in range(min(len(raw_a), len(raw_b)) + 1)
                      if i == min(len(raw_a), len(raw_b)) or
                      raw_a[i] != raw_b[i])
            fails.append(f"{name!r}: bytes differ from byte {at} "
                         f"({len(raw_a)} and {len(raw_b)} bytes)")
            continue
        # numpy has at most 32 dimensions; view deeper tensors flat.
        view = shape if len(shape) <= 32 else (-1,)
        va, vb = st.values(dt, view, raw_a), st.values(dt, view, raw_b)
        if dt in FLOATS:
            bits = FLOATS[dt]
            same = np.array_equal(va.view(bits), vb.view(bits)) and \
                np.array_equal(va, vb, equal_nan=True)
        else:
            same = np.array_equal(va, vb)
        if not same:
            fails.append(f"{name!r}: values differ")
    return fails


def canon(text):
    """JSON text with every string escape in one spelling, so two
    writers' choices (\\b or \\u0008, é or \\u00e9) compare equal."""
    def one(m):
        c = json.loads('"' + m.group(0) + '"')
        if c in '"\\':
            return "\\" + c
        if ord(c) < 0x20:
            return "\\u%04x" % ord(c)
        return c
    return re.sub(r'\\(?:["\\/bfnrt]|u[dD][89abAB][0-9a-fA-F]{2}'
                  r'\\u[0-9a-fA-F]{4}|u[0-9a-fA-F]{4})', one, text)


def layout(path):
    """t2m-pack's layout (stream-format.md): tensors by element size
    descending, then name bytewise; offsets contiguous from 0; compact
    JSON, __metadata__ first with sorted keys and a format ("pt" unless
    the stream was in MLX layout or said otherwise); padded with spaces
    to a multiple of 8."""
    fails = []
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    text = blob[8:8 + n].decode("utf-8")
    if n % 8:
        fails.append(f"header length {n} is not a multiple of 8")
    body = text.rstrip(" ")
    if len(text) - len(body) >= 8:
        fails.append(f"{len(text) - len(body)} bytes of padding")
    hdr = json.loads(body, object_pairs_hook=list)
    if not hdr or hdr[0][0] != "__metadata__":
        return fails + ["__metadata__ is not the first key"]
    meta = dict(hdr[0][1])
    if meta.get("format") is None:
        fails.append("__metadata__ has no format")
    keys = [k for k, _ in hdr[0][1]]
    if keys != sorted(keys, key=lambda k: k.encode()):
        fails.append(f"__metadata__ keys not sorted: {keys!r}")
    names = [k for k, _ in hdr[1:]]
    dtype = {k: dict(fields)["dtype"] for k, fields in hdr[1:]}
    want = sorted(names, key=lambda k: (-st.DTYPES[dtype[k]][1],
                                        k.encode()))
    if names != want:
        fails.append(f"tensor order {names!r}, expected {want!r}")
    at = 0
    for name, fields in hdr[1:]:
        f = dict(fields)
        if [k for k, _ in fields] != ["dtype", "shape", "data_offsets"]:
            fails.append(f"{name!r}: fields {[k for k, _ in fields]!r}")
        if f["data_offsets"][0] != at:
            fails.append(f"{name!r}: begins at {f['data_offsets'][0]}, "
                         f"expected {at}")
        at = f["data_offsets"][1]
    # Compact: the text is what a writer without white space would make.
    plain = json.loads(body)
    want_text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    if canon(body) != canon(want_text):
        fails.append(f"header is not compact JSON:\n  got  {body!r}\n"
                     f"  want {want_text!r}")
    if 8 + n + at != len(blob):
        fails.append(f"file is {len(blob)} bytes, header says "
                     f"{8 + n + at}")
    return fails


def write_st(path, tensors, metadata):
    st.write(path, tensors, metadata)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "corpus":
        t, m = corpus()
        write_variant(args[0], t, m, args[1][2:] if len(args) > 1
                      else "plain")
    elif cmd == "small":
        write_st(args[0], *small())
    elif cmd == "big":
        write_st(args[0], *big(int(args[1])))
    elif cmd == "many":
        write_st(args[0], *many(int(args[1])))
    elif cmd == "bad":
        with open(f"{args[0]}/LIST", "w") as lst:
            for name, (blob, what) in BAD.items():
                with open(f"{args[0]}/{name}", "wb") as f:
                    f.write(blob)
                lst.write(f"{name}\t{int(name in LATE)}\t{what}\n")
    elif cmd == "cuts":
        with open(args[0], "rb") as f:
            blob = f.read()
        with open(f"{args[1]}/LIST", "w") as lst:
            for n, region in cuts(blob):
                with open(f"{args[1]}/{n}", "wb") as f:
                    f.write(blob[:n])
                lst.write(f"{n}\t{region}\n")
    elif cmd in ("same", "layout"):
        fails = []
        if cmd == "same":
            for src, out in zip(args[0::2], args[1::2]):
                meta, _, _ = st.read(src)
                # Untransposed: the input's format, else PyTorch's.
                want = dict(meta or {})
                want.setdefault("format", "pt")
                fails += [f"{out}: {f}" for f in compare(src, out, want)]
        else:
            for path in args:
                fails += [f"{path}: {f}" for f in layout(path)]
        for f in fails:
            print(f"{cmd}: {f}")
        return 1 if fails else 0
    else:
        raise SystemExit(f"gen_st: unknown command {cmd}\n{__doc__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
