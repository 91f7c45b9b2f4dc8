# The 36 Hugging Face architectures torch2mlx reported (tests/fixtures/hf,
# tiny random models made by scripts/gen-hf-corpus.py with transformers):
# from the pickled model, coverage 1.0 of layers and parameters and no
# blocker; from the Hub layout (pytorch_model.bin + config.json), no layer
# of unknown class and every tensor planned; t2m-transpose converts both.
set -u
status=0
n=0
for d in "$T2M_TOP"/tests/fixtures/hf/*/; do
	id=$(basename "$d")
	n=$((n + 1))
	t2m-analyze "$d/model.pt" > full.json 2> err ||
	    { echo "$id: analyze model.pt: $(cat err)"; status=1; continue; }
	t2m-analyze "$d/pytorch_model.bin" > hub.json 2> err ||
	    { echo "$id: analyze pytorch_model.bin: $(cat err)"; status=1; }
	$PYTHON - "$id" <<'PY' || status=1
import json, sys
id = sys.argv[1]
full = json.load(open("full.json"))
hub = json.load(open("hub.json"))
bad = []
if full["coverage"] != {"layers": 1, "parameters": 1}:
    bad.append(f"model.pt coverage {full['coverage']}: " + ", ".join(
        f"{l['path']} {l['torch']} {l['status']}" for l in full["layers"]
        if l["status"] not in ("convertible", "attention"))[:300])
if full["blockers"]:
    bad.append(f"model.pt blockers {full['blockers']}")
unknown = [l["path"] for l in hub["layers"] if l["status"] == "unknown"]
if unknown:
    bad.append(f"pytorch_model.bin unknown layers {unknown[:5]}")
unplanned = [p["name"] for p in hub["plan"] if not p["to"]]
if unplanned or len(hub["plan"]) != hub["tensors"]["count"]:
    bad.append(f"pytorch_model.bin unplanned {unplanned[:5]}")
for b in bad:
    print(f"{id}: {b}")
sys.exit(1 if bad else 0)
PY
	for f in model.pt pytorch_model.bin; do
		t2m-unpack "$d/$f" | t2m-transpose 2>/dev/null |
		    t2m-pack out.st 2> err ||
		    { echo "$id: convert $f: $(cat err)"; status=1; }
	done
done
[ "$n" -eq 36 ] || { echo "$n architectures, expected 36"; status=1; }
exit $status
