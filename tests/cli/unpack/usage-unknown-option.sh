# An unknown option, or -C without its value: exit 2, nothing on stdout,
# the usage line last on stderr (getopt's own words before it vary by
# libc).
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
# The usage line, as usage-operands.err spells it.
usage=$(cat "$T2M_TOP/tests/cli/unpack/usage-operands.err")

for args in "-x" "-x in.st" "-C" "-Cx1" "--chunk=1" "-- a b"; do
	t2m-unpack $args < /dev/null > out 2> err
	rc=$?
	[ $rc -eq 2 ] || fail "t2m-unpack $args: exit status $rc"
	[ -s out ] && fail "t2m-unpack $args: wrote to stdout"
	last=$(tail -n 1 err)
	[ "$last" = "$usage" ] || fail "t2m-unpack $args: stderr ends with '$last'"
done
exit $status
