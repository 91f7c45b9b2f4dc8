#!/usr/bin/python3
"""expect.py - what t2m should make of a PyTorch fixture, and whether it did.

    expect.py list FIXTURE.json                  the expected tensors
    expect.py check FIXTURE.json OUT.safetensors compare t2m's output to torch.load
    expect.py run [-b BINDIR] [--stdin] FIXTURE.json ...
                                                 run t2m-unpack | t2m-pack, judge
    expect.py verify DIR                         every fixture in DIR is as its JSON says
    expect.py selftest DIR                       verify, then show that check catches
                                                 wrong outputs and passes right ones

A fixture is DIR/<name>.json beside the file it describes (see README and
scripts/gen-torch-fixtures.py).  Expected tensors come from torch.load (or
torch.jit.load) of the file, by t2m's naming rules:

  - an nn.Module or TorchScript module: its state_dict();
  - else the subtree under KEY when the options hold "-k KEY";
  - else a dict's 'state_dict' entry when it has one (Lightning);
  - else the whole object;
  then nested dicts, lists and tuples are flattened with '.' (dict keys
  as str(key), list items by index), a Module met inside is replaced by
  its state_dict(), values that are not tensors are skipped, and each
  tensor is taken .contiguous() in C order.  Quantized, sparse and meta
  tensors are errors naming the tensor, or are left out when the options
  hold "-s".  A dtype safetensors lacks (complex128) passes through the
  stream and t2m-pack refuses it; -s leaves it out at t2m-unpack too.

check exits 0 when OUT holds exactly the expected names, dtypes, shapes and
bytes, 1 on any mismatch (one line each, then a summary), 2 on bad usage or
a fixture that does not load as its JSON promises.
"""
import collections
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import warnings

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)                                   # models.py
sys.path.insert(0, os.path.join(HERE, "..", "lib"))        # st.py

import numpy as np  # noqa: E402
import torch  # noqa: E402

import st  # noqa: E402

ST_DTYPE = collections.OrderedDict([
    (torch.float64, "F64"), (torch.float32, "F32"), (torch.float16, "F16"),
    (torch.bfloat16, "BF16"), (torch.int64, "I64"), (torch.int32, "I32"),
    (torch.int16, "I16"), (torch.int8, "I8"), (torch.uint8, "U8"),
    (torch.bool, "BOOL"), (torch.complex64, "C64"),
])


class FixtureError(Exception):
    """The fixture itself is broken (exit 2), not t2m's output."""


class Unsupported(Exception):
    """A tensor t2m must refuse (unless told to skip it, when skippable)."""

    def __init__(self, name, kind, skippable=True):
        super().__init__(f"{name}: {kind} tensor not supported")
        self.name, self.kind, self.skippable = name, kind, skippable


def parse_options(options):
    """The t2m-unpack options that change what is expected: -k KEY selects
    a subtree, -s skips quantized, sparse and meta tensors; -c (ignore
    CRCs) and others do not change the tensors."""
    o = {"key": None, "skip": False, "ignore_crc": False}
    it = iter(options)
    for a in it:
        if a == "-k":
            o["key"] = next(it, None)
            if o["key"] is None:
                raise FixtureError("-k without a key in options")
        elif a == "-s":
            o["skip"] = True
        elif a == "-c":
            o["ignore_crc"] = True
    return o


def unsupported_kind(t):
    if t.is_meta:
        return "meta"
    if t.layout != torch.strided:
        return f"sparse ({str(t.layout).replace('torch.', '')})"
    if t.is_quantized:
        return f"quantized ({str(t.dtype).replace('torch.', '')})"
    return None


def select(obj, options):
    o = parse_options(options)
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if o["key"] is not None:
        if not isinstance(obj, dict) or o["key"] not in obj:
            raise FixtureError(f"no key {o['key']!r} at the top level")
        return obj[o["key"]]
    if isinstance(obj, dict) and "state_dict" in obj:
        return obj["state_dict"]
    return obj


