# A set of shards appears whole or not at all.  A new directory is built
# under a temporary name beside it and renamed into place; in an existing
# one each file is a temporary until the end record.  Failures (a stream
# cut short, a refusal, SIGTERM) leave the directory as it was, or absent,
# and no temporary anywhere.  Leftover shards of a set of another size are
# refused; files of the same names are replaced keeping their modes;
# other files are left alone.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st corpus in.st || exit 3
t2m-unpack -C 64 in.st > s || exit 3
head -c $(($(wc -c < s) / 2)) s > cut
mkdir w && cd w || exit 3
umask 022

# listing DIR: every name in DIR (dot files too) with its mode and size.
listing() {
	(cd "$1" && for f in $(ls -A); do
		echo "$f $(stat -c '%a %s' "$f") $(cksum < "$f")"
	done)
}

# New directory, stream cut short: nothing at all.
t2m-pack -s 4K new < ../cut 2> ../err
[ $? -eq 1 ] || fail "cut, new: exit status"
grep -q '^t2m-pack: <stdin>: record ' ../err || fail "cut, new: $(cat ../err)"
[ -z "$(ls -A)" ] || fail "cut, new: left $(ls -A)"

# New directory, whole stream: made at once, mode 0777 less the umask.
t2m-pack -s 4K new < ../s || fail "new: exit status $?"
[ "$(stat -c %a new)" = 755 ] || fail "new: mode $(stat -c %a new)"
[ "$(ls -A)" = new ] || fail "new: left $(ls -A)"
n=$(ls new | wc -l)
[ "$n" -gt 2 ] || fail "new: only $n files"

# Existing directory with other files and an old set of the same size:
# a cut stream changes nothing.
chmod 640 new/model-00001-of-0000$((n - 1)).safetensors
echo keep > new/config.json
before=$(listing new)
t2m-pack -s 4K new < ../cut 2> ../err
[ $? -eq 1 ] || fail "cut, existing: exit status"
[ "$(listing new)" = "$before" ] || fail "cut, existing: changed"
# The whole stream replaces the set, keeping modes and config.json.
t2m-pack -s 4K new < ../s || fail "existing: exit status $?"
[ "$(stat -c %a new/model-00001-of-0000$((n - 1)).safetensors)" = 640 ] ||
    fail "existing: the mode of a replaced shard changed"
[ "$(cat new/config.json)" = keep ] || fail "existing: config.json changed"
[ "$(ls -A new | wc -l)" -eq $((n + 1)) ] || fail "existing: $(ls -A new)"
t2m-pack -s 4K other < ../s
for f in $(ls other); do
	cmp -s new/$f other/$f || fail "existing: $f differs from a new set's"
done

# Shards of a set of another size: refused, nothing written.
before=$(listing new)
t2m-pack -s 9K new < ../s 2> ../err
[ $? -eq 1 ] || fail "stale: exit status"
case $(cat ../err) in
"t2m-pack: new: holds model-0000"?"-of-0000$((n - 1)).safetensors, a shard of another set; remove the old set or choose another directory") ;;
*) fail "stale: $(cat ../err)" ;;
esac
[ "$(listing new)" = "$before" ] || fail "stale: changed"

# Not a directory; a missing parent; a shard's name taken by a directory.
touch file
t2m-pack -s 4K file < ../s 2> ../err
[ "$(cat ../err)" = "t2m-pack: file: not a directory" ] || fail "file: $(cat ../err)"
t2m-pack -s 4K nope/dir < ../s 2> ../err
[ "$(cat ../err)" = "t2m-pack: nope/dir: cannot create a temporary directory beside it: No such file or directory" ] ||
    fail "nope/dir: $(cat ../err)"
mkdir -p taken/model-00001-of-00001.safetensors
t2m-pack -s 1G taken < ../s 2> ../err
[ "$(cat ../err)" = "t2m-pack: taken: model-00001-of-00001.safetensors: not a regular file" ] ||
    fail "taken: $(cat ../err)"
[ "$(ls -A taken)" = model-00001-of-00001.safetensors ] ||
    fail "taken: left $(ls -A taken)"
[ "$(ls -A | tr '\n' ' ')" = "file new other taken " ] ||
    fail "left $(ls -A)"

# SIGTERM while waiting for data, into a new and an existing directory.
cd .. && $PYTHON -m streamtool stall s head || exit 3
dfl='import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
    signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])'
mkdir sig sig/old
for dir in new old; do
	rm -f fifo
	mkfifo fifo
	(cd sig && exec $PYTHON -c "$dfl" t2m-pack -s 4K $dir < ../fifo 2> ../err) &
	pid=$!
	exec 3> fifo
	cat head >&3
	i=0
	while ! ls -A sig sig/old | grep -q '^\.' && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	ls -A sig sig/old | grep -q '^\.' || fail "$dir: no temporary seen"
	kill -TERM $pid
	wait $pid
	rc=$?
	exec 3>&-
	[ $rc -eq 143 ] || fail "SIGTERM, $dir: exit status $rc"
	[ "$(ls -A sig)" = old ] || fail "SIGTERM, $dir: left $(ls -A sig)"
	[ -z "$(ls -A sig/old)" ] || fail "SIGTERM, $dir: left $(ls -A sig/old)"
	[ -s err ] && fail "SIGTERM, $dir: stderr: $(cat err)"
done
exit $status
