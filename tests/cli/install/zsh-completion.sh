# scripts/completion/_t2m, as zsh runs it on <Tab>: each line below is
# typed into an interactive zsh on a pseudo-terminal, with compinit
# finding _t2m in fpath, and the matches zsh offers are caught on their
# way to compadd.  Options come from each program's -h, an option's
# argument as its name says (types in either case, formats, .json files,
# nothing for a size or a pattern), files for operands.
set -u
status=0
fail() { echo "FAIL: $*"; status=1; }

command -v zsh > /dev/null || { fail "no zsh (scripts/install-deps)"; exit 1; }
mkdir fp d
cp "$T2M_TOP/scripts/completion/_t2m" fp/
touch config.json map.json notes.txt 'a b.pt' d/x.json

# complete.zsh OUT LINE: type LINE and a Tab; what is offered, one a
# line, then END, goes to OUT.
cat > complete.zsh <<'EOF'
zmodload zsh/zpty || exit 1
out=$1
: > $out
zpty c zsh -f -i
zpty -w c "PS1=''; fpath=($PWD/fp \$fpath); autoload -Uz compinit; compinit -u -D"
# Queries (-O, -A, -D) pass; anything added is written down first.
zpty -w c "compadd() { if [[ \${(j: :)@} == *-[OAD]* ]]; then builtin compadd \"\$@\"; return; fi; local -a m; builtin compadd -O m \"\$@\"; print -rl -- \$m >> $out; builtin compadd \"\$@\"; }"
zpty -w c "t2m_end() { print END >> $out; }; comppostfuncs=(t2m_end)"
zpty -w c "bindkey '^I' complete-word"
zpty -w -n c "$2"$'\t'
integer i
for (( i = 0; i < 200; i++ )); do
	grep -q '^END$' $out && break
	sleep 0.05
done
zpty -d c
EOF

: > got
# A line ends at its '#', so that one ending in a space keeps it.
while IFS= read -r line; do
	line=${line%#}
	zsh -f complete.zsh offered "$line"
	grep -q '^END$' offered || fail "no completion ran for '$line'"
	printf '%s|%s\n' "$line" \
	    "$(grep -v '^END$' offered | LC_ALL=C sort -u | paste -sd ' ' -)" >> got
done <<'EOF'
t2m-pack -#
t2m-unpack -#
t2m-shards -#
t2m-cast -t #
t2m-cast -t b#
t2m-cast -i u#
t2m-pack -f #
t2m-transpose -c #
t2m-analyze -m d/#
t2m-pack -s #
t2m-rename -k #
t2m-ls -j -#
t2m-unpack a#
t2m-unpack -c n#
EOF
cat > want <<'EOF'
t2m-pack -|--help --version -d -f -q -s
t2m-unpack -|--help --version -C -c -k -l -m -s
t2m-shards -|--help --version -c -j -m -t
t2m-cast -t |BF16 F16 F32
t2m-cast -t b|BF16
t2m-cast -i u|U16 U32 U64 U8
t2m-pack -f |safetensors torch
t2m-transpose -c |config.json d fp map.json
t2m-analyze -m d/|x.json
t2m-pack -s |
t2m-rename -k |
t2m-ls -j -|--help --version -l
t2m-unpack a|a\ b.pt
t2m-unpack -c n|notes.txt
EOF
diff want got || fail "completions differ (- want, + got)"
exit $status
