# Other dtypes in real MLX.  The small CNN in float16 and bfloat16 (MLX
# computes in them; within 1e-2 of PyTorch's float32 result on the same
# weights) and in float64 (converted to float32, within 1e-5; -r gives
# back the float32 values widened, as t2m-transpose(1) says); a GRU in
# float16 (biases summed in half precision) and the weight-normed model
# in bfloat16 (the fold in bfloat16).  See tests/mlx/check.py.
exec sh "$T2M_TOP/tests/mlx/prove" cnn-f16 cnn-bf16 cnn-f64 gru-f16 \
    weightnorm-bf16
