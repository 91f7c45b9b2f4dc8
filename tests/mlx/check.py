"""check.py MODEL... - prove t2m's MLX layout in real MLX.

For each reference model of t2mref.py (all of them when none is named),
in a directory of its own under the current one:

 1. save it three ways: its state dict with a type map (map.json, from
    named_modules()), the whole model (torch.save(model)), and
    TorchScript (torch.jit.script or trace, then torch.jit.save);
 2. convert each with  t2m-unpack F | t2m-transpose [-m map.json] |
    t2m-pack out-SOURCE.safetensors  (no warning allowed: every class is
    known), and check the three files are byte for byte the same;
 3. check the file against the conversion the rules describe, computed
    here from the state dict with torch and numpy (names, shapes, dtypes,
    values; the dropped tensors among the hidden ones in __metadata__);
 4. load it into the MLX mirror (t2mmirror.py) with
    load_weights(path, strict=True), check the dtypes, and compare the
    mirror's output with PyTorch's on the same random inputs: max abs
    difference <= 1e-5 (float32), <= 1e-2 (float16, bfloat16);
 5. convert it back,  t2m-unpack out | t2m-transpose -r | t2m-pack back,
    and check back holds exactly the state dict's tensors, bit for bit;
 6. convert the converted file again: nothing may change.

It prints one line per model - "ok NAME: ..." with the max difference, or
"FAIL NAME: what, expected, actual" - and exits 1 if any failed.  MLX
missing is a failure, never a skip.
"""
import base64
import copy
import json
import os
import subprocess
import sys
import time
import warnings

try:
    import mlx.core as mx
except ImportError as e:
    sys.exit(f"check.py: MLX is missing ({e}) in {sys.executable}: run "
             "scripts/install-deps, which makes the .venv the MLX tests use")

import numpy as np
import torch
from mlx.utils import tree_flatten

import st
import t2mmirror
import t2mref

# torch.jit.script's notes on nn.TransformerEncoder's constants: noise
warnings.filterwarnings("ignore", category=UserWarning, module="torch.jit")

# safetensors dtype of each torch dtype the models use
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16",
            torch.bfloat16: "BF16", torch.float64: "F64",
            torch.int64: "I64"}
# what t2m makes of it: MLX has no float64
MLX_ST = {"F64": "F32"}
MX_DTYPE = {"F32": mx.float32, "F16": mx.float16, "BF16": mx.bfloat16}
# max |MLX - PyTorch| allowed, by the parameters' dtype
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-5,
             torch.float16: 1e-2, torch.bfloat16: 1e-2}


class Fail(Exception):
    pass


def raw(t):
    """A tensor's bytes as torch holds them (little-endian)."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def pipeline(out, *stages):
    """Run stages (argv lists) as a pipe into t2m-pack OUT; returns the
    standard error of all, raises Fail if any stage failed."""
    procs, prev = [], None
    argvs = list(stages) + [["t2m-pack", out]]
    for k, argv in enumerate(argvs):
        err = open(f"{out}.err{k}", "w+")
        p = subprocess.Popen(argv, stdin=prev, stderr=err,
                             stdout=subprocess.PIPE if k < len(argvs) - 1
                             else subprocess.DEVNULL)
        if prev is not None:
            prev.close()
        prev = p.stdout
        procs.append((argv, p, err))
    text, bad = "", []
    for argv, p, err in procs:
        status = p.wait()
        err.seek(0)
        msg = err.read()
        err.close()
        text += msg
        if status != 0:
            bad.append(f"{' '.join(argv)} exited {status}: {msg.strip()}")
    if bad:
        raise Fail("; ".join(bad))
    return text


def convert(src, out, typemap=None):
    tr = ["t2m-transpose"] + (["-m", typemap] if typemap else [])
    return pipeline(out, ["t2m-unpack", src], tr)


# ---- what the rules say the output is (independent of t2m's code) ----

def owner(name):
    """(module path, parameter name), as named_parameters() splits it;
    a parametrization's tensors belong to the parametrized module."""
    if ".parametrizations." in name:
        path, rest = name.split(".parametrizations.", 1)
        return path, "parametrizations." + rest
    if name.startswith("parametrizations."):
        return "", name
    path, _, p = name.rpartition(".")
    return path, p


