# -s old=new replaces a leading dotted path, whole components only; a
# trailing dot is ignored; an empty new strips, an empty old prepends;
# -p and -s apply once each, in the order given.
set -eu
$PYTHON - <<'PY'
import torch
sd = {n: torch.zeros(1) for n in
      ["h.0.w", "head.w", "h", "hh.w", "a.b.c", "a.bc", "module.module.x"]}
torch.save(sd, "sd.pt")
PY
want() {	# want 'NAMES' OPTIONS...: the names in manifest order
	w=$1
	shift
	got=$(t2m-unpack sd.pt | t2m-rename "$@" | t2m-ls | sed '$d' |
	    awk '{print $NF}' | tr '\n' ' ')
	[ "$got" = "$w" ] || { echo "$*: got '$got', expected '$w'"; exit 1; }
}
want 'h.0.w head.w h hh.w a.b.c a.bc module.module.x '
want 'layers.0.w head.w layers hh.w a.b.c a.bc module.module.x ' -s h=layers
want 'layers.0.w head.w layers hh.w a.b.c a.bc module.module.x ' -s h.=layers.
want 'h.0.w head.w h hh.w x.c a.bc module.module.x ' -s a.b=x
want 'h.0.w head.w h hh.w c a.bc module.module.x ' -s a.b=
want 'h.0.w head.w h hh.w c a.bc module.module.x ' -p a.b
want 'h.0.w head.w h hh.w a.b.c a.bc module.x ' -p module.
want 'h.0.w head.w h hh.w a.b.c a.bc x ' -p module. -p module.
want 'n.h.0.w n.head.w n.h n.hh.w n.a.b.c n.a.bc n.module.module.x ' -s =n
want 'n.h.0.w n.head.w n.h n.hh.w n.a.b.c n.a.bc n.module.module.x ' -s =n.
# One after the other: a=b then b=c takes a to c.
want 'h.0.w head.w h hh.w c.b.c c.bc module.module.x ' -s a=b -s b=c
want 'h.0.w head.w h hh.w b.b.c b.bc module.module.x ' -s b=c -s a=b
# A path may be renamed deeper or shallower.
want 'h.0.w head.w h hh.w x.y.z.c a.bc module.module.x ' -s a.b=x.y.z
