# A failing t2m-pack leaves an existing target as it was (contents and
# mode) and no temporary beside it: faults found before the output is
# opened (bad manifest, a C128 tensor), and after (truncated data, a bad
# record, a bad end record).
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s || exit 3
mkdir bad
$PYTHON -m streamtool bad s bad || exit 3
head -c 500 s > bad/cut-in-data
echo 'old contents' > keep
chmod 640 keep
mkdir w

for name in mani-payload-flip cut-in-data data-offset ends-count-1 \
    after-end-byte; do
	cp -p keep w/out.st
	t2m-pack w/out.st < bad/$name 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc"
	cmp keep w/out.st || fail "$name: target changed"
	[ "$(ls -l w/out.st | cut -c1-10)" = "-rw-r-----" ] ||
	    fail "$name: mode changed"
	[ "$(ls -A w)" = out.st ] || fail "$name: left $(ls -A w)"
done
exit $status
