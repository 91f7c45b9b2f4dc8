# A safetensors file without tensors or metadata packs to a header that
# holds only __metadata__ {"format":"pt"} (PyTorch's layout, as nothing
# converted it): 32 bytes, a multiple of 8 without padding.
set -u
printf '\002\000\000\000\000\000\000\000{}' > in.st
t2m-unpack in.st | t2m-pack out.st || exit 1
$PYTHON -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
print(n)
print(repr(b[8:]))' out.st
