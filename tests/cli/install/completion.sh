# scripts/completion/t2m.bash, as bash runs it on <Tab>: options from
# each program's -h, the argument an option names (types from the -h
# line, formats, .json files), files for operands, --help and --version
# first; make install puts a copy under each program's name.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

mkdir d
touch config.json map.json notes.txt 'a b.pt' d/x.json
bash --norc --noprofile > got 2>&1 <<'SH'
. "$T2M_TOP/scripts/completion/t2m.bash"
# complete LINE...: the words, the last the one being completed.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	_t2m "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s|%s\n' "$*" \
	    "$(printf '%s\n' "${COMPREPLY[@]}" | sort | paste -sd ' ' -)"
}
complete_words t2m-pack -
complete_words t2m-unpack -
complete_words t2m-shards -
complete_words t2m-cast -t ''
complete_words t2m-cast -t b
complete_words t2m-cast -i u
complete_words t2m-pack -f ''
complete_words t2m-transpose -c ''
complete_words t2m-analyze -m d/
complete_words t2m-pack -s ''
complete_words t2m-rename -k ''
complete_words t2m-ls --
complete_words t2m-ls -j --
complete_words t2m-unpack a
complete_words t2m-unpack -c n
complete -p t2m-analyze t2m-shards
SH
cat > want <<'EOF2'
t2m-pack -|-d -f -q -s
t2m-unpack -|-C -c -k -l -m -s
t2m-shards -|-c -j -m -t
t2m-cast -t |BF16 F16 F32
t2m-cast -t b|BF16
t2m-cast -i u|U16 U32 U64 U8
t2m-pack -f |safetensors torch
t2m-transpose -c |config.json d map.json
t2m-analyze -m d/|d/x.json
t2m-pack -s |
t2m-rename -k |
t2m-ls --|--help --version
t2m-ls -j --|
t2m-unpack a|a b.pt
t2m-unpack -c n|notes.txt
complete -F _t2m t2m-analyze
complete -F _t2m t2m-shards
EOF2
diff want got || fail "completions differ (- want, + got)"

dest=$PWD/root
make -s -C "$T2M_TOP" install BUILD="$T2M_BUILD" DESTDIR="$dest" \
    PREFIX=/opt/t2m > make.log 2>&1 || { cat make.log; exit 1; }
for p in t2m-analyze t2m-cast t2m-ls t2m-pack t2m-rename t2m-shards \
    t2m-transpose t2m-unpack; do
	cmp -s "$T2M_TOP/scripts/completion/t2m.bash" \
	    "$dest/opt/t2m/share/bash-completion/completions/$p" ||
	    fail "not installed as share/bash-completion/completions/$p"
done
cmp -s "$T2M_TOP/scripts/completion/_t2m" \
    "$dest/opt/t2m/share/zsh/site-functions/_t2m" ||
    fail "not installed as share/zsh/site-functions/_t2m"
make -s -C "$T2M_TOP" uninstall BUILD="$T2M_BUILD" DESTDIR="$dest" \
    PREFIX=/opt/t2m > make.log 2>&1 || { cat make.log; exit 1; }
left=$(find "$dest" -type f)
[ -z "$left" ] || fail "left after uninstall: $left"
exit $status
