# Input and output faults: empty input and a damaged corpus (exit 1, one
# line, nothing written), a full device (exit 1, naming <stdout>), a
# reader that goes away (SIGPIPE, quietly), a terminal refused.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mkdir bad
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool bad s bad || exit 3

t2m-rename < /dev/null > out 2> err
[ $? -eq 1 ] || fail "empty: exit status"
[ -s out ] && fail "empty: wrote to stdout"
[ "$(cat err)" = "t2m-rename: <stdin>: empty input: not a t2m stream" ] ||
    fail "empty: stderr: $(cat err)"

while IFS='	' read -r name where what; do
	t2m-rename -p a < bad/$name > out 2> err
	rc=$?
	[ $rc -eq 1 ] || fail "$name: exit status $rc"
	case $where in -) want="t2m-rename: <stdin>: " ;;
	*) want="t2m-rename: <stdin>: $where: " ;; esac
	{ IFS= read -r line && ! IFS= read -r more && [ -z "$more" ]; } < err &&
	    case $line in "$want"*"$what"*) true ;; *) false ;; esac ||
	    fail "$name: stderr: $(cat err) (expected '$want...$what...')"
	t2m-ls out > /dev/null 2>&1 && fail "$name: the output has an end record"
done < bad/LIST

t2m-rename -p a < s > /dev/full 2> err
[ $? -eq 1 ] || fail "/dev/full: exit status"
grep -qx 't2m-rename: <stdout>: .*No space left on device' err ||
    fail "/dev/full: stderr: $(cat err)"

# 20,000 tensors: more than a pipe holds before the end record.
$PYTHON -m gen_st many many.st 20000 && t2m-unpack many.st > many || exit 3
{ t2m-rename -s =x < many 2> err1; echo $? > rc1; } | head -c 100 > head1
( trap '' PIPE
  { t2m-rename -s =x < many 2> err2; echo $? > rc2; } | head -c 100 > head2 )
for k in 1 2; do
	rc=$(cat rc$k)
	case $rc in 141|1) ;; *) fail "SIGPIPE run $k: exit status $rc" ;; esac
	[ -s err$k ] && fail "SIGPIPE run $k: stderr: $(cat err$k)"
done

if command -v script > /dev/null 2>&1; then
	script -qec 't2m-rename < s; echo "rc=$?"' /dev/null > tty.txt 2>&1
	grep -q 'rc=1' tty.txt && grep -q '^t2m-rename: <stdout>: ' tty.txt ||
	    fail "terminal: $(cat tty.txt)"
fi
exit $status
