# SIGTERM, SIGINT or SIGHUP while t2m-pack waits for data: it removes its
# temporary and dies by the signal, silently.  The input is a FIFO that
# got the stream header and the manifest only, so t2m-pack has opened its
# output and blocks reading the first data record.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s && $PYTHON -m streamtool stall s head || exit 3

# A background job of sh starts with SIGINT ignored, and t2m-pack rightly
# leaves ignored signals alone: start it through a wrapper that restores
# the defaults (Python ignores SIGPIPE itself).
dfl='import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])'

for sig in TERM:143 INT:130 HUP:129; do
	name=${sig%:*} want=${sig#*:}
	mkdir w-$name
	mkfifo fifo-$name
	$PYTHON -c "$dfl" t2m-pack w-$name/out.st < fifo-$name 2> err-$name &
	pid=$!
	exec 3> fifo-$name
	cat head >&3
	i=0
	while [ -z "$(ls -A w-$name)" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	case $(ls -A w-$name) in
	.out.st.??????) ;;
	*) fail "$name: expected one temporary, found '$(ls -A w-$name)'" ;;
	esac
	kill -$name $pid
	wait $pid
	rc=$?
	exec 3>&-
	[ $rc -eq $want ] || fail "$name: exit status $rc, expected $want"
	[ -z "$(ls -A w-$name)" ] || fail "$name: left $(ls -A w-$name)"
	[ -s err-$name ] && fail "$name: stderr: $(cat err-$name)"
done
exit $status
