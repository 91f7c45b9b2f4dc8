# A new file gets 0666 less the umask; an existing one keeps its mode
# (its contents replaced).
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
mode() { ls -l "$1" | cut -c1-10; }
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3

(umask 022 && t2m-pack new022.st < s) || fail "umask 022: exit status $?"
[ "$(mode new022.st)" = "-rw-r--r--" ] || fail "umask 022: $(mode new022.st)"
(umask 077 && t2m-pack new077.st < s) || fail "umask 077: exit status $?"
[ "$(mode new077.st)" = "-rw-------" ] || fail "umask 077: $(mode new077.st)"
for m in 640:-rw-r----- 755:-rwxr-xr-x 604:-rw----r-- 444:-r--r--r--; do
	echo old > old-${m%:*}.st
	chmod ${m%:*} old-${m%:*}.st
	t2m-pack old-${m%:*}.st < s || fail "${m%:*}: exit status $?"
	[ "$(mode old-${m%:*}.st)" = "${m#*:}" ] ||
	    fail "${m%:*}: mode became $(mode old-${m%:*}.st)"
	cmp new022.st old-${m%:*}.st || fail "${m%:*}: contents"
done
exit $status
