# -r needs a stream t2m-transpose made; a plain one is refused with a
# message and no output a consumer would accept.  Bad usage exits 2.
set -u
$PYTHON -c "
import torch; torch.save({'w': torch.ones(2, 3, 4)}, 'w.pt')"
t2m-unpack w.pt | t2m-transpose -r > out 2> err
[ $? -eq 1 ] || { echo "exit status"; exit 1; }
grep -q "^t2m-transpose: <stdin>: the stream is not in MLX layout" err ||
    { cat err; exit 1; }
t2m-ls out > /dev/null 2>&1 && { echo "accepted"; exit 1; }
t2m-transpose -x < /dev/null > out 2> err
[ $? -eq 2 ] && [ ! -s out ] && grep -q '^usage: t2m-transpose' err ||
    { echo "usage"; exit 1; }
t2m-transpose extra < /dev/null > out 2> err
[ $? -eq 2 ] || { echo "operand"; exit 1; }
echo '[1, 2]' > bad.json
t2m-unpack w.pt | t2m-transpose -m bad.json > out 2> err
[ $? -eq 1 ] && grep -q "bad.json: a type map is a JSON object" err ||
    { cat err; exit 1; }