def flatten(obj, options=()):
    """(OrderedDict name -> tensor as saved, [(name, kind) skipped]) for the
    object torch.load returned, by the rules in the module docstring."""
    skip = parse_options(options)["skip"]
    out, skipped = collections.OrderedDict(), []

    def walk(x, name):
        if isinstance(x, torch.Tensor):
            if name == "":
                raise FixtureError("a bare tensor has no name")
            if name in out:
                raise FixtureError(f"{name}: two tensors flatten to this name")
            kind = unsupported_kind(x)
            if kind is None and x.dtype not in ST_DTYPE:
                # The stream carries it, safetensors cannot: -s leaves it
                # out at t2m-unpack, otherwise t2m-pack refuses it.
                if skip:
                    skipped.append((name, str(x.dtype).replace("torch.", "")))
                    return
                raise Unsupported(name, str(x.dtype).replace("torch.", ""),
                                  skippable=False)
            if kind is None:
                out[name] = x.detach()
            elif skip:
                skipped.append((name, kind))
            else:
                raise Unsupported(name, kind)
        elif isinstance(x, torch.nn.Module):
            walk(x.state_dict(), name)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, f"{name}.{k}" if name else str(k))
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{name}.{i}" if name else str(i))

    walk(select(obj, options), "")
    return out, skipped


def raw_bytes(t):
    """The tensor's logical values, C order, little-endian."""
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    assert sys.byteorder == "little"
    return t.numpy().tobytes()


def table(tensors):
    """name -> (safetensors dtype, shape, bytes), the shape st.read gives."""
    return collections.OrderedDict(
        (k, (ST_DTYPE[t.dtype], tuple(t.shape), raw_bytes(t)))
        for k, t in tensors.items())


def digest(raw):
    return hashlib.sha256(raw).hexdigest()[:16]


def summary(tab):
    """The JSON form of a table: name -> [dtype, shape, sha256 prefix]."""
    return collections.OrderedDict(
        (k, [d, list(s), digest(b)]) for k, (d, s, b) in tab.items())


# ---- loading fixtures -------------------------------------------------------

def read_fixture(jsonpath):
    with open(jsonpath, encoding="utf-8") as f:
        fx = json.load(f)
    for k in ("file", "expect", "options"):
        if k not in fx:
            raise FixtureError(f"{jsonpath}: no '{k}'")
    fx["_dir"] = os.path.dirname(os.path.abspath(jsonpath))
    fx["_json"] = jsonpath
    return fx


def unwrap(fx):
    """The checkpoint's bytes, out of its zstd / tar wrapper if any."""
    path = os.path.join(fx["_dir"], fx["file"])
    wrapper = fx.get("wrapper")
    if wrapper in (None, ""):
        with open(path, "rb") as f:
            return f.read()
    if wrapper.endswith("zst"):
        data = subprocess.run(["zstd", "-dcq", path], check=True,
                              stdout=subprocess.PIPE).stdout
    else:
        with open(path, "rb") as f:
            data = f.read()
    if wrapper.startswith("tar"):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            files = [m for m in tar.getmembers() if m.isfile()]
            names = [m.name for m in files]
            if names != [fx.get("member")]:
                raise FixtureError(f"tar members {names}, expected "
                                   f"[{fx.get('member')!r}]")
            data = tar.extractfile(files[0]).read()
    return data


