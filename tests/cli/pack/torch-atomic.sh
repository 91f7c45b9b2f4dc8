# PyTorch output appears whole or not at all.  A stream cut short at
# every record boundary and inside every record: exit 1, one line naming
# where the stream broke off, and an existing out.pt left as it was with
# no temporary beside it.  A full device: the write error.  SIGTERM
# while waiting for data: the temporary removed, death by the signal.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir p w
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool cuts s p || exit 3
echo old > w/out.pt

while IFS='	' read -r n where; do
	t2m-pack w/out.pt < p/$n > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$n: exit status $rc"
	[ -s out ] && fail "$n: wrote to stdout"
	case $where in -) want="t2m-pack: <stdin>: " ;; *) want="t2m-pack: <stdin>: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*) true ;; *) false ;; esac ||
	    fail "$n: stderr: $(cat err) (expected '$want...')"
	[ "$(cat w/out.pt)" = old ] || fail "$n: out.pt changed"
	[ "$(ls -A w)" = out.pt ] || fail "$n: left $(ls -A w)"
done < p/LIST
[ "$(wc -l < p/LIST)" -gt 80 ] || fail "only $(wc -l < p/LIST) cuts"

t2m-pack -f torch /dev/full < s > out 2> err
[ $? -eq 1 ] || fail "/dev/full: exit status"
[ "$(cat err)" = "t2m-pack: /dev/full: write error: No space left on device" ] ||
    fail "/dev/full: $(cat err)"

$PYTHON -m streamtool stall s head || exit 3
dfl='import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])'
mkdir sig
mkfifo fifo
$PYTHON -c "$dfl" t2m-pack sig/out.pt < fifo 2> err &
pid=$!
exec 3> fifo
cat head >&3
i=0
while [ -z "$(ls -A sig)" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
case $(ls -A sig) in
.out.pt.??????) ;;
*) fail "SIGTERM: expected one temporary, found '$(ls -A sig)'" ;;
esac
kill -TERM $pid
wait $pid
rc=$?
exec 3>&-
[ $rc -eq 143 ] || fail "SIGTERM: exit status $rc"
[ -z "$(ls -A sig)" ] || fail "SIGTERM: left $(ls -A sig)"
[ -s err ] && fail "SIGTERM: stderr: $(cat err)"

# And the whole stream, over the old file.
t2m-pack w/out.pt < s || fail "whole stream: exit status $?"
t2m-unpack w/out.pt | t2m-pack got.st && t2m-pack want.st < s &&
    $PYTHON -c 'import st; assert st.read("want.st")[1] == st.read("got.st")[1]' ||
    fail "whole stream: other tensors"
exit $status
