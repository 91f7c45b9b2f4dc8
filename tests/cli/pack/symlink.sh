# A symbolic link as the target is written through: the link stays, its
# target gets the file and keeps its mode, the temporary goes beside the
# target (another directory here) and is gone afterwards.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }
$PYTHON -m gen_st small in.st || exit 3
t2m-unpack in.st > s || exit 3
t2m-pack want.st < s || exit 3
mkdir w && cd w || exit 3

mkdir real
echo old > real/t.st
chmod 600 real/t.st
ln -s real/t.st link.st
ln -s link.st link2.st
t2m-pack link2.st < ../s || fail "exit status $?"
[ -L link.st ] && [ -L link2.st ] || fail "a link was replaced"
cmp ../want.st real/t.st || fail "the target does not hold the output"
[ "$(ls -A real)" = t.st ] || fail "left in real/: $(ls -A real)"
for f in .[!.]*; do
	[ -e "$f" ] && fail "left here: $f"
done
mode=$(ls -l real/t.st | cut -c1-10)
[ "$mode" = "-rw-------" ] || fail "mode $mode"
exit $status