def short(cls):
    s = cls.rpartition(".")[2]
    return s[len("Parametrized"):] if s.startswith("Parametrized") else s


def join(path, name):
    return f"{path}.{name}" if path else name


def ties_of(sd, out):
    """{name: the name it is tied to} for the tensors t2m-pack writes
    once: a later name for the storage, offset, strides, shape and dtype
    of an earlier one, both passing the rules unchanged (the same object
    in out) and not float64 (which becomes float32)."""
    first, ties = {}, {}
    for n, t in sd.items():
        if t.numel() == 0:
            continue
        f = first.setdefault((t.storage().data_ptr(), t.storage_offset(),
                              tuple(t.stride()), tuple(t.shape), t.dtype), n)
        if f != n and t.dtype != torch.float64 and out.get(n) is t and \
                out.get(f) is sd[f]:
            ties[n] = f
    return ties


def expected(sd, types):
    """What the rules make of the state dict, given the module types:
    the MLX tensors {name: torch tensor}, the names of the hidden ones,
    the names of those computed in floating point (a sum, a fold), which
    may differ from t2m's by rounding, and the ties (ties_of), which are
    not among the tensors."""
    out, hidden, tol = {}, set(), {}
    by = {}
    for name, t in sd.items():
        path, p = owner(name)
        by.setdefault(path, {})[p] = t
    for path, ps in by.items():
        cls = short(types.get(path, ""))
        ps = dict(ps)

        def put(n, t, approx=False):
            out[join(path, n)] = t
            if approx:
                tol[join(path, n)] = True

        def hide(*ns):
            for n in ns:
                hidden.add(join(path, n))
                del ps[n]

        for g, v in (("weight_g", "weight_v"),
                     ("parametrizations.weight.original0",
                      "parametrizations.weight.original1")):
            if g in ps:
                gt, vt = ps[g].double(), ps[v].double()
                keep = [d for d in range(gt.dim()) if gt.shape[d] != 1]
                if gt.dim() == 0:
                    w = gt * vt / vt.norm()
                else:
                    dim = keep[0] if keep else 0
                    w = torch._weight_norm(vt, gt, dim)
                ps["weight"] = w.to(ps[v].dtype)
                tol[join(path, "weight")] = True
                hide(g, v)
        if cls in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
                   "SyncBatchNorm"):
            hide("num_batches_tracked")
        if cls.startswith("InstanceNorm"):
            hide(*[n for n in ("running_mean", "running_var",
                               "num_batches_tracked") if n in ps])
        if cls == "MultiheadAttention":
            for n, part in (("in_proj_weight", "weight"),
                            ("in_proj_bias", "bias")):
                if n in ps:
                    for k, what in enumerate(ps.pop(n).chunk(3)):
                        put(f"{('query', 'key', 'value')[k]}_proj.{part}",
                            what)
            for k, n in enumerate(("q_proj_weight", "k_proj_weight",
                                   "v_proj_weight")):
                if n in ps:
                    put(f"{('query', 'key', 'value')[k]}_proj.weight",
                        ps.pop(n))
        if cls in ("RNN", "LSTM", "GRU"):
            for n in [n for n in ps if n.startswith("weight_ih_l")]:
                sfx = n[len("weight_ih_l"):]
                k = sfx.replace("_reverse", "")
                pre = k + ("_reverse" if sfx.endswith("_reverse") else "")
                wx, wh = ("Wxh", "Whh") if cls == "RNN" else ("Wx", "Wh")
                put(f"{pre}.{wx}", ps.pop(n))
                put(f"{pre}.{wh}", ps.pop("weight_hh_l" + sfx))
                bi, bh = "bias_ih_l" + sfx, "bias_hh_l" + sfx
                if bi in ps:
                    a, b = ps[bi].double(), ps[bh].double()
                    dt = ps[bi].dtype
                    if cls == "GRU":
                        H = a.shape[0] // 3
                        put(f"{pre}.b", torch.cat(
                            [a[:2 * H] + b[:2 * H], a[2 * H:]]).to(dt), True)
                        put(f"{pre}.bhn", ps[bh][2 * H:])
                    else:
                        put(f"{pre}.bias", (a + b).to(dt), True)
                    hide(bi, bh)
        for n, t in ps.items():
            if n == "weight" and cls in ("Conv1d", "Conv2d", "Conv3d"):
                t = t.movedim(1, -1)
            elif n == "weight" and cls.startswith("ConvTranspose"):
                t = t.movedim(0, -1)
            elif n == "weight" and cls == "Bilinear":
                t = t.transpose(1, 2)
            put(n, t, join(path, n) in tol)
    ties = ties_of(sd, out)
    for n in ties:
        del out[n]
    for n, t in out.items():
        if t.dtype == torch.float64:
            out[n] = t.float()
    return out, hidden, tol, ties


