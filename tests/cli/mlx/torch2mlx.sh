# The three models torch2mlx proved, converted by t2m from a state dict
# with a type map, a whole pickled model and TorchScript, and run in real
# MLX: a small CNN (Conv2d, ReLU, MaxPool2d, Linear), a TransformerEncoder
# classifier (attention, feed-forward, LayerNorm), a ResNet-style CNN
# (BatchNorm2d in eval mode, skips, adaptive average pooling).  What each
# model must pass: tests/mlx/check.py.
exec sh "$T2M_TOP/tests/mlx/prove" cnn transformer resnet
