# -k keeps only what one of its patterns matches; -d wins over -k; the
# patterns see the names as they come in, before any renaming.
set -eu
$PYTHON - <<'PY'
import torch
torch.manual_seed(6)
sd = {f"model.{part}.{i}.weight": torch.randn(2, 2)
      for part in ("encoder", "decoder") for i in range(3)}
sd["model.encoder.0.bias"] = torch.randn(2)
sd["lm_head.weight"] = torch.randn(5, 2)
torch.save(sd, "sd.pt")
PY
names() {	# names OPTIONS...: the names t2m-rename OPTIONS leaves, sorted
	t2m-unpack sd.pt | t2m-rename "$@" | t2m-ls | sed '$d' |
	    awk '{print $NF}' | sort | tr '\n' ' '
}
want() {	# want 'NAMES' OPTIONS...
	w=$1
	shift
	got=$(names "$@")
	[ "$got" = "$w" ] || { echo "$*: got '$got', expected '$w'"; exit 1; }
}
want 'model.encoder.0.bias model.encoder.0.weight model.encoder.1.weight model.encoder.2.weight ' \
    -k 'model.encoder.*'
want 'lm_head.weight model.encoder.0.bias model.encoder.0.weight model.encoder.1.weight model.encoder.2.weight ' \
    -k 'model.encoder.*' -k lm_head.weight
want 'model.encoder.0.weight model.encoder.1.weight model.encoder.2.weight ' \
    -k 'model.encoder.*' -d '*.bias'
want 'decoder.1.weight encoder.1.weight ' -k '*.1.*' -p model
# Matched before the prefix goes: 'encoder.*' matches nothing here.
want '' -k 'encoder.*' -p model
want 'lm_head.weight ' -k '*' -d 'model.*'
# The data of what is kept is the input's.
t2m-unpack sd.pt | t2m-rename -k 'model.decoder.2.*' -p model.decoder.2 |
    t2m-pack one.st
$PYTHON - <<'PY'
import torch, st
sd = torch.load("sd.pt")
meta, out, _ = st.read("one.st")
assert list(out) == ["weight"], list(out)
assert out["weight"][2] == sd["model.decoder.2.weight"].numpy().tobytes()
PY