def check_conversion(path, sd, types):
    """The file against what the rules say, tensor by tensor."""
    meta, got, _ = st.read(path)
    want, hidden, approx, ties = expected(sd, types)
    have = {k[8:]: v for k, v in (meta or {}).items()
            if k.startswith("t2m.tie.")}
    if have != ties:
        raise Fail(f"{path}: ties in __metadata__: expected {ties}, got "
                   f"{have}")
    if set(got) != set(want):
        raise Fail(f"{path}: tensor names differ from the rules': "
                   f"missing {sorted(set(want) - set(got))}, "
                   f"unexpected {sorted(set(got) - set(want))}")
    for n, t in want.items():
        dt, shape, data = got[n]
        if (dt, shape) != (ST_DTYPE[t.dtype], tuple(t.shape)):
            raise Fail(f"{path}: {n}: expected {ST_DTYPE[t.dtype]} "
                       f"{list(t.shape)}, got {dt} {list(shape)}")
        if n not in approx:
            if data != raw(t):
                raise Fail(f"{path}: {n}: bytes differ from the rules' "
                           "(a permute, split or rename gone wrong)")
            continue
        a = st.values(dt, shape, data)
        if dt == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        a = a.astype(np.float64)
        b = t.double().numpy()
        eps = {"F32": 2.0 ** -23, "F16": 2.0 ** -10, "BF16": 2.0 ** -7}[dt]
        worst = np.max(np.abs(a - b) - eps * np.abs(b), initial=0.0)
        if worst > 1e-30:
            raise Fail(f"{path}: {n}: values off by up to "
                       f"{np.max(np.abs(a - b)):.3g} from the rules' "
                       f"(bias sum or weight-norm fold)")
    have = {k[len("t2m.hidden."):] for k in (meta or {})
            if k.startswith("t2m.hidden.")}
    if have != hidden:
        raise Fail(f"{path}: hidden tensors in __metadata__: expected "
                   f"{sorted(hidden)}, got {sorted(have)}")
    if (meta or {}).get("t2m.layout") != "mlx":
        raise Fail(f"{path}: no t2m.layout=mlx in __metadata__")


# ---- the model in MLX ----

def mlx_run(name, path, inputs, want_dtype):
    make, forward = t2mmirror.MIRRORS[name]
    model = make()
    model.load_weights(path, strict=True)
    model.eval()
    params = tree_flatten(model.parameters())
    wrong = [f"{k} {v.dtype}" for k, v in params if v.dtype != want_dtype]
    if wrong:
        raise Fail(f"{path}: loaded parameters are not {want_dtype}: "
                   + ", ".join(wrong[:5]))
    xs = []
    for x in inputs:
        if x.is_floating_point():
            x = x.float()
        xs.append(x.numpy())
    out = forward(model, xs, want_dtype)
    return out


def mlx_dtype(dtype):
    return MX_DTYPE[MLX_ST.get(ST_DTYPE[dtype], ST_DTYPE[dtype])]


def mlx_diff(name, path, inputs, want_dtype, ref, what):
    y = mlx_run(name, path, inputs, want_dtype)
    if y.shape != ref.shape:
        raise Fail(f"{what}: MLX output shape {y.shape}, PyTorch's "
                   f"{ref.shape}")
    return float(np.max(np.abs(y - ref)))


