# Convolutions in real MLX: Conv1d, grouped and depthwise Conv1d and
# Conv2d (kernels not square), Conv3d, ConvTranspose1d/2d/3d (stride,
# padding, output_padding, dilation): (O, I, k...) -> (O, k..., I) and
# (I, O, k...) -> (O, k..., I).  See tests/mlx/check.py.
exec sh "$T2M_TOP/tests/mlx/prove" conv1d conv2d-grouped conv3d \
    convt1d convt2d convt3d
