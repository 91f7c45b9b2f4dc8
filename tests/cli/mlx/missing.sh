# Without MLX the MLX tests fail - exit 1, nothing on stdout, a message
# naming scripts/install-deps - never skip: no interpreter at all, an
# interpreter in which "import mlx" fails, an mlx other than the version
# scripts/install-deps pins, and check.py run directly.
prove=$T2M_TOP/tests/mlx/prove
expect_missing() {	# what; after a run that wrote out and err
	if [ "$1" != 1 ] || [ -s out ] ||
	    ! grep -q "MLX is missing.*scripts/install-deps" err; then
		echo "FAIL: $2: exit status $1"; cat out err; exit 1
	fi
}
MLX_PYTHON=$PWD/no/such/python sh "$prove" cnn > out 2> err
expect_missing $? "no interpreter"
mkdir -p shim/mlx
echo 'raise ImportError("mlx hidden by the test")' > shim/mlx/__init__.py
PYTHONPATH=$PWD/shim sh "$prove" cnn > out 2> err
expect_missing $? "mlx unimportable"
mkdir -p old/mlx
: > old/mlx/__init__.py
echo '__version__ = "0.0.1"' > old/mlx/core.py
PYTHONPATH=$PWD/old sh "$prove" cnn > out 2> err
expect_missing $? "another mlx version"
grep -q "has mlx 0.0.1, the tests pin" err || { cat err; exit 1; }
PYTHONPATH=$PWD/shim:$T2M_TOP/tests/mlx:$T2M_TOP/tests/lib \
    "$MLX_PYTHON" "$T2M_TOP/tests/mlx/check.py" cnn > out 2> err
expect_missing $? "check.py, mlx unimportable"
