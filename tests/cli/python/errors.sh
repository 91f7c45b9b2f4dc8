# Failures: a conversion C refuses (an LSTM with proj_size) raises
# ConversionError carrying t2m-transpose's message, from export(), from
# the decorated model's first forward() and from convert(); t2m-pack's
# own faults likewise; an existing output is left as it was and no
# temporary file remains.  What no stream can carry (quantized, meta,
# uninitialized tensors) is a TypeError before anything runs.  A failure
# in Python midway leaves no file.  A missing filter raises
# FilterNotFoundError saying which and how to install it.
PYTHONPATH=$T2M_TOP/scripts/python:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
exec "$PYTHON" - <<'EOF'
import os, subprocess, sys
import torch
from torch import nn
import torch2mlx
from torch2mlx import ConversionError, FilterNotFoundError

def fail(msg):
    sys.exit("FAIL: " + msg)

def expect(exc, f, *args, **kw):
    try:
        f(*args, **kw)
    except exc as e:
        return e
    fail(f"{f.__name__}{args} did not raise {exc.__name__}")

def clean():
    left = sorted(f for f in os.listdir(".") if f.startswith(".")
                  and f not in (".stdout", ".stderr"))   # tests/run's
    if left:
        fail(f"temporary files left: {left}")

MSG = ("t2m-transpose: <stdin>: module 'lstm' (torch.nn.modules.rnn.LSTM): "
       "proj_size has no MLX equivalent")

class Projected(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 8, proj_size=3)
    def forward(self, x):
        return self.lstm(x)[0]

with open("out.safetensors", "w") as f:
    f.write("old")
e = expect(ConversionError, torch2mlx.export, Projected(), "out.safetensors")
if str(e) != MSG or e.program != "t2m-transpose" or e.status != 1 or \
        MSG not in e.stderr or not isinstance(e, torch2mlx.Error):
    fail(f"export: {e!r} {e.program} {e.status} {e.stderr!r}")
if open("out.safetensors").read() != "old":
    fail("the existing output was changed")
clean()
print("ok export:", e)

torch.save(Projected(), "lstm.pt")
e = expect(ConversionError, torch2mlx.convert, "lstm.pt", "new.safetensors")
if str(e) != MSG or os.path.exists("new.safetensors"):
    fail(f"convert: {e!r}")
e = expect(ConversionError, torch2mlx.convert, "nope.pt", "new.safetensors")
if str(e) != "t2m-unpack: nope.pt: No such file or directory" or \
        e.program != "t2m-unpack":
    fail(f"convert of a missing file: {e!r}")
clean()
print("ok convert:", e)

Dec = torch2mlx.export("dec.safetensors")(Projected)
m = Dec()
x = torch.randn(5, 2, 4)
e = expect(ConversionError, m, x)
if str(e) != MSG or os.path.exists("dec.safetensors"):
    fail(f"decorator: {e!r}")
if not torch.equal(m(x), Projected.forward(m, x)):   # not tried again
    fail("decorator: the second forward failed")
print("ok decorator: the first forward raised", type(e).__name__)

os.mkdir("adir")
e = expect(ConversionError, torch2mlx.export, nn.Linear(2, 2), "adir")
if e.program != "t2m-pack" or not str(e).startswith("t2m-pack: "):
    fail(f"t2m-pack's fault: {e!r}")
print("ok", e)

# What no stream carries: refused before anything runs.
class Holds(nn.Module):
    def __init__(self, t):
        super().__init__()
        self.register_buffer("t", t)
for what, t, says in (
        ("quantized", torch.quantize_per_tensor(torch.randn(3), 0.1, 0,
                                                torch.qint8),
         "'t' is a quantized tensor"),
        ("meta", torch.empty(3, device="meta"), "'t' is a meta tensor"),
        ("sparse", torch.eye(3).to_sparse(), "'t' is a torch.sparse_coo")):
    e = expect(TypeError, torch2mlx.export, Holds(t), "bad.safetensors")
    if says not in str(e) or os.path.exists("bad.safetensors"):
        fail(f"{what}: {e}")
e = expect(TypeError, torch2mlx.export, nn.LazyLinear(3), "bad.safetensors")
if "not initialized yet" not in str(e):
    fail(f"lazy: {e}")
print("ok refused in Python:", e)

# A failure in Python after the stream has begun: the stream has no end
# record, so no file appears, and Python's exception is the one raised.
from torch2mlx import _stream
real, calls = _stream._memory, []
def broken(t):
    calls.append(t)
    if len(calls) == 2:
        raise KeyboardInterrupt
    return real(t)
_stream._memory = broken
expect(KeyboardInterrupt, torch2mlx.export, nn.Linear(4, 4),
       "half.safetensors")
_stream._memory = real
if os.path.exists("half.safetensors") or len(calls) != 2:
    fail("a stream cut short left a file")
clean()
print("ok a stream cut short in Python leaves nothing")

# Missing filters: on no PATH, no $T2M_BIN, nowhere.
build = os.path.join(os.environ["T2M_BUILD"], "bin")
bare = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                       if os.path.abspath(d) != os.path.abspath(build))
os.environ["PATH"] = bare
os.environ.pop("T2M_BIN", None)
for f, args, prog in ((torch2mlx.export, (nn.Linear(2, 2), "x.safetensors"),
                       "t2m-analyze"),
                      (torch2mlx.analyze, (nn.Linear(2, 2),), "t2m-analyze"),
                      (torch2mlx.convert, ("lstm.pt", "x.safetensors"),
                       "t2m-unpack")):
    e = expect(FilterNotFoundError, f, *args)
    if e.program != prog or not str(e).startswith(f"{prog} not found") or \
            "T2M_BIN" not in str(e) or "make install" not in str(e):
        fail(f"missing filter: {e}")
print("ok missing:", e)
os.environ["T2M_BIN"] = build
torch2mlx.export(nn.Linear(2, 2), "x.safetensors")
if torch2mlx.find("t2m-pack") != os.path.join(build, "t2m-pack"):
    fail(f"find: {torch2mlx.find('t2m-pack')}")
print("ok found in $T2M_BIN")
EOF
