# Deep nesting: 100000 lists appended into each other, 60000 nested
# tuples and 1000 nested dicts stop at the walker's depth cap (1000) with
# one line; 999 dicts convert; -k counts from what it selects; 100000
# MARKs and a 2^20+1 deep stack stop at the unpickler's caps; 100000
# nested _rebuild_from_type_v2 calls and 100000-deep JSON in a
# safetensors header fail with one line.  Nothing deep is freed, walked
# or called by recursion (ASan would catch the overflow), and cycles
# hold nothing new.
# The cases and their expectations: tests/lib/hostile.py, fam_nesting.
set -u
$PYTHON -m hostile nesting nesting || exit 3
$PYTHON -m hostile check nesting
