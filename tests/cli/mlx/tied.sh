# A language model whose output layer is its embedding (one Parameter
# under two names), converted from a state dict, a whole model and
# TorchScript: t2m-pack writes the bytes once, under the embedding's
# name, with t2m.tie.head.weight in __metadata__, and the file loads
# strictly into an MLX model that ties the way mlx-lm does
# (Embedding.as_linear, no parameter for the head) and computes what
# PyTorch computes; the way back restores head.weight.  The selftest
# shows the head written whole is caught.  See tests/mlx/check.py.
exec sh "$T2M_TOP/tests/mlx/prove" tied-lm
