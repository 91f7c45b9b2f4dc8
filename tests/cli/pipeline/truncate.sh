# A safetensors file cut short anywhere, through the whole pipeline:
# `t2m-unpack cut | t2m-pack out.st` (t2m-unpack finds the fault before
# writing) and `cat cut | t2m-unpack | t2m-pack out.st` (t2m-unpack has
# sent the manifest and some data when it finds it): t2m-pack exits 1 and
# leaves neither the output file nor a temporary.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p w
$PYTHON -m gen_st small in.st && $PYTHON -m gen_st cuts in.st p || exit 3

while IFS='	' read -r n region; do
	t2m-unpack p/$n 2> /dev/null | t2m-pack w/out.st 2> /dev/null
	rc=$?
	[ $rc -eq 1 ] || fail "$n: exit status $rc"
	cat p/$n | t2m-unpack 2> /dev/null | t2m-pack w/out.st 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$n from a pipe: exit status $rc"
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "t2m-pack: <stdin>: "*) true ;; *) false ;; esac ||
	    fail "$n from a pipe: stderr: $(cat err)"
	for f in w/* w/.[!.]*; do
		[ -e "$f" ] && fail "$n: left $f" && rm -f "$f"
	done
done < p/LIST
exit $status
