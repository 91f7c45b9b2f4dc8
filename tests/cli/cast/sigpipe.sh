# When the reader of its output goes away, t2m-cast dies by SIGPIPE
# without a word, also when the shell ignores SIGPIPE.  20,000 float16
# tensors cast to float32 make more than any pipe holds.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st many in.st 20000 || exit 3
t2m-unpack in.st > s || exit 3

{ t2m-cast -t f32 < s 2> err1; echo $? > rc1; } | head -c 100 > head1
( trap '' PIPE
  { t2m-cast -t f32 < s 2> err2; echo $? > rc2; } | head -c 100 > head2 )
for k in 1 2; do
	rc=$(cat rc$k)
	case $rc in 141|1) ;; *) fail "run $k: exit status $rc" ;; esac
	[ -s err$k ] && fail "run $k: stderr: $(cat err$k)"
	[ "$(wc -c < head$k)" -eq 100 ] || fail "run $k: head read $(wc -c < head$k)"
done
exit $status
