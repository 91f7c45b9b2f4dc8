# Bad invocations exit 2 with the usage line (after a word on what was
# wrong, where there is one), read nothing and write nothing; --version.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
usage='usage: t2m-rename [-u] [-d pattern] [-k pattern] [-p prefix] [-s old=new]'
printf 'not read' > in
bad() {	# bad OPTIONS...
	t2m-rename "$@" < in > out 2> err
	rc=$?
	[ $rc -eq 2 ] || fail "$*: exit status $rc"
	[ -s out ] && fail "$*: wrote to stdout"
	[ "$(tail -1 err)" = "$usage" ] || fail "$*: stderr: $(cat err)"
	[ "$(wc -l < err)" -le 2 ] || fail "$*: stderr: $(cat err)"
}
bad -x
bad extra
bad -u extra
bad -d
bad -k
bad -s
bad -s foo
bad -p ''
bad -p .
bad --version extra
bad -s "$(printf 'a=\377')"
t2m-rename -s foo < in 2>&1 >/dev/null | head -1 |
    grep -qx "t2m-rename: -s foo: expected old=new" || fail "-s foo: message"
[ "$(t2m-rename --version)" = "t2m-rename 0.1.0" ] || fail "--version"
t2m-rename --version > /dev/full 2> /dev/null
[ $? -eq 1 ] || fail "--version > /dev/full"
exit $status
