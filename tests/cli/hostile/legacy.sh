# The legacy format (torch.save with _use_new_zipfile_serialization=
# False): a wrong magic number, protocol versions other than 1001, a key
# list naming unknown keys, keys listed twice or missing, a key list that
# is no list, element-count headers disagreeing with the pickle (2^63
# too), storages cut short in their header or bytes, bytes after the last
# storage, 5-field persistent ids, a 2^62-element storage the object
# agrees with (nothing allocated for it before its bytes are there);
# 20000 storages within 2 s; a big-endian file converts swapped.  The
# same from a file and a pipe.
# The cases and their expectations: tests/lib/hostile.py, fam_legacy.
set -u
$PYTHON -m hostile legacy legacy || exit 3
$PYTHON -m hostile check legacy
