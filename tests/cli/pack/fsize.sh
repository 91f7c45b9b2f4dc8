# A file size limit (ulimit -f) stops the output part way: in the first
# data written, in the middle, and in the last, which t2m-pack makes only when the
# stream has ended (from a pipe it joins records into bigger writes).
# Each time: exit 1, one line naming the output, no file left.  With just
# enough room, the same file as without a limit.  The same again with a
# tie, whose bytes t2m-pack drops into /dev/null while the file's wait:
# the message still names the file.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st big in.st 5 || exit 3
$PYTHON - <<'PY' || exit 3
import gen_st, st
t, _ = gen_st.big(5)
st.write("tied.st", t, metadata={"t2m.tie.again": "big"})
PY
trap '' XFSZ
# ulimit -f counts blocks of 512 or 1024 bytes, as the shell has it.
unit=$( (ulimit -f 1; head -c 4096 /dev/zero > probe) 2> /dev/null
	wc -c < probe)
for f in in tied; do
	t2m-unpack -C 262144 $f.st > s || exit 3
	t2m-pack ref.st < s || exit 3
	size=$(wc -c < ref.st)
	rm -rf w
	mkdir w
	for room in $unit $((size / 2)) $((size - 1)); do
		(ulimit -f $((room / unit)); cat s | t2m-pack w/out.st) > out 2> err
		rc=$?
		[ $rc -eq 1 ] || fail "$f, $room bytes: exit status $rc"
		[ "$(cat err)" = "t2m-pack: w/out.st: write error: File too large" ] ||
		    fail "$f, $room bytes: stderr: $(cat err)"
		[ -z "$(ls -A w)" ] || fail "$f, $room bytes: left $(ls -A w)"
	done
	(ulimit -f $(((size + unit - 1) / unit)); cat s | t2m-pack w/out.st) ||
	    fail "$f, room for $size bytes: exit status $?"
	cmp ref.st w/out.st || fail "$f, room for $size bytes: output differs"
done
exit $status
