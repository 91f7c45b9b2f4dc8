# Recurrent layers in real MLX, one MLX module per torch layer and
# direction: a 2-layer LSTM (batch first), a 2-layer GRU (sequence
# first), a 2-layer tanh RNN then a ReLU RNN, a bidirectional 2-layer LSTM
# then a bidirectional GRU (<path>.<k>_reverse).  Merged biases come back
# split by -r.  See tests/mlx/check.py.
exec sh "$T2M_TOP/tests/mlx/prove" lstm gru rnn birnn
