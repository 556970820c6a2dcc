# forge.py  what forging one credit token costs an attacker at the keypad: the lock schedule
# measured on the real meter (forge_mp.py under micropython), times the number of guesses the
# CRC and the subclass make a forgery take. Two attackers side by side: one with no tokens,
# and the customer as attacker, who buys the cheapest token (0.1 kWh) as often as it helps.
# Part of `make bench` (which exits 1 if either is under GOAL_YEARS); also runs alone.
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

from goals import Goals  # bench/, this script's folder

from sts.crc import crc_of
from tools import FIRMWARE, TESTS_MP, path_env

HERE = os.path.dirname(os.path.abspath(__file__))

YEAR = 365.25 * 86400
GOAL_YEARS = 5
# One guess typed as class 0 (the attacker sets the class bits) decrypts to a random block:
# it passes the 16-bit CRC with odds 2**-16, and then is credit (subclass 0..3 of 16) 4/16.
CRC_ODDS = 2**-16
CREDIT_SUBCLASSES = 4
P_CREDIT = CRC_ODDS * CREDIT_SUBCLASSES / 16


def schedule(guesses):
    """Run forge_mp.py in micropython: per strategy, the keypad time (ms) at each guess."""
    mp = shutil.which("micropython")
    if not mp:
        raise SystemExit("no `micropython` on PATH: run `make setup`")
    with tempfile.TemporaryDirectory() as state:
        r = subprocess.run(
            [mp, os.path.join(HERE, "forge_mp.py"), state, str(guesses)],
            capture_output=True,
            text=True,
            env=path_env(FIRMWARE, TESTS_MP),
        )
    if r.returncode:
        raise SystemExit("forge_mp.py failed:\n%s%s" % (r.stdout, r.stderr))
    return [json.loads(line) for line in r.stdout.splitlines()]


def crc_sample(n, seed):
    """Random plaintext blocks (what any typed class 0 block decrypts to, the cipher being a
    permutation): how many pass the CRC, and how many of those are credit."""
    g = random.Random(seed).getrandbits
    passed = credit = 0
    for _ in range(n):
        x = g(64)
        l0 = x & 0xFFFFFF
        l2 = x >> 48
        if crc_of(0, l0, (x >> 24) & 0xFFFFFF, l2) == l0 & 0xFFFF:
            passed += 1
            credit += l2 >> 12 < CREDIT_SUBCLASSES
    return passed, credit


def log2(x):
    return math.log2(x) if x else float("-inf")


def report(rows, samples=0, seed=1, goals=None):
    """Print the section; returns True if the goal is met (and records it in `goals`)."""
    print()
    print("forging one credit token by guessing, at the fastest the keypad lockout allows")
    n = len(rows[0]["spent_ms"])
    print(
        "lock schedule measured on the meter in micropython: %d guesses per strategy, each "
        "typed the\nmoment the lock let it in (1 ms earlier the keypad said LOCKED); keypad "
        "time in seconds" % n
    )
    half = n // 2
    print(
        "%-33s %8s %9s %9s %10s %18s %7s"
        % (
            "strategy",
            "guess 3",
            "guess 10",
            "guess 20",
            "guess %d" % n,
            "s/guess (2nd half)",
            "tokens",
        )
    )
    guesses = round(1 / P_CREDIT)
    for r in rows:
        at = [t / 1000 for t in r["spent_ms"]]
        steady = (at[-1] - at[half - 1]) / (n - half)  # guesses past the ramp, at the cap
        r["steady"] = steady
        r["at"] = at
        # The time of the 1/p-th guess: the measured waits first, then the steady wait.
        r["seconds"] = at[-1] + (guesses - n) * steady
        r["tokens"] = round(r.get("bought", 0) * guesses / n)  # bought at the same rate
        print(
            "%-33s %8.0f %9.0f %9.0f %10.0f %18.1f %7d"
            % (r["strategy"], at[2], at[9], at[19], at[-1], steady, r.get("bought", 0))
        )
    print(
        "a guess is accepted as credit with odds 2**-16 (CRC) x %d/16 (credit subclasses) = "
        "2**%d: %d guesses expected" % (CREDIT_SUBCLASSES, round(math.log2(P_CREDIT)), guesses)
    )
    print(
        "(in the attacker's favour: the class bits chosen (class 0), every TID fresh, the "
        "key never\n expires, no time to type a token)"
    )
    ok = True
    print(
        "%-22s %-33s %14s %7s %16s"
        % ("attacker", "fastest strategy", "keypad time", "", "tokens bought")
    )
    for who, pool in (
        ("no tokens", [r for r in rows if not r.get("bought")]),
        ("buys 0.1 kWh tokens", rows),
    ):
        best = min(pool, key=lambda r: (r["seconds"], r["tokens"]))
        years = best["seconds"] / YEAR
        ok = ok and years >= GOAL_YEARS
        tokens = "%d (%.1f kWh)" % (best["tokens"], best["tokens"] / 10)
        print(
            "%-22s %-33s %12.0f s %5.1f y %16s"
            % (who, best["strategy"], best["seconds"], years, tokens)
        )
    buying = [r for r in rows if r.get("bought")]
    if buying:
        b = min(buying, key=lambda r: r["seconds"])
        print(
            "buying helps nothing: the fastest with tokens bought (%s) takes %.1f years and "
            "%d tokens" % (b["strategy"], b["seconds"] / YEAR, b["tokens"])
        )
    print(
        "both at least %d years: %s"
        % (GOAL_YEARS, (goals or Goals()).check("forging: both attackers >= 5 years", ok))
    )
    if samples:
        passed, credit = crc_sample(samples, seed)
        print(
            "random blocks through the CRC (CPython, %d samples): %d passed, 2**%.2f (2**-16 "
            "expects %.0f);\n %d of them credit, 2**%.2f (2**-18 expects %.0f)"
            % (
                samples,
                passed,
                log2(passed / samples),
                samples * CRC_ODDS,
                credit,
                log2(credit / samples),
                samples * P_CREDIT,
            )
        )
    return ok


def main(guesses=300, samples=16000000, seed=1, goals=None):
    if guesses < 40:
        raise SystemExit("forge: at least 40 guesses a strategy, to see past the ramp")
    return report(schedule(guesses), samples, seed, goals)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="the keypad time to forge one credit token")
    ap.add_argument("--guesses", type=int, default=300, help="guesses per strategy (>= 40)")
    ap.add_argument(
        "--samples",
        type=int,
        default=16000000,
        help="random blocks for the CRC check (0: skip it)",
    )
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sys.exit(0 if main(a.guesses, a.samples, a.seed) else 1)
