# MultiheadAttention in real MLX: in_proj_weight/bias cut into
# query/key/value_proj (with biases, and a second layer without), and
# kdim/vdim's q/k/v_proj_weight renamed.  See tests/mlx/check.py.
exec sh "$T2M_TOP/tests/mlx/prove" mha mha-kv
