"""export, analyze, convert and the decorator: serialize, run the filters.

Nothing here knows a layout rule.  A model goes out as a t2m stream (its
state dict) plus a type map (its named_modules() classes); t2m-analyze,
t2m-transpose and t2m-pack do the rest.
"""
import functools
import json
import os
import tempfile
import threading
import weakref

import torch

from . import _stream
from ._run import Pipeline

_INFO_FORMAT = "torch-module"
_INFO_SOURCE = "<python>"


class Report(dict):
    """The t2m-analyze report (t2m-analyze(1), schema 1): a dict whose
    keys are also attributes, at every level: report.coverage.layers is
    report["coverage"]["layers"].  A key that is also a dict method's
    name (none in schema 1) is reached with [] only."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return list(super().__dir__()) + [k for k in self if
                                          isinstance(k, str)]


def _load_report(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_hook=Report)


class Result:
    """What export() and convert() made.  .path is the safetensors file
    (os.fspath(result) gives it too), .report
    the t2m-analyze report of the model that went in, .coverage its
    coverage, .warnings the filters' warnings (also issued as
    ConversionWarning)."""

    def __init__(self, path, report, warnings):
        self.path, self.report, self.warnings = path, report, warnings

    @property
    def coverage(self):
        return self.report.coverage

    def __fspath__(self):
        return self.path

    def __repr__(self):
        c = self.report.get("coverage") or {}
        return (f"<torch2mlx.Result {self.path!r}: "
                f"{self.report.get('tensors', {}).get('count')} tensors, "
                f"coverage {c.get('layers')} of layers, "
                f"{c.get('parameters')} of parameters>")


def _qualname(cls):
    return cls.__module__ + "." + cls.__name__


def _only_child(model, name):
    kids = dict(model.named_children())
    return (list(kids) == [name] and
            next(model.named_parameters(recurse=False), None) is None and
            next(model.named_buffers(recurse=False), None) is None)


_DATA_PARALLEL = tuple(c for c in (
    getattr(torch.nn, "DataParallel", None),
    getattr(getattr(torch.nn, "parallel", None), "DistributedDataParallel",
            None)) if c is not None)


def unwrap(model):
    """The model inside the wrappers that only prefix its state dict's
    names: torch.compile's OptimizedModule ("_orig_mod.", an nn.Module
    whose one child is _orig_mod), DataParallel and
    DistributedDataParallel ("module."), nested in any order."""
    while True:
        if isinstance(model, _DATA_PARALLEL) and _only_child(model,
                                                             "module"):
            model = model.module
        elif _only_child(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def typemap(model):
    """{module path: class} for every module of model, as t2m-transpose
    -m takes it.  Every path a shared module is reached by is listed."""
    model = unwrap(model)
    try:
        mods = model.named_modules(remove_duplicate=False)
    except TypeError:               # torch before 1.10
        mods = model.named_modules()
    return {n: _qualname(type(m)) for n, m in mods}


def _plan(model, metadata):
    """The stream's manifest entries and how to write them."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    model = unwrap(model)
    entries = _stream.tensors(model.state_dict())
    info = {"format": _INFO_FORMAT, "source": _INFO_SOURCE,
            "class": _qualname(type(model))}
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}

    def feed(write):
        _stream.write(write, entries, info, meta)
    return model, feed