def torch_ref(model, inputs, dtype):
    """PyTorch's output, computed on a copy (a module in training mode
    may update its buffers).  Half-precision models run in float32 on the
    same (exactly widened) weights and inputs: torch 1.13 has no float16
    convolution on CPU, and that is the value MLX's half arithmetic
    approximates."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        if dtype in (torch.float16, torch.bfloat16):
            model = model.float()
            inputs = [x.float() if x.is_floating_point() else x
                      for x in inputs]
        y = model(*inputs)
    return y.double().numpy()


# ---- one model ----

def save(name, spec, model, inputs, d):
    sd = model.state_dict()
    srcs = {}
    torch.save(sd, f"{d}/state_dict.pt")
    types = {n: type(m).__module__ + "." + type(m).__name__
             for n, m in model.named_modules()}
    with open(f"{d}/map.json", "w") as f:
        json.dump(types, f, indent=1)
    srcs["state dict + map"] = (f"{d}/state_dict.pt", f"{d}/map.json")
    if spec["full"]:
        torch.save(model, f"{d}/full.pt")
        srcs["full model"] = (f"{d}/full.pt", None)
    if spec["ts"]:
        if spec["ts"] == "script":
            ts = torch.jit.script(model)
        elif spec["dtype"] in (torch.float16, torch.bfloat16):
            # torch 1.13 cannot run every half-precision layer on CPU
            # (ConvTranspose1d): trace a float32 copy, then cast it.
            ts = torch.jit.trace(copy.deepcopy(model).float(), [
                x.float() if x.is_floating_point() else x for x in inputs])
            ts = ts.to(spec["dtype"])
        else:
            ts = torch.jit.trace(model, inputs)
        torch.jit.save(ts, f"{d}/script.pt")
        srcs["TorchScript"] = (f"{d}/script.pt", None)
    return sd, types, srcs


def check_back(path, sd):
    """back.safetensors holds the state dict, bit for bit (float64: as
    its float32 values widened, which t2m-transpose(1) documents), the
    ties put back from __metadata__."""
    meta, got, _ = st.read(path)
    got = st.untie(meta, got)
    if set(got) != set(sd):
        raise Fail(f"{path}: names differ from the state dict's: missing "
                   f"{sorted(set(sd) - set(got))}, unexpected "
                   f"{sorted(set(got) - set(sd))}")
    for n, t in sd.items():
        want = t.float().double() if t.dtype == torch.float64 else t
        dt, shape, data = got[n]
        if (dt, shape) != (ST_DTYPE[t.dtype], tuple(t.shape)):
            raise Fail(f"{path}: {n}: expected {ST_DTYPE[t.dtype]} "
                       f"{list(t.shape)}, got {dt} {list(shape)}")
        if data != raw(want):
            raise Fail(f"{path}: {n}: bytes differ from the state dict's")


def check_model(name):
    """Every check on one model; all problems are gathered, then raised
    together, so one run tells everything that is wrong."""
    spec = t2mref.MODELS[name]
    d = name
    os.makedirs(d, exist_ok=True)
    model = spec["build"]()
    inputs = spec["inputs"]()
    dtype = spec["dtype"]
    sd, types, srcs = save(name, spec, model, inputs, d)
    problems = []

    def attempt(what, f, *args):
        try:
            return f(*args)
        except Fail as e:
            problems.append(f"{what}: {e}")
        except Exception as e:      # MLX refusing the weights, and such
            problems.append(f"{what}: {type(e).__name__}: {e}")
        return None

    outs = {}
    for k, (src, tmap) in srcs.items():
        out = f"{d}/out-{len(outs)}.safetensors"
        err = attempt(k, convert, src, out, tmap)
        if err is None:
            continue
        if err:
            problems.append(f"{k}: t2m-transpose warned: {err.strip()}")
        outs[k] = out
    if not outs:
        raise Fail("; ".join(problems))
    blobs = {k: open(p, "rb").read() for k, p in outs.items()}
    first = next(iter(outs))
    same = all(blobs[k] == blobs[first] for k in outs)
    for k in outs:
        if blobs[k] != blobs[first]:
            m1, t1, _ = st.read(outs[first])
            m2, t2, _ = st.read(outs[k])
            what = ("tensors differ" if t1 != t2 else
                    "same tensors, but __metadata__ differs" if m1 != m2
                    else "same tensors and metadata, another layout")
            problems.append(f"{k} converts differently from {first}: "
                            f"{what}")
    for k in ([first] if same else outs):
        attempt(k, check_conversion, outs[k], sd, types)

    want_dtype = mlx_dtype(dtype)
    ref = torch_ref(model, inputs, dtype)
    tol = TOLERANCE[dtype]
    diffs = {}
    for k, out in outs.items():
        diffs[k] = attempt(f"{k} in MLX", mlx_diff, name, out, inputs,
                           want_dtype, ref, k)
        if diffs[k] is not None and not diffs[k] <= tol:
            problems.append(f"{k} in MLX: max |MLX - PyTorch| = "
                            f"{diffs[k]:.3g} > {tol:g}")

    for k, out in outs.items():
        back = f"{out}.back.safetensors"
        if attempt(f"{k} reversed", pipeline, back, ["t2m-unpack", out],
                   ["t2m-transpose", "-r"]) is not None:
            attempt(f"{k} reversed", check_back, back, sd)
        again = f"{out}.again.safetensors"
        if attempt(f"{k} converted twice", pipeline, again,
                   ["t2m-unpack", out], ["t2m-transpose"]) is not None and \
                open(again, "rb").read() != blobs[k]:
            problems.append(f"{k}: converting the converted file changed it")
    if problems:
        raise Fail("; ".join(problems))
    diff = max(diffs.values())
    return (f"{len(outs)} sources byte-identical; "
            f"max |MLX - PyTorch| = {diff:.2e} (<= {tol:g}, "
            f"{str(want_dtype).split('.')[-1]}); reverse bit-identical"
            + (" (float64 as its float32 values)"
               if dtype == torch.float64 else ""))


# ---- the checker checks itself ----

def _swap(a, b):
    def f(t, meta, sd):
        t[a], t[b] = t[b], t[a]
    return f


def _drop(n):
    def f(t, meta, sd):
        del t[n]
    return f


def _values(n, fn):
    """Tensor n's values through fn (numpy in, numpy out)."""
    def f(t, meta, sd):
        dt, shape, data = t[n]
        v = st.values(dt, shape, data)
        v = np.ascontiguousarray(fn(v.copy()).astype(v.dtype))
        t[n] = (dt, v.shape, v.tobytes())
    return f


