# scripts/t2m-shards: bad invocations exit 2 with the usage line and write
# nothing; an outdir that is not new or empty, or an input that is not a
# sharded checkpoint, exit 1 with one message and write nothing.
shards=$T2M_TOP/scripts/t2m-shards
bad=0
status() {
	want=$1
	shift
	"$shards" "$@" > out.txt
	s=$?
	[ $s -eq "$want" ] || { echo "exit $s: $*" >&2; bad=1; }
	[ ! -s out.txt ] || { echo "output: $*" >&2; bad=1; }
}
status 2
status 2 one
status 2 a b c
status 2 -Z a b
status 2 -j 0 a b
status 2 -j x a b
status 2 -j
"$PYTHON" "$T2M_TOP/tests/cli/shards/fixture.py" --only st || exit 3
mkdir full
: > full/x
: > file
status 1 st full
status 1 st file
status 1 nope out
status 1 full.safetensors out
mkdir none
status 1 none out
[ ! -e out ] || bad=1
[ -z "$(ls -A | grep '^\.out\.')" ] || { echo "temporary left" >&2; bad=1; }
exit $bad
