# Unknown options: exit 2, nothing on stdout, the usage line last on
# stderr (getopt's own words before it vary by libc).
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
# The usage line, as usage-operands.err spells it.
usage=$(cat "$T2M_TOP/tests/cli/ls/usage-operands.err")
for args in "-x" "-jx" "-C 1" "--json" "-- a b"; do
	t2m-ls $args < /dev/null > out 2> err
	rc=$?
	[ $rc -eq 2 ] || fail "t2m-ls $args: exit status $rc"
	[ -s out ] && fail "t2m-ls $args: wrote to stdout"
	last=$(tail -n 1 err)
	[ "$last" = "$usage" ] || fail "t2m-ls $args: stderr ends with '$last'"
done
exit $status