def _hidden_value(n):
    """Tensor n as t2m keeps it hidden in __metadata__."""
    def get(meta):
        h = json.loads(meta[f"t2m.hidden.{n}"])
        return np.frombuffer(base64.b64decode(h["data"]),
                             st.DTYPES[h["dtype"]][0])
    return get


def _no_sum(n, hidden_ih):
    """A merged bias replaced by bias_ih alone: the sum forgotten."""
    def f(t, meta, sd):
        dt, shape, _ = t[n]
        t[n] = (dt, shape, _hidden_value(hidden_ih)(meta).tobytes())
    return f


def _torch_perm(n, fn):
    """Tensor n made from the state dict's by fn, not t2m's way."""
    def f(t, meta, sd):
        w = fn(sd[n]).contiguous()
        t[n] = (ST_DTYPE[w.dtype], tuple(w.shape), raw(w))
    return f


def _unhide(n):
    def f(t, meta, sd):
        del meta[f"t2m.hidden.{n}"]
    return f


def _untied(n):
    """Tie n written whole, with its bytes, as if not tied."""
    def f(t, meta, sd):
        t[n] = t[meta.pop("t2m.tie." + n)]
    return f


def _as_dtype(dt, npdt):
    def f(t, meta, sd):
        for n, (d, shape, data) in list(t.items()):
            v = st.values(d, shape, data).astype(npdt)
            t[n] = (dt, shape, v.tobytes())
    return f


