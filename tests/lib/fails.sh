# fails.sh - sourced by the shard tests.  `fails COMMAND...` runs the
# command with its standard output in out.t2m and sets bad=1, saying why
# on standard error, unless it exits 1 and writes nothing: a refused
# input gets one message and no stream.
fails() {
	"$@" > out.t2m
	s=$?
	[ $s -eq 1 ] || { echo "exit $s: $*" >&2; bad=1; }
	[ ! -s out.t2m ] || { echo "output: $*" >&2; bad=1; }
}
