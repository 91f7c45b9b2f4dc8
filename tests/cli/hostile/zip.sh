# Zip structure: two directory records for one local entry, a local
# header hidden in another entry's data, data running into the central
# directory, duplicate names, names outside the prefix or without one,
# NUL in a name, encrypted and compressed records, a deflate bomb, a
# data.pkl over 1 GiB, record sizes disagreeing with the pickle, missing
# and unused records, storage keys longer than 50 bytes, a lying or
# damaged central directory, zip64 locator and end record, CRC-32s (0 or
# wrong, of a storage or of data.pkl; -c skips them), byteorder records.
# From a file the central directory is checked; a pipe reads the local
# headers and only drains the directory, so what only the directory says
# cannot matter there: those cases convert from a pipe.
# The cases and their expectations: tests/lib/hostile.py, fam_zip.
set -u
$PYTHON -m hostile zip zip || exit 3
$PYTHON -m hostile check zip