# (model, what is wrong, the mutation, which checks must catch it)
MUTANTS = [
    ("convt2d", "ConvTranspose2d weight laid out as a Conv2d's",
     _torch_perm("up1.weight", lambda w: w.movedim(1, -1)),
     {"rules", "mlx"}),
    ("cnn", "Conv2d weight with its kernel axes swapped (kH <-> kW)",
     _values("features.0.weight", lambda w: w.transpose(0, 2, 1, 3)),
     {"rules", "mlx"}),
    ("gru", "GRU b = bias_ih alone (bias_hh not added)",
     _no_sum("gru.0.b", "gru.bias_ih_l0"), {"rules", "mlx"}),
    ("lstm", "LSTM bias = bias_ih alone (bias_hh not added)",
     _no_sum("lstm.1.bias", "lstm.bias_ih_l1"), {"rules", "mlx"}),
    ("mha", "attention query_proj and key_proj swapped",
     _swap("attn.query_proj.weight", "attn.key_proj.weight"),
     {"rules", "mlx"}),
    ("birnn", "bidirectional LSTM directions swapped",
     _swap("lstm.0.Wx", "lstm.0_reverse.Wx"), {"rules", "mlx"}),
    ("weightnorm", "weight norm folded with g = 1 (weight = v / |v|)",
     _values("conv.weight",
             lambda w: w / np.sqrt((w.astype(np.float64) ** 2)
                                   .sum(axis=(1, 2), keepdims=True))),
     {"rules", "mlx"}),
    ("rnn", "a converted tensor missing",
     _drop("rnn.1.Whh"), {"rules", "mlx"}),
    ("bilinear", "Bilinear weight not permuted",
     _values("plain.weight", lambda w: w.transpose(0, 2, 1).reshape(
         w.shape)), {"rules", "mlx"}),
    ("resnet", "num_batches_tracked lost instead of hidden",
     _unhide("stem.1.num_batches_tracked"), {"rules", "back"}),
    ("cnn-f16", "float16 weights stored as float32",
     _as_dtype("F32", np.float32), {"rules", "mlx"}),
    ("tied-lm", "tied output layer written whole",
     _untied("head.weight"), {"rules", "mlx"}),
]


def selftest():
    """Each mutant is a converted file with one thing made wrong; every
    check said to catch it must, and the unmutated file rewritten the
    same way must pass them all (so the rewriting is not what is caught).
    """
    failed = 0
    built = {}
    for name, what, mutate, catchers in MUTANTS:
        spec = t2mref.MODELS[name]
        d = f"selftest-{name}"
        if name not in built:
            os.makedirs(d, exist_ok=True)
            model = spec["build"]()
            inputs = spec["inputs"]()
            sd, types, srcs = save(name, spec, model, inputs, d)
            src, tmap = srcs["state dict + map"]
            convert(src, f"{d}/good.safetensors", tmap)
            ref = torch_ref(model, inputs, spec["dtype"])
            built[name] = (sd, types, inputs, ref)
        sd, types, inputs, ref = built[name]
        results = {}
        for label, fn in (("control", lambda t, m, sd: None),
                          ("mutant", mutate)):
            meta, t, _ = st.read(f"{d}/good.safetensors")
            meta = dict(meta)
            fn(t, meta, sd)
            path = f"{d}/{label}-{len(results)}.safetensors"
            st.write(path, t, meta)
            caught = set()
            try:
                check_conversion(path, sd, types)
            except Fail:
                caught.add("rules")
            try:
                tol = TOLERANCE[spec["dtype"]]
                if not mlx_diff(name, path, inputs, mlx_dtype(spec["dtype"]),
                                ref, label) <= tol:
                    caught.add("mlx")
            except Exception:
                caught.add("mlx")
            try:
                pipeline(path + ".back", ["t2m-unpack", path],
                         ["t2m-transpose", "-r"])
                check_back(path + ".back", sd)
            except Exception:
                caught.add("back")
            results[label] = caught
        if results["control"]:
            failed += 1
            print(f"FAIL selftest {name}: the unmutated file fails "
                  f"{sorted(results['control'])}")
        elif not catchers <= results["mutant"]:
            failed += 1
            print(f"FAIL selftest {name}: {what}: not caught by "
                  f"{sorted(catchers - results['mutant'])}")
        else:
            print(f"ok selftest {name}: {what}: caught by "
                  f"{', '.join(sorted(results['mutant']))}")
    return 1 if failed else 0


def main(argv):
    mx.set_default_device(mx.cpu)
    if argv == ["--selftest"]:
        return selftest()
    names = argv or list(t2mref.MODELS)
    unknown = [n for n in names if n not in t2mref.MODELS]
    if unknown:
        sys.exit(f"check.py: unknown models: {' '.join(unknown)}")
    failed = 0
    for name in names:
        t0 = time.time()
        try:
            msg = check_model(name)
            print(f"ok {name}: {msg} [{time.time() - t0:.1f} s]")
        except Fail as e:
            failed += 1
            print(f"FAIL {name}: {e}")
        except Exception as e:      # MLX refusing the weights, and such
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
