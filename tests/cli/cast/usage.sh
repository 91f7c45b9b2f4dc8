# Bad usage: exit 2, nothing on stdout, the usage line last on stderr
# (getopt's own words before it vary by libc), the input not read.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
usage="usage: t2m-cast [-i type] [-k pattern] [-t type] [-x pattern]"
printf '\002\000\000\000\000\000\000\000{}' > in.st
t2m-unpack in.st > s || exit 3

for args in "" "-k '*'" "-x a" "-y" "-t" "-i" "-t f16 -k" "-t f16 -x" \
    "-t f8 -t f16" "-t F64" "-t i32" "-t float16" "-t ''" "-t bf16x" \
    "-i f16" "-i bool" "-i ''" "-t f16 extra" "-t f16 -- -" \
    "-t f16 --output=x" "-t f16 -Z"; do
	eval "t2m-cast $args" < s > out 2> err
	rc=$?
	[ $rc -eq 2 ] || fail "t2m-cast $args: exit status $rc"
	[ -s out ] && fail "t2m-cast $args: wrote to stdout"
	last=$(tail -n 1 err)
	[ "$last" = "$usage" ] || fail "t2m-cast $args: stderr ends with '$last'"
done
# What is wrong with a value is said before the usage line.
t2m-cast -t f64 < s 2>&1 >/dev/null | head -1 | grep -qx \
    "t2m-cast: bad float type 'f64' (F16, BF16 or F32)" || fail "-t f64"
t2m-cast -i bool < s 2>&1 >/dev/null | head -1 | grep -qx \
    "t2m-cast: bad integer type 'bool' (I8, I16, I32, I64, U8, U16, U32 or U64)" ||
    fail "-i bool"
t2m-cast < s 2>&1 >/dev/null | head -1 | grep -qx \
    "t2m-cast: nothing to do: give -t, -i or both" || fail "no -t"
# Options in any order and case; every one at once.
t2m-cast -x a -t BF16 -k '*' -i u16 -k b < s > out || fail "good usage"
t2m-ls out > /dev/null || fail "good usage: output"
exit $status
