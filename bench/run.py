# run.py  `make bench`: decode speed and heap per decode, STA and MISTY1, micropython and
# CPython, each as a ratio to the bit-by-bit baseline measured in the same run; the decode's
# halves side by side (the parse: digits to block and CRC check; the decrypt), and whether
# the parse is the cheaper (the goal); then what forging one credit token costs at the
# keypad (forge.py), from the lock schedule measured on the meter in the same run.
# Not a test: figures vary with the machine; the ratios are what to compare.
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from goals import Goals  # bench/, this script's folder

from sts.blocks import encode
from sts.misty1 import Misty1
from sts.sta import Sta
from tools import FIRMWARE, TESTS_MP, path_env

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def tokens(cipher, n, rng):
    """n different class 0 credit tokens: distinct TIDs, random amounts and subclasses."""
    tids = rng.sample(range(1 << 24), n)
    return [
        encode(
            0,
            rng.randrange(4),
            {"tid": tid, "rnd": rng.randrange(16), "amount": rng.randrange(1 << 16)},
            cipher,
        )
        for tid in tids
    ]


def run(interp, spec_path, label):
    print("  running %s ..." % label, file=sys.stderr, flush=True)
    cmd = interp + [os.path.join(HERE, "mp_bench.py"), spec_path]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env=path_env(FIRMWARE, HERE, TESTS_MP)
    )
    if out.returncode:
        raise SystemExit("%s failed:\n%s%s" % (label, out.stdout, out.stderr))
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    for r in rows:
        if "kernels" in r:
            print(
                "  %s kernels: %s"
                % (
                    label,
                    "viper"
                    if not r["kernels"]
                    else "portable (%s%s)"
                    % (r["kernels"], "" if r["expected"] else ", NOT EXPECTED: a fault"),
                ),
                file=sys.stderr,
            )
    return [r for r in rows if "variant" in r]


def halves(by, goals):
    """The parse, the decrypt and the whole decode side by side, micropython, same run."""
    print()
    print("the decode's halves (micropython, median us; x = faster than the baseline decode)")
    print(
        "%-10s %-8s %16s %16s %16s %14s"
        % ("path", "cipher", "parse", "decrypt", "decode", "parse/decrypt")
    )
    base = by["micropython", "sta-bitwise-baseline"]
    for path, tail in (("viper", ""), ("portable", "-portable")):
        for ea in ("sta", "misty1"):
            p, d, w = (by["micropython", v + tail] for v in ("parse", ea + "-decrypt", ea))
            print(
                "%-10s %-8s %16s %16s %16s %14.2f"
                % (
                    path,
                    ea,
                    "%.2f (%.0fx)" % (p, base / p),
                    "%.2f (%.0fx)" % (d, base / d),
                    "%.2f (%.0fx)" % (w, base / w),
                    p / d,
                )
            )
    p, d = by["micropython", "parse"], by["micropython", "sta-decrypt"]
    print(
        "goal: the parse cheaper than the STA decrypt (viper, this run): %.2f us vs %.2f us: "
        "%s" % (p, d, goals.check("the parse cheaper than the STA decrypt", p < d))
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description="decode benchmark (medians and ratios)")
    ap.add_argument("-n", type=int, default=1000, help="tokens per cipher (default 1000)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--heap", default="4M", help="micropython heap (holds all the tokens)")
    ap.add_argument(
        "--forge-guesses",
        type=int,
        default=300,
        help="guesses per attacker strategy in the lockout measurement",
    )
    ap.add_argument(
        "--crc-samples",
        type=int,
        default=16000000,
        help="random blocks for the CRC odds check (0: skip it)",
    )
    ap.add_argument(
        "--batch-meters", type=int, default=20000, help="fleet size for stsvend batch migrate"
    )
    ap.add_argument(
        "--batch-single",
        type=int,
        default=200,
        help="meters for one stsvend migrate each, the batch's baseline",
    )
    args = ap.parse_args(argv)
    mp = shutil.which("micropython")
    if not mp:
        raise SystemExit("no `micropython` on PATH: run `make setup`")
    rng = random.Random(args.seed)
    sta_key = rng.randbytes(8)
    m1_key = rng.randbytes(16)
    print("making %d STA and %d MISTY1 tokens ..." % (args.n, args.n), file=sys.stderr)
    spec = {
        "sta_key": sta_key.hex(),
        "misty1_key": m1_key.hex(),
        "sta_tokens": tokens(Sta(sta_key), args.n, rng),
        "misty1_tokens": tokens(Misty1(m1_key), args.n, rng),
        # For Meter.apply: credit tokens whose TIDs rise, so every one is accepted.
        "meter_tokens": [
            encode(0, 0, {"tid": 1 + i, "rnd": rng.randrange(16), "amount": 5}, Sta(sta_key))
            for i in range(args.n)
        ],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        rows = run([mp, "-X", "heapsize=" + args.heap], f.name, "micropython")
        rows += run([sys.executable], f.name, "CPython")
    finally:
        os.unlink(f.name)
    print("decode one token (digits to verified fields), median over %d tokens" % args.n)
    print(
        "%-12s %-22s %10s %9s %14s"
        % ("interp", "variant", "median us", "x faster", "heap B/decode")
    )
    for interp in ("micropython", "cpython"):
        sel = [r for r in rows if r["interp"] == interp]
        base = [r for r in sel if r["variant"] == "sta-bitwise-baseline"][0]["median_us"]
        for r in sel:
            heap = (
                "%d (max %d)" % (r["alloc_median"], r["alloc_max"]) if "alloc_median" in r else "-"
            )
            print(
                "%-12s %-22s %10.2f %9.1f %14s"
                % (interp, r["variant"], r["median_us"], base / r["median_us"], heap)
            )
    print(
        "(meter-apply-credit: Meter.apply of a credit token, decode and rules and the state\n"
        " written to LittleFS on a block device that allocates nothing, as a board's flash\n"
        " driver; its heap includes the file system's own buffer for the open file, 384 B\n"
        " here; keypad-to-display: from the Enter key of a typed credit token to the frame\n"
        " that shows ACCEPT, through the ui; their ratios are to the baseline decode)"
    )
    by = {(r["interp"], r["variant"]): r["median_us"] for r in rows}
    goals = Goals()
    ap = [r for r in rows if r["variant"] == "meter-apply-credit"][0]
    print(
        "micropython: heap per accepted credit apply: median %d B (goal <= 512), max %d B "
        "(goal <= 4096): %s"
        % (
            ap["alloc_median"],
            ap["alloc_max"],
            goals.check(
                "heap per accepted credit apply",
                ap["alloc_median"] <= 512 and ap["alloc_max"] <= 4096,
            ),
        )
    )
    print(
        "micropython: STA %.1fx faster than the bit-by-bit baseline (target >= 5x); "
        "MISTY1/STA time ratio %.2f (target <= 2)"
        % (
            by["micropython", "sta-bitwise-baseline"] / by["micropython", "sta"],
            by["micropython", "misty1"] / by["micropython", "sta"],
        )
    )
    halves(by, goals)
    import footprint

    footprint.main(goals)
    import kinds  # bench/kinds.py: every meter kind in 64 KB (with MICROPYTHON32)

    kinds.bench(goals)
    import forge

    forge.main(args.forge_guesses, args.crc_samples, args.seed, goals)
    print()
    import batch  # bench/batch.py: a fleet's migration codes (stsvend batch)

    batch.main(["--meters", str(args.batch_meters), "--single", str(args.batch_single)], goals)
    line, status = goals.summary()
    print()
    print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
