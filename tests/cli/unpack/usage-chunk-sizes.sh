# -C takes 1 to 1G, in bytes or with a binary unit; anything else is a
# usage error (exit 2, the value quoted, the usage line, no output).
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
# The usage line, as usage-operands.err spells it.
usage=$(cat "$T2M_TOP/tests/cli/unpack/usage-operands.err")

for c in 0 00 '' abc -1 +1 ' 1' '1 ' 1X 1.5K 1KK 2G 1025M 1073741825 \
    1T 18446744073709551616 99999999999999999999999 0x10; do
	t2m-unpack -C "$c" /dev/null > out 2> err
	rc=$?
	[ $rc -eq 2 ] || fail "-C '$c': exit status $rc"
	[ -s out ] && fail "-C '$c': wrote to stdout"
	printf "t2m-unpack: bad record size '%s' (1 to 1G)\n%s\n" "$c" "$usage" |
	    cmp -s - err || fail "-C '$c': stderr: $(cat err)"
done

printf '\002\000\000\000\000\000\000\000{}' > in.st
for c in 1 1k 1K 1KiB 1KB 1M 1m 1MiB 1G 1GiB 1073741824 1024M; do
	t2m-unpack -C "$c" in.st > out 2> err
	rc=$?
	[ $rc -eq 0 ] || fail "-C '$c': exit status $rc: $(cat err)"
	[ -s err ] && fail "-C '$c': stderr: $(cat err)"
	t2m-pack out.st < out || fail "-C '$c': t2m-pack failed"
done
exit $status
