# The checker rejects wrong conversions: converted files with one thing
# made wrong (a ConvTranspose laid out as a Conv, kernel axes swapped, an
# RNN bias not summed, attention projections or directions swapped, weight
# norm without g, a tensor missing, Bilinear not permuted, a hidden tensor
# lost, float16 stored as float32) must each fail the checks named for it,
# while the same file rewritten unmutated passes them all.
exec sh "$T2M_TOP/tests/mlx/prove" --selftest
