# Views past their storage, in zip and legacy files: an offset at and
# past the end, a stride pushing the last element out, offsets and
# strides that overflow, negative values, a view of a 0-element storage,
# an untyped storage read through _rebuild_tensor_v3, legacy storage
# views outside their root and tensors outside their view.  Each fails
# with one line giving the view and the storage; the views that just fit
# convert to exactly the right bytes.
# The cases and their expectations: tests/lib/hostile.py, fam_views.
set -u
$PYTHON -m hostile views views || exit 3
$PYTHON -m hostile check views
