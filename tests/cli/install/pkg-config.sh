# make install DESTDIR=... puts the programs, the pages, libt2m.a, t2m.h
# and t2m.pc in place; a program built with `pkg-config --cflags --libs
# t2m` alone reads a real stream through the library; make uninstall
# takes every file away again.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

dest=$PWD/root
make -s -C "$T2M_TOP" install BUILD="$T2M_BUILD" DESTDIR="$dest" \
    PREFIX=/opt/t2m > make.log 2>&1 || { cat make.log; exit 1; }
for f in bin/t2m-unpack bin/t2m-pack bin/t2m-transpose lib/libt2m.a \
    include/t2m.h lib/pkgconfig/t2m.pc share/man/man1/t2m-pack.1 \
    share/man/man5/t2m-stream.5 share/man/man7/t2m.7; do
	[ -f "$dest/opt/t2m/$f" ] || fail "not installed: $f"
done

cat > count.c <<'C'
#include <stdio.h>
#include <unistd.h>
#include <t2m.h>

/* Read a t2m stream on stdin, check it to its end, print its tensors. */
int
main(void)
{
	struct t2m_manifest *m;
	struct t2m_reader *r;
	struct t2m_chunk c;
	t2m_error e;
	uint64_t bytes = 0;
	int rc;

	if ((r = t2m_reader_new(STDIN_FILENO, "<stdin>", &e)) == NULL ||
	    t2m_reader_begin(r, &m, &e) < 0) {
		fprintf(stderr, "count: %s\n", e.msg);
		return 1;
	}
	while ((rc = t2m_reader_next(r, &c, &e)) == 1)
		bytes += c.length;
	if (rc < 0) {
		fprintf(stderr, "count: %s\n", e.msg);
		return 1;
	}
	printf("%u tensors, %llu bytes, first %s\n", m->ntensors,
	    (unsigned long long)bytes, m->tensors[0].name);
	t2m_reader_free(r);
	return 0;
}
C
grep -qx 'prefix=/opt/t2m' "$dest/opt/t2m/lib/pkgconfig/t2m.pc" ||
    fail "t2m.pc: $(cat "$dest/opt/t2m/lib/pkgconfig/t2m.pc")"
# Installed under DESTDIR, not yet at /opt/t2m: point pkg-config there.
export PKG_CONFIG_PATH="$dest/opt/t2m/lib/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$dest/opt/t2m" \
    --cflags --libs t2m) || fail "pkg-config t2m failed"
# A library built with sanitizers (make asan) needs them to link.
san=
nm "$dest/opt/t2m/lib/libt2m.a" 2>/dev/null | grep -q __asan_ &&
    san="-fsanitize=address,undefined"
${CC:-cc} $san -o count count.c $flags || fail "cannot build with: $flags"
if [ -x count ]; then
	t2m-unpack "$T2M_TOP/samples/sample.pt" | ./count > got ||
	    fail "count exit $?"
	want=$(t2m-unpack "$T2M_TOP/samples/sample.pt" | t2m-ls -j |
	    $PYTHON -c 'import json, sys
t = json.load(sys.stdin)["tensors"]
n = sum(x["bytes"] for x in t)
print(len(t), "tensors,", n, "bytes, first", t[0]["name"])')
	[ "$(cat got)" = "$want" ] || fail "count: '$(cat got)', want '$want'"
fi

make -s -C "$T2M_TOP" uninstall BUILD="$T2M_BUILD" DESTDIR="$dest" \
    PREFIX=/opt/t2m > make.log 2>&1 || { cat make.log; exit 1; }
left=$(find "$dest" -type f)
[ -z "$left" ] || fail "left after uninstall: $left"
exit $status
