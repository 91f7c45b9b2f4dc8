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
# A recipe's perm that is not a permutation (a dimension twice, one not
# a whole number) would read past the tensor: damaged, refused.
for perm in '[0,3,0,2]' '[0,1.5,2,3]'; do
	$PYTHON - "$perm" <<'PY'
import json, struct, sys
rev = {"recipes": {"w": {"from": "w", "perm": json.loads(sys.argv[1])}},
       "consumed": ["w"]}
head = json.dumps({"__metadata__": {"t2m.layout": "mlx",
                                    "t2m.reverse": json.dumps(rev)},
                   "w": {"dtype": "F32", "shape": [2, 3, 4, 5],
                         "data_offsets": [0, 480]}}).encode()
head += b" " * (-len(head) % 8)
with open("bad-perm.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(head)) + head + bytes(480))
PY
	t2m-unpack bad-perm.safetensors | t2m-transpose -r > out 2> err
	[ $? -eq 1 ] && grep -q "^t2m-transpose: <stdin>: the t2m.reverse recipe for 'w' is damaged" err ||
	    { echo "perm $perm"; cat err; exit 1; }
done
