# footprint.py  does the firmware fit a board? .mpy size per architecture, the heap free
# after boot (meter personalised, ui made) in micropython -X heapsize=96K, and the whole
# meter (the simulator's board loop, all of it .mpy) in the smallest heap that boots and runs
# the keypad soak of tests/e2e/test_e2e_faults.py
import os
import re
import subprocess
import sys
import tempfile

from tools import build_mpy, path_env

HERE = os.path.dirname(os.path.abspath(__file__))

BOOT = """
import gc
from binascii import unhexlify
from meter.meter import Meter
from meter.store import RecordStore
from ui.ui import Ui
m = Meter(RecordStore(%r))
m.personalise({"pan": "600727000000000009", "sgc": "123456", "ti": "01", "kt": 2, "krn": 1,
               "ken": 255, "ea": "sta", "base_date": 1993,
               "decoder_key": unhexlify("e653341f9d5bf36f")}, 0)
ui = Ui(m)
ui.frame(0)
gc.collect()
print(gc.mem_free(), gc.mem_alloc())
"""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for march in ("armv6m", "xtensawin", "x64"):
            out = os.path.join(tmp, march)
            files = build_mpy.build(out, march)
            sizes[march] = sum(os.path.getsize(f) for f in files)
        code = BOOT % os.path.join(tmp, "state")
        r = subprocess.run(
            ["micropython", "-X", "heapsize=96K", "-c", code],
            capture_output=True,
            text=True,
            env=path_env(os.path.join(tmp, "x64")),
        )
        if r.returncode:
            raise SystemExit("boot under a 96 KB heap failed:\n" + r.stdout + r.stderr)
        free, used = (int(x) for x in r.stdout.split())
    print(
        "firmware as .mpy: %d bytes for RP2040 (armv6m), %d for ESP32 (xtensawin), %d for "
        "unix x64" % (sizes["armv6m"], sizes["xtensawin"], sizes["x64"])
    )
    print(
        "after boot in micropython -X heapsize=96K (unix, 64-bit): %d bytes free, %d in use"
        % (free, used)
    )
    tokens = int(os.environ.get("SOAK_TOKENS", "10000"))
    for kind in KINDS:
        soak(tokens, kind=kind)
    if os.environ.get("MICROPYTHON32"):  # a 32-bit unix build (bench/micropython32.sh)
        for kind in KINDS:
            soak(tokens, os.environ["MICROPYTHON32"], "x86", kind)
    else:
        print(
            "(a 32-bit build, a board's word size: bench/micropython32.sh makes one; "
            "then make bench MICROPYTHON32=path)"
        )


HEAPS = ("64K", "68K", "72K", "80K", "88K", "96K", "104K", "112K", "128K")
KINDS = ("sta", "misty1")  # each meter kind's soak: STA (DKGA02), MISTY1 (DKGA04)


def soak(tokens, interp=None, march="x64", kind="sta"):
    """The whole meter of one kind: the smallest heap in HEAPS that boots the simulator and
    types 50 tokens, then `tokens` tokens in that heap (tests/e2e/test_e2e_faults.py's soak)."""
    root = os.path.dirname(HERE)
    env = dict(os.environ)
    label = "unix, 64-bit"
    if interp:  # another micropython (a 32-bit build): first on PATH for the test
        d = tempfile.mkdtemp()
        os.symlink(interp, os.path.join(d, "micropython"))
        env["PATH"] = d + os.pathsep + env["PATH"]
        label = interp + " (.mpy for %s)" % march
    label = "%s meter, %s" % (kind, label)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-s",
        "-m",
        "soak",
        "-p",
        "no:cacheprovider",
        os.path.join(root, "tests", "e2e", "test_e2e_faults.py"),
    ]
    for heap in HEAPS:
        for n in (50, tokens):
            print(
                "  soak: %s meter, %d tokens in %s ..." % (kind, n, heap),
                file=sys.stderr,
                flush=True,
            )
            r = subprocess.run(
                cmd,
                cwd=root,
                capture_output=True,
                text=True,
                env=dict(
                    env, SOAK_HEAP=heap, SOAK_TOKENS=str(n), SOAK_MARCH=march, SOAK_KIND=kind
                ),
            )
            if r.returncode:
                break
        if not r.returncode:
            lines = [s for s in r.stdout.splitlines() if s.startswith("soak:")]
            print(
                "the whole meter (board loop, drivers, meter, ui; .mpy) on %s: %s is the "
                "smallest of %s that runs %d tokens (goal: 64K)"
                % (label, heap, "/".join(HEAPS), tokens)
            )
            for s in lines:
                print("  " + s)
            return heap
        why = re.findall(r"MemoryError[^\n]*", r.stdout + r.stderr)
        print("  %s: no (%s)" % (heap, why[0] if why else "failed"), file=sys.stderr)
    print("the whole meter on %s: no heap up to %s runs the soak" % (label, HEAPS[-1]))
    return None


if __name__ == "__main__":
    main()
