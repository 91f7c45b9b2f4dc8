# Pickle structure: unknown opcodes, protocol 6, STOP with 0 or 2
# objects or an open MARK, SETITEM(S) on a list or tuple, APPEND(S) on a
# dict or str, BUILD on an int or None, REDUCE and NEWOBJ with arguments
# that are no tuple, _rebuild_tensor_v2 of a str or of nothing,
# persistent ids that are no tuple or of an unknown kind, an unknown
# storage type (torch.EvilStorage), storage keys of the wrong type or
# holding NUL, one storage key with two dtypes or sizes, stack and MARK
# underflows, OrderedDict of a list of ints, text opcodes with bad
# text, a pickle longer or shorter than its record, and names no state
# dict can give.  One line each, naming data.pkl and the offset.
# The cases and their expectations: tests/lib/hostile.py, fam_pickle.
set -u
$PYTHON -m hostile pickle pickle || exit 3
$PYTHON -m hostile check pickle
