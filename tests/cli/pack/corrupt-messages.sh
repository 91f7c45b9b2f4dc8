# What t2m-pack says about a few damaged streams, exactly.
$PYTHON -m gen_st small in.st || exit 3
mkdir bad
t2m-unpack -C 16 in.st > s && $PYTHON -m streamtool bad s bad || exit 3
head -c 600 s > bad/cut
for name in magic major-2 mani-hcrc mani-nbytes data-offset tag-unknown \
    ends-count-1 after-end-byte cut; do
	t2m-pack out.st < bad/$name
	[ $? -eq 1 ] || exit 3
done
[ ! -e out.st ]
