# Record sizes: with -C 1, -C 7, -C 1K, -C 1023 t2m-unpack cuts each
# tensor into records of exactly SIZE bytes but the last, offsets
# contiguous from 0; t2m-pack makes the same file from all of them as
# from the default size.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

$PYTHON -m gen_st corpus in.st || exit 1
t2m-unpack in.st | t2m-pack default.st || fail "default: exit status $?"
$PYTHON -m gen_st same in.st default.st || fail "default: tensors differ"
for c in 1 7 1K 1023; do
	case $c in 1K) n=1024 ;; *) n=$c ;; esac
	t2m-unpack -C $c in.st > s-$c || fail "-C $c: exit status $?"
	t2m-pack out-$c.st < s-$c || fail "-C $c: t2m-pack exit status $?"
	cmp default.st out-$c.st || fail "-C $c: output differs"
	# streamtool records: N AT TAG INDEX OFFSET LENGTH
	$PYTHON -m streamtool records s-$c | awk -v n=$n '
	    $3 != "DATA" { next }
	    $4 != idx { idx = $4; at = 0; short = 0 }
	    $5 != at { print "record " $1 ": at byte " $5 ", not " at; bad = 1 }
	    short { print "record " $1 ": follows a short record"; bad = 1 }
	    $6 < 1 || $6 > n { print "record " $1 ": " $6 " bytes"; bad = 1 }
	    $6 < n { short = 1 }
	    { at += $6 }
	    END { exit bad }' || fail "-C $c: record sizes"
done
exit $status
