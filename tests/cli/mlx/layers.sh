# Weight norm folded into weight (weight_g/weight_v on Conv1d,
# ConvTranspose1d, a Conv1d normed on dim 1 and a Linear normed whole;
# parametrizations.weight.original0/1 from a state dict and TorchScript,
# torch refusing to pickle such a model whole); Bilinear's
# (O, I1, I2) -> (O, I2, I1); the identity rules (GroupNorm, PReLU,
# LayerNorm, BatchNorm2d) and InstanceNorm2d's running statistics hidden;
# all in real MLX.  See tests/mlx/check.py.
exec sh "$T2M_TOP/tests/mlx/prove" weightnorm weightnorm-param bilinear norms
