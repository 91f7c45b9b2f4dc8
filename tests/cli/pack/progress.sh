# The progress line, with the standard error on a pseudo-terminal and the
# stream fed slowly: it starts at "0 B of <total>", is redrawn in place
# (\r, no newline) as data arrives, at most about four times a second,
# reaches "<total> of <total> (100%)" and is wiped at the end - for
# safetensors output (data moved by splice), PyTorch output (data read
# and checksummed) and shards.  A failure wipes the line before its
# message.  With -q, or with the standard error not a terminal, nothing
# at all is written.
set -eu
$PYTHON -m gen_st big in.st 6
t2m-unpack -C 256K in.st > s
$PYTHON - <<'PY'
import os, pty, re, subprocess, sys, threading, time

import st
blob = open("s", "rb").read()
_, tensors, _ = st.read("in.st")
total = sum(len(t[2]) for t in tensors.values())


def human(v):
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    u = 0
    while v >= 1024 and u < 5:
        v /= 1024
        u += 1
    return f"{v:.0f} B" if u == 0 else f"{v:.1f} {units[u]}"


def run(args, data, tty=True, pieces=6, pause=0.25):
    """Run t2m-pack ARGS fed DATA in pieces; return (status, stderr
    bytes, seconds)."""
    if tty:
        master, slave = pty.openpty()
        err = slave
    else:
        err = open("errfile", "wb")
    p = subprocess.Popen(["t2m-pack"] + args, stdin=subprocess.PIPE,
                         stderr=err)
    got = bytearray()
    if tty:
        os.close(slave)

        def reader():
            while True:
                try:
                    b = os.read(master, 4096)
                except OSError:
                    return
                if not b:
                    return
                got.extend(b)
        th = threading.Thread(target=reader)
        th.start()
    t0 = time.monotonic()
    step = len(data) // pieces + 1
    try:
        for i in range(0, len(data), step):
            p.stdin.write(data[i:i + step])
            p.stdin.flush()
            time.sleep(pause)
        p.stdin.close()
    except BrokenPipeError:
        pass
    rc = p.wait()
    secs = time.monotonic() - t0
    if tty:
        th.join()
        os.close(master)
    else:
        err.close()
        got = open("errfile", "rb").read()
    return rc, bytes(got), secs


bad = []
T = human(total)
for args in (["out.safetensors"], ["out.pt"], ["-s", "1M", "shards"]):
    rc, out, secs = run(args, blob)
    text = out.decode()
    draws = text.count("\r") - 2        # less the wipe's two
    if rc != 0:
        bad.append(f"{args}: exit status {rc}")
    if not text.startswith(f"\rt2m-pack: 0 B of {T} (0%), --/s, --:-- left"):
        bad.append(f"{args}: begins {text[:80]!r}")
    if f"{T} of {T} (100%)" not in text:
        bad.append(f"{args}: never reaches 100%: {text[-200:]!r}")
    if not re.search(r"\(([1-9]|[1-9]\d)%\), [\d.]+ [KMG]iB/s, \d+:\d\d left",
                     text):
        bad.append(f"{args}: no line with a rate and time left: {text!r}")
    if "\n" in text:
        bad.append(f"{args}: a newline on the line")
    if not re.search(r"\r +\r$", text):
        bad.append(f"{args}: not wiped at the end: {text[-80:]!r}")
    if draws < 4 or draws > secs * 4 + 3:
        bad.append(f"{args}: {draws} draws in {secs:.2f} s")
    # what each draw says: bytes done never go back
    done = [m.group(1) for m in re.finditer(r"\rt2m-pack: ([\d.]+ \w+) of",
                                            text)]
    def num(s):
        v, u = s.split()
        return float(v) * 1024 ** ["B", "KiB", "MiB", "GiB"].index(u)
    if [num(d) for d in done] != sorted(num(d) for d in done):
        bad.append(f"{args}: progress goes back: {done}")

# A failure: the line wiped, then the message on a clean line.
rc, out, _ = run(["fail.safetensors"], blob[:len(blob) // 2], pieces=3)
text = out.decode()
if rc != 1 or not re.search(r"\r +\rt2m-pack: <stdin>: record \d+ at offset "
                            r"\d+: [^\r]*\r?\n$", text):
    bad.append(f"failure: exit status {rc}, stderr ends {text[-150:]!r}")
# -q, and not a terminal: nothing.
for args, tty in ((["-q", "q.safetensors"], True),
                  (["-q", "q.pt"], True), (["f.safetensors"], False),
                  (["f.pt"], False)):
    rc, out, _ = run(args, blob, tty=tty, pieces=2, pause=0.05)
    if rc != 0 or out:
        bad.append(f"{args} (tty {tty}): exit status {rc}, stderr {out!r}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