def load_object(fx):
    """torch.load (or torch.jit.load) of the fixture, from a real file
    since the 0.1.x tar format needs one."""
    data = unwrap(fx)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt")
        with open(path, "wb") as f:
            f.write(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fx.get("loader") == "torch.jit.load":
                return torch.jit.load(path, map_location="cpu")
            return torch.load(path, map_location="cpu")


def expected(fx):
    """(table of expected tensors, [(name, kind) skipped], originals) for an
    'ok' fixture; raises Unsupported for one that must fail on a tensor."""
    tensors, skipped = flatten(load_object(fx), fx["options"])
    tab = table(tensors)
    want = fx.get("tensors")
    got = json.loads(json.dumps(summary(tab)))
    if want is not None and got != want:
        diff = sorted(k for k in {**want, **got} if want.get(k) != got.get(k))
        raise FixtureError(f"{fx['file']}: torch.load gives other tensors "
                           f"than the generator saved: {diff[:5]}")
    return tab, skipped, tensors


# ---- comparing --------------------------------------------------------------

def show(name):
    return json.dumps(name, ensure_ascii=False)


def element(dtype, raw):
    """One element's value and its bytes (NaN payloads differ in bytes)."""
    raw = bytes(raw)
    if dtype == "BF16":
        v = np.frombuffer(b"\0\0" + raw, "<f4")[0]
    else:
        v = np.frombuffer(raw, st.DTYPES[dtype][0])[0]
    return f"{v} (0x{raw[::-1].hex()})"


def compare(want, got):
    """Mismatch lines between two tables (empty when identical)."""
    bad = []
    for k, (d, s, b) in want.items():
        if k not in got:
            bad.append(f"missing {show(k)} ({d} {list(s)})")
            continue
        gd, gs, gb = got[k]
        if gd != d:
            bad.append(f"{show(k)}: dtype {gd}, expected {d}")
        if gs != s:
            bad.append(f"{show(k)}: shape {list(gs)}, expected {list(s)}")
        if gd == d and gs == s and gb != b:
            size = st.DTYPES[d][1] // 8
            x = np.frombuffer(b, np.uint8).reshape(-1, size)
            y = np.frombuffer(gb, np.uint8).reshape(-1, size)
            diff = np.nonzero((x != y).any(axis=1))[0]
            i = int(diff[0])
            bad.append(f"{show(k)}: {len(diff)} of {len(x)} elements differ, "
                       f"first at flat index {i}: {element(d, y[i])}, "
                       f"expected {element(d, x[i])}")
    for k in got:
        if k not in want:
            d, s, _ = got[k]
            bad.append(f"unexpected {show(k)} ({d} {list(s)})")
    return bad


def check(jsonpath, outpath):
    """(mismatch lines, number of expected tensors)."""
    fx = read_fixture(jsonpath)
    if fx["expect"] != "ok":
        raise FixtureError(f"{jsonpath}: expects an error "
                           f"({fx.get('error_contains')!r}), not an output")
    want = expected(fx)[0]
    try:
        meta, got, _ = st.read(outpath)
        got = st.untie(meta, got)
    except OSError as e:
        return [f"{outpath}: {e.strerror}"], len(want)
    except Exception as e:      # noqa: BLE001 - any parse failure is a mismatch
        return [f"{outpath}: not valid safetensors: {type(e).__name__}: "
                f"{e}"], len(want)
    return compare(want, got), len(want)


# ---- running t2m ------------------------------------------------------------

def run_one(jsonpath, bindir, use_stdin):
    """Run t2m-unpack [options] FILE | t2m-pack OUT and judge it: an 'ok'
    fixture must give an OUT that check passes; an 'error' one must make
    the pipeline exit 1 with error_contains in a message and no OUT.
    Returns a list of problems (empty: as expected)."""
    fx = read_fixture(jsonpath)
    src = os.path.join(fx["_dir"], fx["file"])
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.safetensors")
        e1, e2 = (open(os.path.join(tmp, n), "w+b") for n in ("e1", "e2"))
        with e1, e2, open(src, "rb") as inp:
            unpack = [os.path.join(bindir, "t2m-unpack"), *fx["options"],
                      "-" if use_stdin else src]
            p1 = subprocess.Popen(unpack, stdout=subprocess.PIPE, stderr=e1,
                                  stdin=inp if use_stdin else subprocess.DEVNULL)
            p2 = subprocess.Popen([os.path.join(bindir, "t2m-pack"), out],
                                  stdin=p1.stdout, stderr=e2)
            p1.stdout.close()
            r2, r1 = p2.wait(), p1.wait()
            e1.seek(0)
            e2.seek(0)
            err1 = e1.read().decode(errors="replace")
            err2 = e2.read().decode(errors="replace")
        how = f"t2m-unpack exit {r1}, t2m-pack exit {r2}"
        if fx["expect"] == "error":
            bad = []
            # The pipeline must fail with a message saying what; which
            # filter says it is t2m's choice (complex128 may pass the
            # stream and be refused by t2m-pack).
            if r1 == 0 and r2 == 0:
                bad.append(f"{how}: the pipeline should fail")
            # t2m-unpack may be killed by SIGPIPE when t2m-pack refused
            # the stream and exited first (t2m.7), never otherwise.
            if 1 not in (r1, r2) or {r1, r2} - {0, 1} - (
                    {-signal.SIGPIPE} if r2 == 1 else set()):
                bad.append(f"{how}: failures should exit 1")
            if fx.get("error_contains", "") not in err1 + err2:
                bad.append(f"message lacks {fx.get('error_contains')!r}: "
                           f"{(err1 + err2).strip()!r}")
            if os.path.exists(out):
                bad.append("an output file was left behind")
            return bad
        if use_stdin and fx.get("stdin") == "may-refuse" and r1 == 1 \
                and err1.strip() and not os.path.exists(out):
            return []          # refusing a pipe with a message is allowed
        if r1 != 0 or r2 != 0 or not os.path.exists(out):
            return [f"{how}: {(err1 + err2).strip()!r}"]
        return check(jsonpath, out)[0]


# ---- verifying the corpus and the checker -----------------------------------

def fixtures(d):
    names = sorted(n for n in os.listdir(d) if n.endswith(".json"))
    if not names:
        raise FixtureError(f"{d}: no fixtures (*.json)")
    return [os.path.join(d, n) for n in names]


def verify(d, log=print, only=None):
    """Load every fixture in d (or those named in only) and check it
    against its JSON: 'ok' ones give the tensors the generator saved;
    tensor errors raise Unsupported naming what error_contains says;
    container errors (CRC) still load in torch, which never checks CRCs.
    Returns the number of problems."""
    problems = 0
    for j in only or fixtures(d):
        fx = read_fixture(j)
        try:
            if fx["expect"] == "ok":
                expected(fx)
            elif fx.get("error_source") == "tensor":
                try:
                    flatten(load_object(fx), fx["options"])
                    raise FixtureError("loads without the expected error")
                except Unsupported as e:
                    if fx["error_contains"] not in str(e):
                        raise FixtureError(f"error {e} lacks "
                                           f"{fx['error_contains']!r}")
            else:
                flatten(load_object(fx), fx["options"])
        except Exception as e:      # noqa: BLE001 - report every fixture
            problems += 1
            log(f"not ok {os.path.basename(j)}: {type(e).__name__}: {e}")
    return problems


SAME_SIZE = {"F32": "I32", "I32": "F32", "F16": "BF16", "BF16": "F16",
             "F64": "I64", "I64": "F64", "U8": "I8", "I8": "U8",
             "BOOL": "U8", "C64": "I64", "I16": "F16"}


def storage_order(t):
    """What a reader that ignores strides would write: numel elements of
    the storage from the view's offset on, or None if not possible."""
    n = t.numel()
    if t.is_contiguous() or n == 0:
        return None
    flat = torch.empty(0, dtype=t.dtype).set_(
        t.storage(), t.storage_offset(), (n,), (1,)) \
        if t.storage_offset() + n <= t.storage().size() else None
    return None if flat is None else raw_bytes(flat)


def mutants(tab, originals):
    """(label, table) pairs, each a wrong output check must reject."""
    names = list(tab)
    if not names:
        return
    first = names[0]
    full = next((k for k in names if tab[k][2]), None)
    if full is not None:
        d, s, b = tab[full]
        m = bytearray(b)
        m[len(m) // 2] ^= 0x01
        yield "one byte flipped", {**tab, full: (d, s, bytes(m))}
    t = collections.OrderedDict(tab)
    t[first[:-1] + chr(ord(first[-1]) ^ 1)] = t.pop(first)
    yield "one name changed", t
    t = collections.OrderedDict(tab)
    t.pop(names[-1])
    yield "one tensor missing", t
    yield "one tensor too many", {**tab, "zz.extra": ("F32", (1,), b"\0" * 4)}
    d, s, b = tab[first]
    yield "one dtype changed", {**tab, first: (SAME_SIZE[d], s, b)}
    n = int(np.prod(s)) if s else 1
    shape = (n,) if len(s) != 1 else (1, n)
    yield "one shape changed", {**tab, first: (d, shape, b)}
    for k, t0 in originals.items():
        raw = storage_order(t0)
        if raw is not None and raw != tab[k][2]:
            yield f"storage order instead of C order ({k})", \
                {**tab, k: (tab[k][0], tab[k][1], raw)}


def selftest(d, log=print):
    problems = verify(d, log)
    if problems:
        log(f"selftest: {problems} fixtures fail to verify")
        return 1
    passed = caught = missed = 0
    with tempfile.TemporaryDirectory(dir=d) as tmp:
        out = os.path.join(tmp, "out.safetensors")
        for j in fixtures(d):
            fx = read_fixture(j)
            if fx["expect"] != "ok":
                continue
            tab, _, originals = expected(fx)
            st.write(out, tab, metadata={"format": "pt"},
                     order=sorted(tab, reverse=True))
            bad = check(j, out)[0]
            if bad:
                missed += 1
                log(f"not ok {os.path.basename(j)}: correct output "
                    f"rejected: {bad[0]}")
            else:
                passed += 1
            for label, m in mutants(tab, originals):
                st.write(out, m)
                if check(j, out)[0]:
                    caught += 1
                else:
                    missed += 1
                    log(f"not ok {os.path.basename(j)}: {label} passed")
        # The command line: exit status and output lines, once each way.
        j = next(j for j in fixtures(d) if read_fixture(j)["expect"] == "ok")
        tab = expected(read_fixture(j))[0]
        st.write(out, tab)
        r = subprocess.run([sys.executable, __file__, "check", j, out],
                           stdout=subprocess.PIPE, text=True)
        if r.returncode != 0 or len(r.stdout.splitlines()) != 1:
            missed += 1
            log(f"not ok CLI on a correct output: exit {r.returncode} "
                f"{r.stdout!r}")
        k = next(iter(tab))
        st.write(out, {**tab, k + "_": tab[k]})
        r = subprocess.run([sys.executable, __file__, "check", j, out],
                           stdout=subprocess.PIPE, text=True)
        if r.returncode != 1 or "unexpected" not in r.stdout:
            missed += 1
            log(f"not ok CLI on a wrong output: exit {r.returncode} "
                f"{r.stdout!r}")
    log(f"selftest: {len(fixtures(d))} fixtures verified; {passed} correct "
        f"outputs passed; {caught} wrong outputs caught; {missed} failures")
    return 1 if missed else 0


# ---- command line -----------------------------------------------------------

def usage():
    sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
    sys.exit(2)


def main(argv):
    if len(argv) < 2:
        usage()
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "list" and len(args) == 1:
            fx = read_fixture(args[0])
            if fx["expect"] != "ok":
                print(f"error expected, message containing "
                      f"{fx.get('error_contains')!r}")
                return 0
            tab, skipped, _ = expected(fx)
            for k, (d, s, b) in tab.items():
                print(f"{show(k)}\t{d}\t{list(s)}\t{len(b)} bytes\t{digest(b)}")
            for k, kind in skipped:
                print(f"{show(k)}\tskipped: {kind}")
            return 0
        if cmd == "check" and len(args) == 2:
            bad, n = check(*args)
            for line in bad:
                print(line)
            name = os.path.basename(args[0])
            print(f"{name}: {len(bad)} mismatch{'es' * (len(bad) != 1)} "
                  f"({n} tensors expected)" if bad else
                  f"{name}: all {n} tensors match")
            return 1 if bad else 0
        if cmd == "run" and args:
            bindir, use_stdin, files = None, False, []
            it = iter(args)
            for a in it:
                if a == "-b":
                    bindir = next(it, None)
                elif a == "--stdin":
                    use_stdin = True
                else:
                    files.append(a)
            if bindir is None:
                bindir = os.path.join(HERE, "..", "..", "build", "bin")
            failed = 0
            for j in files:
                bad = run_one(j, bindir, use_stdin)
                name = os.path.basename(j)
                print(("not ok " if bad else "ok ") + name)
                for line in bad:
                    print("# " + line)
                failed += bool(bad)
            print(f"{len(files) - failed} passed, {failed} failed")
            return 1 if failed else 0
        if cmd == "verify" and len(args) == 1:
            n = verify(args[0])
            print(f"verify: {len(fixtures(args[0]))} fixtures, {n} problems")
            return 1 if n else 0
        if cmd == "selftest" and len(args) == 1:
            return selftest(args[0])
    except FixtureError as e:
        print(f"expect.py: broken fixture: {e}")
        return 2
    except Unsupported as e:
        print(f"expect.py: fixture has an unsupported tensor: {e}")
        return 2
    usage()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
