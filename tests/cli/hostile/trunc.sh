# Truncation: real checkpoints made with torch (a torch.save zip state
# dict, the legacy format, TorchScript, the zip compressed with zstd) cut
# at 50 offsets spread over the file and at, before and after every
# record boundary (local header, name, extra field, data, descriptor,
# central directory, end records).  From a file every cut fails with one
# line: a zip has lost its end record, the legacy file's stream of
# pickles and storages ends early, zstd's frame ends early.  From a pipe
# the same, with the message naming what was cut (the pickle, a header,
# a storage, a descriptor, a small record) - except a torch.save zip cut
# inside its central directory: a pipe reads the local records and only
# drains the directory, so it has everything and converts.  TorchScript
# from a pipe is refused once its first header is read.
# The expectations per cut: tests/lib/hostile.py, fam_trunc.
set -u
$PYTHON -m hostile trunc trunc > gen.log 2>&1 || { cat gen.log; exit 3; }
$PYTHON -m hostile check trunc
