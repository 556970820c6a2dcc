# footprint.py  does the firmware fit a board? .mpy size per architecture, the heap free
# after boot (meter personalised, ui made) in micropython -X heapsize=96K, and the whole
# meter (the simulator's board loop, all of it .mpy) in the smallest heap that boots and runs
# the keypad soak of tests/e2e/test_e2e_faults.py; the home meter's parts and its soak with the
# network on (tests/net/test_home_soak.py) the same way, on both builds when MICROPYTHON32 is
# given, with the goal "the home meter in 96K on the 32-bit build" (goals.py)
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


def main(goals=None):
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
    home_parts()
    soak(tokens, test=HOME_64)
    mp32 = os.environ.get("MICROPYTHON32")
    if mp32:  # a 32-bit unix build (bench/micropython32.sh)
        for kind in KINDS:
            soak(tokens, mp32, "x86", kind)
        home_parts(mp32, "x86")
        heap = soak(tokens, mp32, "x86", test=HOME)
        met = heap is not None and int(heap[:-1]) <= 96
        print(
            "goal: the home meter (%d tokens, the network on) in at most 96K on the 32-bit "
            "build: %s: %s"
            % (tokens, heap or "none", goals.check(GOAL_96K, met) if goals else met)
        )
    else:
        print(
            "(a 32-bit build, a board's word size: bench/micropython32.sh makes one; "
            "then make bench MICROPYTHON32=path)"
        )


HEAPS = ("64K", "68K", "72K", "80K", "88K", "96K", "104K", "112K", "128K")
KINDS = ("sta", "misty1")  # each meter kind's soak: STA (DKGA02), MISTY1 (DKGA04)
KEYPAD = (
    "tests/e2e/test_e2e_faults.py",
    HEAPS,
    "the whole meter (board loop, drivers, meter, ui; .mpy)",
)
GOAL_96K = "the home meter in 96K on the 32-bit build"
HOME = (
    "tests/net/test_home_soak.py",
    ("88K", "92K", "96K", "112K", "128K"),  # 96K: the goal on a 32-bit build
    "the home meter (the same, with MQTT to mosquitto and the page polled; .mpy)",
)
# On the 64-bit port objects are twice a board's: the search starts higher there.
HOME_64 = (HOME[0], ("120K", "128K", "136K", "144K", "160K"), HOME[2])
# What each part of the home meter adds to the heap once imported from .mpy (x64), in order.
PARTS = (
    (
        "the keypad meter (app, meter, ui)",
        "app\nfrom meter.meter import Meter\nfrom ui.ui import Ui",
    ),
    ("asyncio", "asyncio"),
    (
        "settings and the loop beside the network (net/settings, net/home)",
        "net.settings\nnet.home",
    ),
    ("MQTT and Home Assistant (net/mqtt, net/ha)", "net.mqtt\nnet.ha"),
    ("the page and its API (net/web; the page's text is a file, net/page.html)", "net.web"),
)


def home_parts(interp="micropython", march="x64"):
    """The heap each part of the home meter costs, imported from .mpy. (A part that makes
    MicroPython's table of names (qstrs) outgrow its pool pays for the next pool: 4.7 KB on
    the 32-bit build near 600 names, a step, not a cost that grows with the code.)"""
    lines = ["import gc", "gc.collect()", "a = gc.mem_alloc()"]
    for _, mods in PARTS:
        for m in mods.split("\n"):
            lines.append(m if m.startswith("from") else "import " + m)
        lines += ["gc.collect()", "b = gc.mem_alloc()", "print(b - a)", "a = b"]
    with tempfile.TemporaryDirectory() as tmp:
        build_mpy.build(tmp, march)
        r = subprocess.run(
            [interp, "-X", "heapsize=1M", "-c", "\n".join(lines)],
            capture_output=True,
            text=True,
            env=path_env(tmp),
        )
    if r.returncode:
        raise SystemExit("the home meter's parts failed:\n" + r.stdout + r.stderr)
    print(
        "the home meter's parts, the heap each adds imported from .mpy (%s):"
        % ("unix, 64-bit" if march == "x64" else interp + ", .mpy for " + march)
    )
    for (what, _), n in zip(PARTS, r.stdout.split()):
        print("  %6d B  %s" % (int(n), what))


def soak(tokens, interp=None, march="x64", kind="sta", test=KEYPAD):
    """The whole meter of one kind: the smallest heap in HEAPS that boots the simulator and
    types 50 tokens, then `tokens` tokens in that heap (tests/e2e/test_e2e_faults.py's soak; or the
    home meter's, test=HOME)."""
    path, heaps, what = test
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
        os.path.join(root, path),
    ]
    for heap in heaps:
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
            lines = [s for s in r.stdout.splitlines() if s.startswith(("soak:", "home soak:"))]
            print(
                "%s on %s: %s is the smallest of %s that runs %d tokens (goal: %s)"
                % (
                    what,
                    label,
                    heap,
                    "/".join(heaps),
                    tokens,
                    "64K" if test is KEYPAD else "96K on a 32-bit build",
                )
            )
            for s in lines:
                print("  " + s)
            return heap
        why = re.findall(r"MemoryError[^\n]*", r.stdout + r.stderr)
        print("  %s: no (%s)" % (heap, why[0] if why else "failed"), file=sys.stderr)
    print("%s on %s: no heap up to %s runs the soak" % (what, label, heaps[-1]))
    return None


if __name__ == "__main__":
    main()
