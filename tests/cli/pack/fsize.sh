# A file size limit (ulimit -f) stops the output part way: in the first
# data written, in the middle, and in the last, which t2m-pack makes only when the
# stream has ended (from a pipe it joins records into bigger writes).
# Each time: exit 1, one line naming the output, no file left.  With just
# enough room, the same file as without a limit.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st big in.st 5 || exit 3
t2m-unpack -C 262144 in.st > s || exit 3
t2m-pack ref.st < s || exit 3
size=$(wc -c < ref.st)
trap '' XFSZ
# ulimit -f counts blocks of 512 or 1024 bytes, as the shell has it.
unit=$( (ulimit -f 1; head -c 4096 /dev/zero > probe) 2> /dev/null
	wc -c < probe)
mkdir w
for room in $unit $((size / 2)) $((size - 1)); do
	(ulimit -f $((room / unit)); cat s | t2m-pack w/out.st) > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$room bytes: exit status $rc"
	[ "$(cat err)" = "t2m-pack: w/out.st: write error: File too large" ] ||
	    fail "$room bytes: stderr: $(cat err)"
	[ -z "$(ls -A w)" ] || fail "$room bytes: left $(ls -A w)"
done
(ulimit -f $(((size + unit - 1) / unit)); cat s | t2m-pack w/out.st) ||
    fail "room for $size bytes: exit status $?"
cmp ref.st w/out.st || fail "room for $size bytes: output differs"
exit $status
