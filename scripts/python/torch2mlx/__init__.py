"""torch2mlx - PyTorch models to MLX safetensors, from a PyTorch script.

    import torch2mlx
    r = torch2mlx.export(model, "weights.safetensors")   # now
    r.report.coverage                                    # what converted

    @torch2mlx.export("weights.safetensors")             # on first forward()
    class Net(torch.nn.Module): ...

    torch2mlx.analyze(model).coverage                    # report only
    torch2mlx.convert("model.pt", "model.safetensors")   # file to file

The conversion itself is done by t2m's C filters (t2m-analyze,
t2m-transpose, t2m-pack, t2m-unpack), found in $T2M_BIN, on $PATH or in
this package's bin/ directory; this package only hands the model over.
See README.md beside this package for the details.
"""
from ._api import (Report, Result, analyze, convert, export, typemap,
                   unwrap)
from ._run import (ConversionError, ConversionWarning, Error,
                   FilterNotFoundError, find)

__version__ = "0.1.0"
__all__ = ["export", "analyze", "convert", "unwrap", "typemap", "find",
           "Result", "Report", "Error", "ConversionError",
           "FilterNotFoundError", "ConversionWarning"]
