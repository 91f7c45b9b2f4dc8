# Memo bombs: [x, x] nested 60 deep through the memo (2^61 leaves from a
# 1 KB file) stops at the walker's visit cap with one line naming where,
# tensor leaf or not, listed or converted, inside an unknown object or
# not; under a 500 KB key, at the cap on the bytes of names built, within
# seconds; -k past it converts without looking.  LONG_BINPUT 0xFFFFFFFF is a
# valid id; GETs of ids never stored, a PUT id past 2^62 and PUTs on an
# empty stack fail; millions of memo entries (MEMOIZE in a FRAME, and
# 2^19 LONG_BINPUTs each read back) convert quickly, and so do 80000 ids
# chosen to collide in the memo's hash (within 2 s: linear, not
# quadratic).
# The cases and their expectations: tests/lib/hostile.py, fam_memo.
set -u
$PYTHON -m hostile memo memo || exit 3
$PYTHON -m hostile check memo
