# test_batch_parts.py  stsvend batch with the workers doing the work (issue 22): the output
# byte for byte what the batch wrote before (its outputs kept in tests/stsvend/batch-4ac42f8),
# the parent claims no TID, kill -9 of the batch or of a worker at random points and every
# meter is in the output once with one TID in the ledger; the vending side's STA encryption
# is the board's
import contextlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import FIRMWARE, MISTY1, ROOT, path_env
from sts.sta import Sta
from stsvend import batch, encrypt
from stsvend import tid as tids
from stsvend.profile import luhn_digit
from vendkit import issued, read_out

FIXTURES = os.path.join(ROOT, "tests", "stsvend", "batch-4ac42f8")
STA_VK = "abababababababab"
AT = "2025-03-01T06:00Z"
TAKEN = "600727000000000348"  # its TID at AT, base 2014, is in the ledger before the run
# Each case: its arguments and exit status. The fixtures' outputs were written by the batch
# of commit 4ac42f8 (the parent claiming and writing) with --seed 7 --chunk 7 --workers 2.
CASES = {
    "sta-migrate": (
        ["batch", "migrate", "fleet-sta.csv", "--at", AT, "--vending-key", "sta.hex"],
        1,  # 4 bad rows: empty amount, KRN 9, a wrong check digit, a meter moved already
    ),
    "misty1-migrate-fr": (
        ["batch", "migrate", "fleet-misty1.csv", "--at", AT, "--vending-key", "misty1.hex"]
        + ["--sms", "fr"],
        0,
    ),
    "demo-migrate": (
        ["--profile", "demo", "batch", "migrate", "fleet-demo.csv", "--kwh", "10"]
        + ["--at", "2024-06-01T12:00Z"],
        0,
    ),
    "demo-credit": (
        ["--profile", "demo", "batch", "credit", "fleet-demo.csv", "--at", "2024-06-01T12:00Z"],
        0,
    ),
    "demo-credit-money": (
        ["--profile", "demo", "batch", "credit", "fleet-demo.csv", "--money", "1000"]
        + ["--tariff", "demo", "--at", "2024-06-01T12:01Z"],
        0,
    ),
}


def test_sta_encryption_on_cpython_is_the_boards():
    rng = random.Random(22)
    for _ in range(3000):
        key = bytes(rng.randrange(256) for _ in range(8))
        block = [rng.getrandbits(24), rng.getrandbits(24), rng.getrandbits(16)]
        board, host = list(block), list(block)
        Sta(key).encrypt(board)
        encrypt.Sta(key).encrypt(host)
        assert host == board


@pytest.mark.parametrize("workers,chunk", [("2", "7"), ("1", "500"), ("2", "3")])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_output_is_byte_for_byte_the_batchs_before(
    tmp_path, monkeypatch, case, workers, chunk
):
    for name in ("fleet-sta.csv", "fleet-misty1.csv"):
        shutil.copy(os.path.join(FIXTURES, name), tmp_path)
    (tmp_path / "sta.hex").write_text(STA_VK)
    (tmp_path / "misty1.hex").write_text(MISTY1["vending_key"])
    monkeypatch.chdir(tmp_path)
    argv, status = CASES[case]
    if case == "sta-migrate":
        tids.Ledger("l.db").claim(TAKEN, 2014, tids.from_time(tids.parse_time(AT), 2014))
    argv = ["--ledger", "l.db", "--seed", "7"] + argv
    argv += ["--out", "o.csv", "--chunk", chunk, "--workers", workers]
    assert batch.run(argv) == status
    with open(os.path.join(FIXTURES, case + ".csv"), "rb") as f:
        assert (tmp_path / "o.csv").read_bytes() == f.read()


# ------------------------------------------------------------------ who does the work


HEADER = "pan,sgc,ti,kt,krn,ken,ea,dkga,base_date,amount"


def pan(i):
    drn = "%010d" % i
    body = "600727" + drn + str(luhn_digit(drn))
    return body + str(luhn_digit(body))


def fleet(tmp_path, n):
    lines = [HEADER] + [
        "%s,12345%d,0%d,2,%d,255,sta,2,1993,%d" % (pan(i), i % 10, i % 3 + 1, i % 4 + 1, i % 9 + 1)
        for i in range(n)
    ]
    path = tmp_path / "fleet.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_the_workers_claim_the_tids_not_the_parent(tmp_path, monkeypatch):
    log = tmp_path / "claims.log"
    real = tids._transaction

    @contextlib.contextmanager
    def spy(path):
        with real(path) as db:
            before = db.execute("SELECT count(*) FROM issued").fetchone()[0]
            yield db
            after = db.execute("SELECT count(*) FROM issued").fetchone()[0]
        with open(log, "a") as f:
            f.write("%d %d\n" % (os.getpid(), after - before))

    tids.Ledger(str(tmp_path / "l.db"))
    monkeypatch.setattr(tids, "_transaction", spy)  # (the workers are forked with it)
    (tmp_path / "sta.hex").write_text(STA_VK)
    argv = ["--ledger", str(tmp_path / "l.db"), "batch", "migrate", fleet(tmp_path, 60)]
    argv += ["--out", str(tmp_path / "o.csv"), "--at", AT, "--vending-key"]
    argv += [str(tmp_path / "sta.hex"), "--chunk", "5", "--workers", "2"]
    assert batch.run(argv) == 0
    claims = [tuple(map(int, line.split())) for line in log.read_text().splitlines()]
    assert sum(n for _, n in claims) == 60
    assert all(n == 0 for pid, n in claims if pid == os.getpid()), "the parent claimed TIDs"


