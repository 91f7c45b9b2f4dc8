# The README's t2m-analyze examples show what the programs print: the
# model is the one the man pages' examples use, saved as model.pt.
set -eu
$PYTHON - <<'PY'
import torch
torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
    torch.nn.Linear(16, 10))
torch.save(model, "model.pt")
PY
readme=$T2M_TOP/README.md
# Each "    $ command" block: the command, then its output up to a blank
# line followed by text that is not indented.
$PYTHON - "$readme" <<'PY'
import subprocess, sys
lines = open(sys.argv[1]).read().split("\n")
blocks, i = [], 0
while i < len(lines):
    l = lines[i]
    if l.startswith("    $ t2m-") and "analyze" in l:
        cmd, out = l[6:], []
        i += 1
        while i < len(lines) and (lines[i].startswith("    ") or
                                  lines[i] == ""):
            if lines[i] == "" and (i + 1 >= len(lines) or
                                   not lines[i + 1].startswith("    ")):
                break
            out.append(lines[i][4:])
            i += 1
        blocks.append((cmd, "\n".join(out).rstrip("\n") + "\n"))
    i += 1
if len(blocks) < 2:
    sys.exit(f"found {len(blocks)} t2m-analyze examples in the README")
bad = 0
for cmd, want in blocks:
    got = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if got.returncode != 0 or got.stdout != want:
        print(f"README example differs: $ {cmd}\n--- README\n{want}--- got\n"
              f"{got.stdout}{got.stderr}")
        bad = 1
sys.exit(bad)
PY
