# man/help - every program's -h and --help: its usage line (the page's
# SYNOPSIS), one line for each option the SYNOPSIS names and for no
# other, examples that its page shows and runs, and a pointer to the
# page; on the standard output, exit 0.  --version says the version.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

bs=$(printf '\b')	# mandoc -Tascii overstrikes bold text
version=$(sed -n 's/^#define T2M_VERSION "\(.*\)"/\1/p' "$T2M_TOP/lib/t2m.h")
[ -n "$version" ] || fail "no T2M_VERSION in lib/t2m.h"
for page in "$T2M_TOP"/man/*.1; do
	name=${page##*/}
	prog=${name%.1}
	synopsis=$(mandoc -Tascii -Owidth=200 "$page" |
	    sed "s/.$bs//g" | sed -n '/^SYNOPSIS/{n;s/^ *//;p;}')

	"$prog" -h > h.out 2> h.err
	rc=$?
	[ $rc -eq 0 ] && [ ! -s h.err ] ||
	    { fail "$prog -h: exit $rc, stderr: $(cat h.err)"; continue; }
	"$prog" --help > help.out 2>&1 || fail "$prog --help: exit $?"
	cmp -s h.out help.out || fail "$prog --help differs from -h"
	# -h wins over anything else on the line.
	"$prog" -h no-such-file > h2.out 2>&1 || fail "$prog -h file: exit $?"
	cmp -s h.out h2.out || fail "$prog -h file: not the help"

	[ "$(sed -n 1p h.out)" = "usage: $synopsis" ] ||
	    fail "$prog -h: first line '$(sed -n 1p h.out)', SYNOPSIS '$synopsis'"
	[ "$(tail -n 1 h.out)" = "See $prog(1)." ] ||
	    fail "$prog -h: last line '$(tail -n 1 h.out)'"

	# The option letters: of the SYNOPSIS, and of the help's lines
	# "  -x ..." (besides -h).
	want=$(printf '%s\n' "$synopsis" | grep -o '\[-[A-Za-z]*[] ]' |
	    sed 's/^\[-//; s/[] ]$//' | fold -w 1 | sort | tr -d '\n')
	got=$(sed -n 's/^  -\([A-Za-z]\)[ ,].*/\1/p' h.out | grep -v '^h$' |
	    sort | tr -d '\n')
	[ -n "$want" ] && [ "$want" = "$got" ] ||
	    fail "$prog -h: options '$got', SYNOPSIS '$want'"
	grep -q '^  -h, --help ' h.out || fail "$prog -h: no -h, --help line"
	grep -q '^  --version ' h.out || fail "$prog -h: no --version line"

	# Each example is a command of the page's EXAMPLES, which
	# man/examples runs.
	n=0
	sed -n '/^examples:$/,/^$/{/^  /s/^  //p;}' h.out > examples
	while IFS= read -r cmd; do
		n=$((n + 1))
		grep -qxF "\$ $cmd" "$page" ||
		    fail "$prog -h: example not in $name: $cmd"
	done < examples
	[ $n -ge 1 ] || fail "$prog -h: no examples"

	long=$(awk 'length > 80 && !/^usage: /' h.out)
	[ -z "$long" ] || fail "$prog -h: a line over 80 columns: $long"

	[ "$("$prog" --version 2>&1)" = "$prog $version" ] ||
	    fail "$prog --version: '$("$prog" --version 2>&1)'"
done
exit $status
