# A torch 0.1 tar checkpoint whose "tensors" member gives a tensor a
# shape past 2^63 elements (found by fuzz_unpack): refused with where it
# is, in that member - not "(null) offset 0", which the message said
# when no pickle was being read.
cp "$T2M_TOP/tests/fuzz/regress/unpack/tar01-c-order-overflow" old.pt
t2m-unpack old.pt
