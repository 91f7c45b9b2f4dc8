# Unknown options: exit 2, nothing on stdout, the usage line last on
# stderr (getopt's own words before it vary by libc), no file written.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
# The usage line, as usage-operands.err spells it.
usage=$(cat "$T2M_TOP/tests/cli/pack/usage-operands.err")
printf '\002\000\000\000\000\000\000\000{}' > in.st
t2m-unpack in.st > s || exit 3
mkdir w

for args in "-x" "-x out.st" "-o out.st" "--output=out.st" "-C 1 out.st"; do
	(cd w && t2m-pack $args < ../s > ../out 2> ../err)
	rc=$?
	[ $rc -eq 2 ] || fail "t2m-pack $args: exit status $rc"
	[ -s out ] && fail "t2m-pack $args: wrote to stdout"
	last=$(tail -n 1 err)
	[ "$last" = "$usage" ] || fail "t2m-pack $args: stderr ends with '$last'"
	[ -z "$(ls -A w)" ] || fail "t2m-pack $args: wrote $(ls -A w)"
done
exit $status
