# test_bench_and_demo.py  the benchmark and the demo still run (figures are not asserted: the
# bench judges its goals, and exits non-zero when one is missed)
import os
import re
import subprocess
import sys

import pytest

from bench.goals import Goals
from conftest import FIRMWARE, ROOT, micropython_binary, path_env


def _env():
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(micropython_binary()) + os.pathsep + env.get("PATH", "")
    return env


@pytest.mark.soak  # two minutes: the bench's own run, small (make soak, make check)
def test_bench_reports_every_variant_with_ratios_to_the_baseline():
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "bench", "run.py"),
            "-n",
            "25",
            "--crc-samples",
            "0",
            "--batch-meters",
            "300",
            "--batch-single",
            "20",
        ],
        capture_output=True,
        text=True,
        env=dict(path_env(ROOT, env=_env()), SOAK_TOKENS="100"),  # tools/, for bench/
        timeout=600,  # (with the home meter's soak, on a machine shared by several runs)
    )
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr, r.stderr
    for interp in ("micropython", "cpython"):
        for variant in (
            "sta",
            "sta-portable",
            "misty1",
            "misty1-portable",
            "parse",
            "parse-portable",
            "sta-decrypt",
            "sta-decrypt-portable",
            "misty1-decrypt",
            "misty1-decrypt-portable",
            "sta-bitwise-baseline",
        ):
            assert re.search(r"^%s\s+%s\s+[\d.]+\s+[\d.]+" % (interp, variant), r.stdout, re.M)
    assert re.search(
        r"^micropython\s+meter-apply-credit\s+[\d.]+\s+[\d.]+\s+\d+ \(max \d+\)", r.stdout, re.M
    )
    # Heap per decode is measured under micropython only.
    assert re.search(r"^micropython\s+sta\s+[\d.]+\s+[\d.]+\s+\d+ \(max \d+\)", r.stdout, re.M)
    assert re.search(r"STA [\d.]+x faster than the bit-by-bit baseline", r.stdout)
    # The decode's halves side by side, micropython, with their ratios to the baseline; and
    # whether the parse is cheaper than the STA decrypt in this run (the goal).
    cell = r"[\d.]+ \(\d+x\)"
    for path in ("viper", "portable"):
        for ea in ("sta", "misty1"):
            assert re.search(
                r"^%s\s+%s\s+%s\s+%s\s+%s\s+[\d.]+$" % (path, ea, cell, cell, cell), r.stdout, re.M
            ), (path, ea)
    assert re.search(
        r"^goal: the parse cheaper than the STA decrypt \(viper, this run\): "
        r"[\d.]+ us vs [\d.]+ us: ",
        r.stdout,
        re.M,
    )
    assert "micropython kernels: viper" in r.stderr, "the bench ran the viper kernels"
    # The forging cost, from the lock schedule measured on the meter in the same run: an
    # attacker with no tokens and one who buys the cheapest token as often as it helps.
    for strategy in (
        "plain guesses",
        "kct section after every 2",
        "test token after every 2",
        "power cut after every guess",
        "0.1 kWh token after every guess",
        "0.1 kWh token after every 2",
    ):
        assert re.search(
            r"^%s\s+\d+\s+\d+\s+\d+\s+\d+\s+[\d.]+\s+\d+$" % re.escape(strategy), r.stdout, re.M
        ), strategy
    for who in ("no tokens", "buys 0.1 kWh tokens"):
        m = re.search(r"^%s\s+.+\s+\d+ s\s+([\d.]+) y\s+\d+ \([\d.]+ kWh\)$" % who, r.stdout, re.M)
        assert m and float(m.group(1)) >= 5, (who, m and m.group(0))
    assert "both at least 5 years: PASS" in r.stdout
    # The heap per apply, the whole meter's smallest heap, and a fleet's codes a second.
    assert re.search(r"heap per accepted credit apply: median \d+ B .*max \d+ B", r.stdout)
    assert re.search(r"the whole meter .* (\d+K is the smallest|no heap)", r.stdout)
    assert re.search(r"^  batch / one call per meter: x[\d.]+$", r.stdout, re.M)
    assert re.search(r"ENEO's 650000 meters: .* on 2 cores", r.stdout)
    # Every goal judged, and the exit status says whether one was missed.
    verdicts = re.findall(r"(PASS|FAIL)\)?$", r.stdout, re.M)
    assert len(verdicts) == 4, r.stdout
    missed = verdicts.count("FAIL")
    last = r.stdout.rstrip().splitlines()[-1]
    if missed:
        assert last.startswith("goals: %d of 4 missed: " % missed) and r.returncode == 1, last
    else:
        assert last == "goals: all 4 met" and r.returncode == 0, last


def test_a_missed_goal_fails_the_bench():
    goals = Goals()
    assert goals.check("the parse cheaper", True) == "PASS"
    assert goals.summary() == ("goals: all 1 met", 0)
    assert goals.check("forging", False) == "FAIL"
    assert goals.summary() == ("goals: 1 of 2 missed: forging", 1)


def test_demo_decodes_its_samples_in_micropython():
    r = subprocess.run(
        [micropython_binary(), os.path.join(ROOT, "boards", "unix", "demo.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=path_env(FIRMWARE),
    )
    assert r.returncode == 0, r.stderr
    assert (
        "2371 6100 5011 8319 4197 -> class 0.0 electricity credit: 0.1 units, TID 5871715"
        in r.stdout
    )
    assert "refused: BAD_CRC" in r.stdout


def test_demo_takes_a_token_on_the_command_line():
    r = subprocess.run(
        [
            micropython_binary(),
            os.path.join(ROOT, "boards", "unix", "demo.py"),
            "5090 1894 2098 6026 3092",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=path_env(FIRMWARE),
    )
    assert "register 1000, TID 5910301" in r.stdout
