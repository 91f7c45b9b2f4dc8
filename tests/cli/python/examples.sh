# The validation examples, scripts/examples/validate_*.py, in real MLX:
# each exports its PyTorch model (mnist and resnet with the decorator,
# transformer with export()), loads the file strictly into its MLX
# twin, and passes (max abs difference <= 1e-5), printing the PyTorch
# and MLX forward times side by side.  With a bias of the converted file
# made wrong on the way (a sitecustomize wrapping torch2mlx's export),
# validate_mnist.py fails with exit status 1.
"$MLX_PYTHON" -c 'import mlx.core' 2>/dev/null || {
	echo "MLX is missing in $MLX_PYTHON: run scripts/install-deps" >&2
	exit 1
}
PYTHONPATH=$T2M_TOP/scripts/python:$PYTHONPATH
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE
ex=$T2M_TOP/scripts/examples
for m in mnist transformer resnet; do
	"$MLX_PYTHON" "$ex/validate_$m.py" -b 4 -n 3 > $m.out 2> $m.err ||
	    { echo "FAIL: validate_$m.py exited $?"; cat $m.out $m.err; exit 1; }
	grep -q "^max abs difference .* (limit 1e-05): ok$" $m.out &&
	    grep -q "^median of 3 .* ms .* ms$" $m.out &&
	    grep -q "PyTorch  *MLX$" $m.out ||
	    { echo "FAIL: validate_$m.py said:"; cat $m.out $m.err; exit 1; }
	test -s $m.safetensors -o -s ${m}_cnn.safetensors || exit 1
	sed -n 2p $m.out
done

mkdir shim
cat > shim/sitecustomize.py <<'EOF'
import json, struct
import torch2mlx._api as api
real = api._export
def wrong(model, path, metadata=None):
    r = real(model, path, metadata)
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        at = 8 + n + head["fc2.bias"]["data_offsets"][0]
        f.seek(at)
        v = struct.unpack("<f", f.read(4))[0]
        f.seek(at)
        f.write(struct.pack("<f", v + 1.0))
    return r
api._export = wrong
EOF
PYTHONPATH=$PWD/shim:$PYTHONPATH "$MLX_PYTHON" "$ex/validate_mnist.py" \
    -b 4 -n 1 > bad.out 2> bad.err
status=$?
if [ $status != 1 ] || ! grep -q "(limit 1e-05): FAIL$" bad.out; then
	echo "FAIL: a wrong weight passed: exit status $status"
	cat bad.out bad.err
	exit 1
fi
sed -n 2p bad.out
