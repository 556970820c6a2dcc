# batch.py  `make bench`: a fleet's migration codes, `stsvend batch migrate` with 1 worker and
# with 2 side by side (each run of 1 followed by one of 2 on the same fleet, several times: the
# medians, and the median of the runs' own 2-to-1 ratios, so a machine busy with something
# else weighs on both), against one `stsvend migrate` per meter (the same vend function,
# in-process, one core, with its profile load and ledger claim); projected for ENEO's 650,000
# meters. The goal (issue 22): 2 workers at 3,000 meters a second, ENEO in under 4 minutes.
# Not a test: figures vary with the machine; the ratios and the 2-worker rate are the point.
import argparse
import contextlib
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from goals import FLEET_RATE, Goals  # bench/, this script's folder

from stsvend import batch, vend
from stsvend import profile as profiles
from stsvend import tid as tids

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

VK = "abababababababab"
AT = "2025-03-01T06:00Z"
ENEO = 650000


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
    cpu = _cpu()
    t = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = batch.run(argv)
    took = time.perf_counter() - t
    if code:
        raise SystemExit("batch migrate failed (%d):\n%s" % (code, err.getvalue()))
    return took, [b - a for a, b in zip(cpu, _cpu())]


def _cpu():
    """CPU seconds of this process (the batch's parent) and of its ended children (workers)."""
    return [
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    ]


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


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main(argv=None, goals=None):
    """The section; True when the goal is met (recorded in `goals` too)."""
    goals = goals or Goals()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meters", type=int, default=20000, help="fleet size for batch migrate")
    ap.add_argument("--single", type=int, default=200, help="meters for one call each")
    ap.add_argument("--runs", type=int, default=3, help="runs of 1 and of 2 workers each")
    a = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="stsbatch")
    one, two, cpus = [], [], []
    try:
        fleet_path = os.path.join(tmp, "fleet.csv")
        rows = fleet(fleet_path, a.meters)
        key_path = os.path.join(tmp, "vk.hex")
        with open(key_path, "w") as f:
            f.write(VK)
        for i in range(a.runs):
            took, _ = run_batch(tmp, fleet_path, key_path, 1, "1-%d" % i)
            one.append(a.meters / took)
            took, cpu = run_batch(tmp, fleet_path, key_path, 2, "2-%d" % i)
            two.append(a.meters / took)
            cpus.append(cpu + [sum(cpu) / took])  # (+ the cores the batch had)
        t_single, t_bare, paths = single(tmp, rows[: a.single])
        ms = as_process(paths[:10], os.path.join(tmp, "proc.db"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rate1, rate2 = median(one), median(two)
    ratio = median([b / a for a, b in zip(one, two)])
    rate_s = a.single / t_single
    print(
        "batch: a fleet's migration sets (rollover key change + credit), STA DKGA02, "
        "%d meters, %d runs each (%d cores here)" % (a.meters, a.runs, os.cpu_count() or 1)
    )
    print("                   median meters/s   (runs)")
    for label, rates in (("1 worker ", one), ("2 workers", two)):
        print(
            "  batch migrate, %s %8.0f   (%s)"
            % (label, median(rates), ", ".join("%.0f" % r for r in rates))
        )
    print("  2 workers / 1, in the same runs: x%.2f (median of the runs' ratios)" % ratio)
    parent, workers = (median([c[i] for c in cpus]) / a.meters * 1e6 for i in (0, 1))
    print(
        "  CPU a meter with 2 workers: %.0f us in the workers, %.0f us in the parent (2 cores"
        " to itself: %.0f meters/s)" % (workers, parent, 2e6 / (workers + parent))
    )
    cores = median([c[2] for c in cpus])
    print(
        "  cores the 2-worker runs had: %.2f of 2%s"
        % (cores, " (the machine was busy: the wall rates understate)" if cores < 1.6 else "")
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
    print("  batch / one call per meter: x%.1f" % (rate2 / rate_s))  # (2 workers)
    print(
        "  ENEO's %d meters: %s with 2 workers on 2 cores, %s with 1; one call per meter: %s "
        "(goal: 2 workers at %d meters/s or more, under %s: %s)"
        % (
            ENEO,
            mmss(ENEO / rate2),
            mmss(ENEO / rate1),
            mmss(ENEO / rate_s),
            FLEET_RATE,
            mmss(ENEO / FLEET_RATE),
            goals.check(
                "batch migrate with 2 workers at %d meters/s" % FLEET_RATE, rate2 >= FLEET_RATE
            ),
        )
    )
    return not goals.missed


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
