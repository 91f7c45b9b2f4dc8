# Every file of the corrupt safetensors corpus, through the pipeline:
# t2m-pack exits 1 and leaves no file, however far t2m-unpack got.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir bad w
$PYTHON -m gen_st bad bad || exit 3

while IFS='	' read -r name late what; do
	t2m-unpack bad/$name 2> /dev/null | t2m-pack w/out.st 2> /dev/null
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc"
	cat bad/$name | t2m-unpack 2> /dev/null | t2m-pack w/out.st 2> /dev/null
	rc=$?
	[ $rc -eq 1 ] || fail "$name from a pipe: exit status $rc"
	for f in w/* w/.[!.]*; do
		[ -e "$f" ] && fail "$name: left $f" && rm -f "$f"
	done
done < bad/LIST
exit $status