def _write_map(tmp, mapping):
    path = os.path.join(tmp, "map.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(mapping, f)
    return path


def _map_arg(tmp, given):
    """A type map given as a dict, an nn.Module or a file: its path."""
    if given is None:
        return []
    if isinstance(given, torch.nn.Module):
        given = typemap(given)
    if isinstance(given, dict):
        given = _write_map(tmp, given)
    return ["-m", os.path.abspath(os.fspath(given))]


def _export(model, path, metadata=None):
    out = os.fspath(path)
    model, feed = _plan(model, metadata)
    with tempfile.TemporaryDirectory(prefix="torch2mlx.") as tmp:
        m = _write_map(tmp, typemap(model))
        report = os.path.join(tmp, "report.json")
        warned = Pipeline([["t2m-analyze", "-m", m, "-p", report],
                           ["t2m-transpose", "-m", m],
                           ["t2m-pack", out]], tmp).run(feed)
        return Result(out, _load_report(report), warned)


def analyze(model, *, config=None):
    """The t2m-analyze report of model, an nn.Module (its state dict and
    type map, as export() sends them) or a checkpoint's path, as a
    Report: report.coverage, report["layers"], ...  config: a Hugging
    Face config.json (t2m-analyze -c) for a checkpoint."""
    with tempfile.TemporaryDirectory(prefix="torch2mlx.") as tmp:
        rpath = os.path.join(tmp, "report.json")
        cfg = ["-c", os.path.abspath(os.fspath(config))] if config else []
        with open(rpath, "wb") as rf:
            if isinstance(model, (str, os.PathLike)):
                Pipeline([["t2m-analyze", "-j"] + cfg + [os.fspath(model)]],
                         tmp, stdout=rf).run()
            else:
                model, feed = _plan(model, None)
                m = _write_map(tmp, typemap(model))
                Pipeline([["t2m-analyze", "-j", "-m", m] + cfg], tmp,
                         stdout=rf).run(feed)
        return _load_report(rpath)


def convert(src, dst, *, typemap=None, config=None, key=None):
    """Convert the checkpoint file src to the MLX safetensors file dst:
    t2m-unpack src | t2m-transpose | t2m-pack dst, with the report made
    on the way.  typemap: a dict, a JSON file or the nn.Module the state
    dict came from (-m); config: a Hugging Face config.json (-c); key:
    the part of the checkpoint to convert (t2m-unpack -k).  Returns a
    Result."""
    src, dst = os.fspath(src), os.fspath(dst)
    with tempfile.TemporaryDirectory(prefix="torch2mlx.") as tmp:
        types = _map_arg(tmp, typemap)
        cfg = ["-c", os.path.abspath(os.fspath(config))] if config else []
        report = os.path.join(tmp, "report.json")
        unpack = ["t2m-unpack"] + (["-k", key] if key else []) + [src]
        warned = Pipeline([unpack,
                           ["t2m-analyze"] + cfg + types + ["-p", report],
                           ["t2m-transpose"] + cfg + types,
                           ["t2m-pack", dst]], tmp).run()
        return Result(dst, _load_report(report), warned)


# ---- the decorator ----
#
# A decorated class's __init__, once it returns, puts the instance in
# _ARMED.  While _ARMED is not empty, one global forward hook
# (torch.nn.modules.module.register_module_forward_hook) is registered:
# after any module's forward() returns, it looks the module up in _ARMED,
# and for an armed one, removes it and converts it.  When nothing is
# armed the hook is removed.  Nothing is put on the instances: their
# hooks, state dict, pickles, deep copies and TorchScript are those of
# the undecorated class.

_LOCK = threading.RLock()
_ARMED = weakref.WeakSet()      # instances waiting for their first forward
_RESULTS = weakref.WeakKeyDictionary()  # the last Result of each instance
_HOOK = None                    # the global hook's handle while registered


def _tracing():
    """True while torch.jit.trace or torch.compile records a forward():
    a conversion there would be recorded with it."""
    if torch.jit.is_tracing():
        return True
    compiler = getattr(torch, "compiler", None)
    is_compiling = getattr(compiler, "is_compiling", None)
    return bool(is_compiling and is_compiling())


def _first_forward(module, inputs, output):
    if module not in _ARMED or _tracing():
        return None
    with _LOCK:
        if module not in _ARMED:
            if not _ARMED:
                _unhook()
            return None
        _ARMED.discard(module)
        if not _ARMED:
            _unhook()
    _convert_instance(module, None, None)
    return None         # the output is left as forward returned it


def _unhook():
    global _HOOK
    if _HOOK is not None:
        _HOOK.remove()
        _HOOK = None


def _arm(module):
    global _HOOK
    with _LOCK:
        _ARMED.add(module)
        if _HOOK is None:
            _HOOK = torch.nn.modules.module.register_module_forward_hook(
                _first_forward)


def _convert_instance(self, path, metadata):
    dpath, dmeta = type(self)._torch2mlx
    r = _export(self, dpath if path is None else path,
                dmeta if metadata is None else metadata)
    _RESULTS[self] = r
    return r


def _method_export(self, path=None, *, metadata=None):
    """Convert this model now, to path or the decorator's path, and
    cancel the conversion pending for its first forward().  Returns a
    Result, which .exported keeps."""
    with _LOCK:
        _ARMED.discard(self)
        if not _ARMED:
            _unhook()
    return _convert_instance(self, path, metadata)


def _exported(self):
    """The Result of this model's last conversion, None before it."""
    return _RESULTS.get(self)


_method_export._torch2mlx = True
_exported._torch2mlx = True
_MEMBERS = {"export": _method_export, "exported": property(_exported)}


def _ours(obj):
    return getattr(obj.fget if isinstance(obj, property) else obj,
                   "_torch2mlx", False)


def _decorate(cls, path, metadata):
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise TypeError("@torch2mlx.export(path) decorates an nn.Module "
                        f"class, not {cls!r}; to convert a model now: "
                        "torch2mlx.export(model, path)")
    for name in _MEMBERS:
        have = getattr(cls, name, None)
        if have is not None and not _ours(have):
            raise TypeError(f"{cls.__qualname__} already has {name!r}; "
                            "call torch2mlx.export(model, path) instead")
    cls._torch2mlx = (os.fspath(path), dict(metadata or {}))
    for name, member in _MEMBERS.items():
        setattr(cls, name, member)
    # torch.jit.script compiles properties; this one is Python's only.
    unused = list(getattr(cls, "__jit_unused_properties__", []))
    if "exported" not in unused:
        cls.__jit_unused_properties__ = unused + ["exported"]
    # Wrapped once: a class decorated twice, or inheriting a decorated
    # class's __init__, is armed by it already.
    init = cls.__init__
    if not getattr(init, "_torch2mlx", False):
        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            init(self, *args, **kwargs)
            _arm(self)
        __init__._torch2mlx = True
        cls.__init__ = __init__
    return cls


def export(model, path=None, *, metadata=None):
    """Convert a PyTorch model to an MLX safetensors file.

    export(model, path) converts model (an nn.Module; a torch.compile'd,
    DataParallel or DistributedDataParallel one is unwrapped) now, and
    returns a Result: .path, .report (the t2m-analyze report).

    @export(path) on an nn.Module class makes each instance convert
    itself to path after its first forward() returns, or when its
    export() method is called; see the README for exactly what is
    hooked.

    metadata: str -> str pairs written into the file's __metadata__.
    """
    if isinstance(model, torch.nn.Module):
        if path is None:
            raise TypeError("export(model, path): the output path is "
                            "missing")
        return _export(model, path, metadata)
    if isinstance(model, (str, os.PathLike)) and path is None:
        return lambda cls: _decorate(cls, model, metadata)
    if isinstance(model, type):
        raise TypeError("decorate a class with @torch2mlx.export(path): "
                        "the output path is missing")
    raise TypeError("export(model, path) or @export(path): got "
                    f"{type(model).__name__}")
