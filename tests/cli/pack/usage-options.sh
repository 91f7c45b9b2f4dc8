# Bad option values and combinations: a message saying what, the usage
# line, exit 2; nothing read, nothing written.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
usage=$(cat "$T2M_TOP/tests/cli/pack/usage-operands.err")
printf '\002\000\000\000\000\000\000\000{}' > in.st
t2m-unpack in.st > s || exit 3
mkdir w
while IFS='|' read -r args msg; do
	(cd w && t2m-pack $args < ../s > ../out 2> ../err)
	rc=$?
	[ $rc -eq 2 ] || fail "t2m-pack $args: exit status $rc"
	[ -s out ] && fail "t2m-pack $args: wrote to stdout"
	printf '%s\n%s\n' "$msg" "$usage" | cmp -s - err ||
	    fail "t2m-pack $args: stderr: $(cat err)"
	[ -z "$(ls -A w)" ] || fail "t2m-pack $args: wrote $(ls -A w)"
done <<'CASES'
-f pt out.pt|t2m-pack: bad format 'pt' (safetensors or torch)
-f Torch out.pt|t2m-pack: bad format 'Torch' (safetensors or torch)
-f  out.pt|t2m-pack: bad format 'out.pt' (safetensors or torch)
-s 0 out|t2m-pack: bad shard size '0'
-s 1X out|t2m-pack: bad shard size '1X'
-s -1 out|t2m-pack: bad shard size '-1'
-s 99999999999T out|t2m-pack: bad shard size '99999999999T'
-s 1M -f torch out|t2m-pack: sharded output (-s) is safetensors only
-f torch -s 5G out.pt|t2m-pack: sharded output (-s) is safetensors only
CASES
exit $status