def test_a_worker_that_outlives_its_batch_claims_nothing(tmp_path):
    # A batch killed with kill -9 leaves its workers running until they notice; the rerun
    # took the job over in the ledger, so a unit one of them finishes then claims no TID.
    (tmp_path / "sta.hex").write_text(STA_VK)
    ledger, out = str(tmp_path / "l.db"), str(tmp_path / "o.csv")
    path = fleet(tmp_path, 4)
    argv = ["--ledger", ledger, "batch", "migrate", path, "--out", out, "--at", AT]
    argv += ["--vending-key", str(tmp_path / "sta.hex"), "--workers", "1", "--stop-after", "1"]
    argv += ["--chunk", "1"]
    assert batch.run(argv) == 0
    assert len(issued(ledger)) == 1
    job = {
        "kind": "migrate",
        "vending_key": bytes.fromhex(STA_VK),
        "tenths": None,
        "no_credit": False,
        "tariff": None,
        "money": None,
        "sms": batch.smses.load("en"),
        "when": tids.parse_time(AT),
        "seed": None,
        "commodity": "electricity",
        "ledger": ledger,
        "id": "migrate %s" % os.path.realpath(out),
        "run": "a run before the last",
        "rows": False,
    }
    row = dict(zip(HEADER.split(","), ("%s,123451,02,2,2,255,sta,2,1993,5" % pan(1)).split(",")))
    assert batch._work([(3, row)], job) is None
    assert len(issued(ledger)) == 1
    db = sqlite3.connect(ledger)
    job["run"] = db.execute("SELECT run FROM batch_run").fetchone()[0]
    db.close()
    assert batch._work([(3, row)], job) is not None  # (the job's own run claims)
    assert len(issued(ledger)) == 2


# ------------------------------------------------------------------ kill -9, then again

N = 2000
CODE = "import sys; from stsvend import batch; sys.exit(batch.run(sys.argv[1:]))"


def _argv(tmp_path):
    return [sys.executable, "-c", CODE, "--ledger", str(tmp_path / "l.db"), "batch"] + [
        "migrate",
        str(tmp_path / "fleet.csv"),
        "--out",
        str(tmp_path / "o.csv"),
        "--at",
        AT,
        "--vending-key",
        str(tmp_path / "sta.hex"),
        "--chunk",
        "25",
        "--workers",
        "2",
    ]


def _start(tmp_path):
    return subprocess.Popen(
        _argv(tmp_path),
        cwd=ROOT,
        env=path_env(ROOT, FIRMWARE),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(p, path, size):
    """Until the output holds `size` bytes or the batch has ended."""
    while p.poll() is None and not (os.path.exists(path) and os.path.getsize(path) >= size):
        time.sleep(0.005)


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def assert_every_meter_once(tmp_path, n):
    rows = read_out(str(tmp_path / "o.csv"))
    assert sorted(r["pan"] for r in rows) == sorted(pan(i) for i in range(n))
    got = issued(str(tmp_path / "l.db"))
    assert sorted(p for p, _, _ in got) == sorted(pan(i) for i in range(n)), "a TID twice"
    by = {p: tid for p, _, tid in got}
    assert all(int(r["tid"]) == by[r["pan"]] for r in rows)
    db = sqlite3.connect(str(tmp_path / "l.db"))
    assert db.execute("SELECT count(*) FROM batch_pending").fetchone()[0] == 0
    db.close()


@pytest.mark.parametrize("seed", range(4))
def test_kill_9_at_a_random_point_then_the_rerun_issues_every_meter_once(tmp_path, seed):
    rng = random.Random(seed)
    fleet(tmp_path, N)
    (tmp_path / "sta.hex").write_text(STA_VK)
    out = str(tmp_path / "o.csv")
    for _ in range(3):  # three kills, each at a random point, then a rerun to the end
        p = _start(tmp_path)
        try:
            _wait_for(p, out, rng.randrange(N * 60))  # (rows are about 280 bytes)
            if seed % 2:
                os.kill(p.pid, signal.SIGKILL)  # the batch alone: its workers run on
            else:
                os.killpg(p.pid, signal.SIGKILL)  # the batch and its workers
            p.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
    r = subprocess.run(
        _argv(tmp_path), cwd=ROOT, env=path_env(ROOT, FIRMWARE), capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert_every_meter_once(tmp_path, N)


@pytest.mark.parametrize("seed", range(2))
def test_a_worker_killed_with_kill_9_is_replaced_and_every_meter_issued_once(tmp_path, seed):
    rng = random.Random(seed)
    fleet(tmp_path, N)
    (tmp_path / "sta.hex").write_text(STA_VK)
    out = str(tmp_path / "o.csv")
    p = _start(tmp_path)
    try:
        _wait_for(p, out, 1000 + rng.randrange(N * 50))
        workers = _children(p.pid)
        assert workers, "the batch has its workers"
        os.kill(rng.choice(workers), signal.SIGKILL)
        assert p.wait(timeout=300) == 0, p.stderr.read()
        assert "a worker process died" in p.stderr.read()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
    assert_every_meter_once(tmp_path, N)
