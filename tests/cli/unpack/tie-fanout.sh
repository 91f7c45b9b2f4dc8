# Each tie restored from a safetensors file's metadata writes the bytes of
# the tensor it names again: a 1 MiB tensor with 1100 tie records (a
# 1 MiB file) would ask for 1.1 GiB of stream.  As with views of a
# pickle's storage, what the tensors and their ties write may come to 64
# times the tensors' bytes and 1 GiB more: past that, one line, exit 1,
# and no output from t2m-pack.  Short of it, the ties come back.
set -u
failed=0
fail() { echo "FAIL: $*"; failed=1; }
$PYTHON - <<'PY' || exit 3
import st
t = {"big.w": ("U8", [1 << 20], bytes(1 << 20)),
     "small.w": ("U8", [4], bytes(4))}
# Half in t2m-pack's form, half in Hugging Face's.
meta = {("t2m.tie.t%d.w" if k % 2 else "h%d.w") % k: "big.w"
        for k in range(1100)}
st.write("bomb.st", t, metadata=meta)
st.write("ok.st", t, metadata={k: v for k, v in list(meta.items())[:40]})
PY
t2m-unpack bomb.st 2> err | t2m-pack out.st 2> /dev/null
[ $? -ne 0 ] || fail "bomb.st: pack succeeded"
[ ! -e out.st ] || fail "bomb.st: out.st left"
[ "$(cat err)" = "t2m-unpack: bomb.st: tensor 'big.w': with those before it, it and its 1100 ties come to more than 64 times the tensors' bytes and 1024 MiB" ] ||
    fail "bomb.st: $(cat err)"
t2m-unpack ok.st | t2m-ls > ls || fail "ok.st: exit $?"
tail -1 ls | grep -q '^42 tensors' || fail "ok.st: $(tail -1 ls)"
exit $failed
