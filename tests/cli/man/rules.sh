# The rule table in t2m-transpose(1) is the one the program has: every
# row of its .Bl -column table (class, MLX class, rule) matches, in order,
# the lines t2m-transpose -L prints.
set -eu
page=$T2M_TOP/man/t2m-transpose.1
t2m-transpose -L | awk -F '\t' '{
	mlx = $2 == "-" ? "\\(em" : $2
	printf "%s|%s|%s\n", $1, mlx, $3
}' > want
sed -n '/^\.It Sy PyTorch Ta/,/^\.El/p' "$page" | grep '^\.It ' |
    grep -v 'Sy PyTorch' | sed 's/^\.It //; s/ Ta /|/g' > got
[ -s want ] || { echo "t2m-transpose -L printed nothing"; exit 1; }
if ! cmp -s want got; then
	echo "the man page's rule table differs from t2m-transpose -L:"
	diff want got | head -20
	exit 1
fi
