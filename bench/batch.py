# batch.py  `make bench`: a fleet's migration codes, `stsvend batch migrate` on every core
# against one `stsvend migrate` per meter (the same vend function, in-process, one core, with
# its profile load and ledger claim) in the same run; projected for ENEO's 650,000 meters.
# Not a test: figures vary with the machine; the ratio and the 2-core projection are the point.
import argparse
import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from goals import Goals  # bench/, this script's folder

from stsvend import batch, vend
from stsvend import profile as profiles
from stsvend import tid as tids

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

VK = "abababababababab"
AT = "2025-03-01T06:00Z"
ENEO = 650000
GOAL = 600  # seconds, on a 2-core machine


def fleet(path, n):
    """n STA DKGA02 meters on base 1993 (the demo meter's kind), differing PAN, KRN and TI."""
    rows = ["pan,sgc,ti,kt,krn,ken,ea,dkga,base_date,amount"]
    for i in range(n):
        drn = "%010d" % i  # the meter number: 10 digits and its Luhn digit
        body = "600727" + drn + str(profiles.luhn_digit(drn))
        rows.append(
            "%s%d,123456,0%d,2,%d,255,sta,2,1993,10"
            % (body, profiles.luhn_digit(body), i % 3 + 1, i % 4 + 1)
        )
    with open(path, "w") as f:
        f.write("\n".join(rows) + "\n")
    return rows[1:]


def run_batch(tmp, fleet_path, key_path, workers, tag):
    out = os.path.join(tmp, "sets%s.csv" % tag)
    argv = [
        "--ledger",
        os.path.join(tmp, "ledger%s.db" % tag),
        "batch",
        "migrate",
        fleet_path,
        "--out",
        out,
        "--at",
        AT,
        "--vending-key",
        key_path,
        "--workers",
        str(workers),
    ]
    err = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = batch.run(argv)
    took = time.perf_counter() - t
    if code:
        raise SystemExit("batch migrate failed (%d):\n%s" % (code, err.getvalue()))
    return took


def single(tmp, rows):
    """One `stsvend migrate` per meter as cli.run does it: load the profile, open the ledger,
    vend.migration with its claim (one transaction each)."""
    paths = []
    for i, row in enumerate(rows):
        f = row.split(",")
        data = {
            "pan": f[0],
            "sgc": f[1],
            "ti": f[2],
            "kt": int(f[3]),
            "krn": int(f[4]),
            "ken": int(f[5]),
            "ea": f[6],
            "dkga": int(f[7]),
            "base_date": int(f[8]),
            "vending_key": VK,
        }
        p = os.path.join(tmp, "m%d.json" % i)
        with open(p, "w") as fh:
            json.dump(data, fh)
        paths.append(p)
    when = tids.parse_time(AT)
    ledger = os.path.join(tmp, "single.db")
    rng = random.SystemRandom()
    t = time.perf_counter()
    for p in paths:
        prof = profiles.load(p)
        vend.migration(prof, 100, when, tids.Ledger(ledger, imports=[p + ".tids.json"]), rng)
    took = time.perf_counter() - t
    profs = [profiles.load(p) for p in paths]
    t = time.perf_counter()
    for prof in profs:
        vend.migration(prof, 100, when, None, rng)
    return took, time.perf_counter() - t, paths


def as_process(paths, ledger):
    """ms per real `stsvend migrate` process (Python's start-up included), or None."""
    exe = os.path.join(os.path.dirname(sys.executable), "stsvend")
    if not os.path.exists(exe):
        return None
    t = time.perf_counter()
    for p in paths:
        subprocess.run(
            [exe, "--profile", p, "--ledger", ledger, "migrate", "10", "--at", AT],
            check=True,
            capture_output=True,
        )
    return (time.perf_counter() - t) / len(paths) * 1000


def mmss(s):
    return "%d:%02d" % divmod(round(s), 60)


def main(argv=None, goals=None):
    """The section; True when the goal is met (recorded in `goals` too)."""
    goals = goals or Goals()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meters", type=int, default=20000, help="fleet size for batch migrate")
    ap.add_argument("--single", type=int, default=200, help="meters for one call each")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="stsbatch")
    try:
        fleet_path = os.path.join(tmp, "fleet.csv")
        rows = fleet(fleet_path, a.meters)
        key_path = os.path.join(tmp, "vk.hex")
        with open(key_path, "w") as f:
            f.write(VK)
        one_path = os.path.join(tmp, "fleet1.csv")
        n1 = min(a.meters, 5000)
        fleet(one_path, n1)
        t_all = run_batch(tmp, fleet_path, key_path, a.workers, "")
        t_one = run_batch(tmp, one_path, key_path, 1, "1")
        t_single, t_bare, paths = single(tmp, rows[: a.single])
        ms = as_process(paths[:10], os.path.join(tmp, "proc.db"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rate, rate1, rate_s = a.meters / t_all, n1 / t_one, a.single / t_single
    per_core = rate / a.workers
    print("batch: a fleet's migration sets (rollover key change + credit), STA DKGA02")
    print(
        "  batch migrate   %6d meters, %d workers (%d cores): %6.0f meters/s"
        % (a.meters, a.workers, os.cpu_count() or 1, rate)
    )
    print(
        "  batch migrate   %6d meters, 1 worker:             %6.0f meters/s (x%.2f with %d)"
        % (n1, rate1, rate / rate1, a.workers)
    )
    print(
        "  stsvend migrate %6d calls, in-process, 1 core:    %6.0f meters/s%s"
        % (
            a.single,
            rate_s,
            ""
            if ms is None
            else " (as a process: %.0f ms a call, %.1f meters/s)" % (ms, 1000 / ms),
        )
    )
    print(
        "  vend.migration alone (no profile file, no ledger), 1 core: %6.0f meters/s"
        % (a.single / t_bare)
    )
    print("  batch / one call per meter: x%.1f" % (rate / rate_s))
    two = 2 * min(per_core, rate1)  # never more per core than one worker alone measured
    if a.workers == 2:
        two = rate
    print(
        "  ENEO's %d meters: %s on this machine, %s on 2 cores; one call per meter: %s "
        "(goal: under %s on 2 cores: %s)"
        % (
            ENEO,
            mmss(ENEO / rate),
            mmss(ENEO / two),
            mmss(ENEO / rate_s),
            mmss(GOAL),
            goals.check("a fleet's codes on 2 cores", ENEO / two < GOAL),
        )
    )
    return not goals.missed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
