# test_ledger.py  the issued-TID ledger: one SQLite file that vending processes share, so no
# TID is issued twice, even by two processes at once; old JSON ledgers are taken in, not lost.
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import DEMO_KEY as DEMO_KEY_HEX
from conftest import FIRMWARE, ROOT, path_env
from sts import blocks, errors
from sts.codec import Decoder
from stsvend import cli, vend
from stsvend import tid as tids
from stsvend.profile import Profile
from stsvend.tid import Ledger, TidError

DEMO_PATH = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
with open(DEMO_PATH) as _f:
    DEMO = json.load(_f)
PAN = DEMO["pan"]
DEMO_KEY = bytes.fromhex(DEMO_KEY_HEX)  # (conftest: the demo meter's decoder key)
AT_TEXT = "2024-11-23T10:00Z"
T = 16775160  # the TID of AT_TEXT under base date 1993

# One vending process: N credit tokens for the demo meter, all asked for in the same minute,
# each printed as a JSON line; it opens the ledger and issues only when the GO file appears.
WORKER = r"""
import json, os, random, time
from stsvend import profile, tid, vend
prof = profile.load(%(profile)r)
when = tid.parse_time(%(at)r)
rng = random.Random(%(seed)d)
print("ready", flush=True)
while not os.path.exists(%(go)r):
    time.sleep(0.001)
led = tid.Ledger(%(ledger)r)
for _ in range(%(n)d):
    print(json.dumps(vend.credit(prof, "electricity", 10, when, led, rng).as_dict()))
"""


def run_together(tmp_path, ledger, n, procs=2):
    """Start `procs` vending processes, let them issue together; their tokens, per process."""
    go = str(tmp_path / "go")
    ps = []
    for i in range(procs):
        code = WORKER % {
            "profile": DEMO_PATH,
            "ledger": ledger,
            "at": AT_TEXT,
            "seed": i,
            "go": go,
            "n": n,
        }
        ps.append(
            subprocess.Popen(
                [sys.executable, "-c", code],
                cwd=str(tmp_path),
                env=path_env(ROOT, FIRMWARE),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for p in ps:
            assert p.stdout.readline() == "ready\n", p.stderr.read()
        open(go, "w").close()
        outs = []
        for p in ps:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            outs.append([json.loads(line) for line in out.splitlines()])
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
                p.wait()
    return outs


def decoded_tid(token):
    """The TID a token carries, read back from its 20 digits under the demo meter's key."""
    dec = Decoder(vend.cipher("sta", DEMO_KEY))
    assert dec.decode(token) == errors.OK
    return blocks.fields(dec.cls, dec.block)["tid"]


def write_json_ledger(path, issued):
    with open(path, "w") as f:
        json.dump({"%s@1993" % PAN: issued}, f)


@pytest.mark.parametrize("n", [250, pytest.param(1000, marks=pytest.mark.soak)])
def test_ledger_two_processes_at_once_never_issue_one_tid_twice(tmp_path, n):
    ledger = str(tmp_path / "shared.tids.db")
    outs = run_together(tmp_path, ledger, n)
    assert [len(o) for o in outs] == [n, n]
    got = [decoded_tid(t["token"]) for o in outs for t in o]
    assert got == [t["fields"]["tid"] for o in outs for t in o]
    assert len(set(got)) == 2 * n
    assert sorted(got) == list(range(T, T + 2 * n))  # each took the first free minute
    assert Ledger(ledger).issued(PAN, 1993) == sorted(got)


def test_ledger_is_sqlite_with_a_unique_pan_base_date_tid(tmp_path):
    path = str(tmp_path / "l.db")
    Ledger(path).claim(PAN, 1993, 100)
    with open(path, "rb") as f:
        assert f.read(16) == b"SQLite format 3\x00"
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO issued (pan, base_date, tid) VALUES (?, 1993, 100)", (PAN,))
    db.execute("INSERT INTO issued (pan, base_date, tid) VALUES (?, 2014, 100)", (PAN,))
    db.close()


def test_ledger_none_records_nothing(tmp_path):
    led = Ledger(None)
    assert led.claim(PAN, 1993, 100) == 100
    assert led.claim(PAN, 1993, 100) == 100
    assert os.listdir(tmp_path) == []


def test_ledger_no_tid_left_below_2_24(tmp_path):
    led = Ledger(str(tmp_path / "l.db"))
    assert led.claim(PAN, 1993, tids.TID_LIMIT - 2) == tids.TID_LIMIT - 2
    assert led.claim(PAN, 1993, tids.TID_LIMIT - 2) == tids.TID_LIMIT - 1
    with pytest.raises(TidError, match="no free TID"):
        led.claim(PAN, 1993, tids.TID_LIMIT - 2)
    assert led.claim(PAN, 2014, tids.TID_LIMIT - 1) == tids.TID_LIMIT - 1
    assert led.issued(PAN, 1993) == [tids.TID_LIMIT - 2, tids.TID_LIMIT - 1]


def _filled(path, mine, others):
    """A ledger holding `mine` (TIDs of the demo meter) and `others` meters' TIDs."""
    Ledger(path)
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO issued VALUES (?, 1993, ?)",
            [(PAN, t) for t in mine] + [("%018d" % i, 10**6) for i in range(others)],
        )
    db.close()
    return Ledger(path)


def _work(monkeypatch, ledger, claims):
    """The SQLite work (virtual machine steps) of each claim: what the ledger
    reads, counted the same on any machine, however busy."""
    steps = [0]
    connect = sqlite3.connect

    def counted(*args, **kw):
        db = connect(*args, **kw)
        db.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 1)
        return db

    monkeypatch.setattr(tids.sqlite3, "connect", counted)
    work = []
    for tid in claims:
        steps[0] = 0
        ledger.claim(PAN, 1993, tid)
        work.append(steps[0])
    monkeypatch.setattr(tids.sqlite3, "connect", connect)
    return work


def test_a_claim_reads_no_more_with_thousands_issued(tmp_path, monkeypatch):
    """The first free TID is found through the index: a claim among 20,000 of this meter's
    TIDs (a run of 5,000 among them) and 50,000 of other meters' reads about what it reads
    in a ledger of 30; a claim that rebuilt a set of the issued TIDs would read them all."""
    run = 10**6
    scattered = list(range(0, 3 * 15000, 3))
    few = _filled(str(tmp_path / "few.db"), scattered[:30], 0)
    many = _filled(str(tmp_path / "many.db"), list(range(run, run + 5000)) + scattered, 50000)
    claims = list(range(0, 90, 3))  # each taken: the next minute is free
    small, big = _work(monkeypatch, few, claims), _work(monkeypatch, many, claims)
    assert many.issued(PAN, 1993)[:4] == [0, 1, 3, 4], "each claim took the next minute"
    assert max(small) > 0, "the work is counted"
    assert sum(big) <= 2 * sum(small), (small, big)
    # After a run of 5,000 issued TIDs, the first free one: found, reading along the run.
    assert many.claim(PAN, 1993, run) == run + 5000


def test_ledger_first_free_query_uses_the_index(tmp_path):
    path = str(tmp_path / "l.db")
    Ledger(path)
    db = sqlite3.connect(path)
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + tids._FIRST_FREE, (PAN, 1993, T))]
    db.close()
    assert all("INDEX" in p for p in plan if "issued" in p), plan
    assert not any(p.startswith("SCAN") and "issued" in p for p in plan), plan


def test_ledger_old_json_at_the_ledger_path_is_converted_in_place(tmp_path):
    path = str(tmp_path / "l.json")
    write_json_ledger(path, [T, T + 1, T + 3])
    old = open(path).read()
    led = Ledger(path)
    assert [led.claim(PAN, 1993, T) for _ in range(3)] == [T + 2, T + 4, T + 5]
    with open(path, "rb") as f:
        assert f.read(16) == b"SQLite format 3\x00"
    assert open(str(tmp_path / "l.json.bak")).read() == old
    assert Ledger(path).issued(PAN, 1993) == [T, T + 1, T + 2, T + 3, T + 4, T + 5]
    assert sorted(os.listdir(tmp_path)) == ["l.json", "l.json.bak", "l.json.lock"]


def test_ledger_old_json_converted_by_two_processes_at_once_loses_nothing(tmp_path):
    path = str(tmp_path / "old-ledger")
    write_json_ledger(path, list(range(T, T + 50)))
    outs = run_together(tmp_path, path, 100)
    got = sorted(t["fields"]["tid"] for o in outs for t in o)
    assert got == list(range(T + 50, T + 250))
    assert Ledger(path).issued(PAN, 1993) == list(range(T, T + 250))
    assert json.load(open(str(tmp_path / "old-ledger.json.bak"))) == {
        "%s@1993" % PAN: list(range(T, T + 50))
    }


@pytest.mark.parametrize(
    "text", ["not a ledger", "[1, 2, 3]", '{"no-at-sign": [1]}', '{"%s@1993": [[1]]}' % PAN]
)
def test_ledger_neither_sqlite_nor_json_ledger_is_refused_and_left(tmp_path, capsys, text):
    path = tmp_path / "l.db"
    path.write_text(text)
    with pytest.raises(ValueError, match="neither"):
        Ledger(str(path))
    code = cli.main(
        ["--profile", DEMO_PATH, "--ledger", str(path), "credit", "5", "--at", AT_TEXT]
    )
    out, err = capsys.readouterr()
    assert code == 2 and "neither" in err and out == ""
    assert path.read_text() == text


@pytest.fixture
def profile_copy(tmp_path):
    path = str(tmp_path / "demo.json")
    shutil.copy(DEMO_PATH, path)
    return path


def credit_tid(capsys, *argv):
    assert cli.main(list(argv) + ["--json", "credit", "1", "--at", AT_TEXT]) == 0
    return json.loads(capsys.readouterr().out)["tokens"][0]["fields"]["tid"]


def test_cli_default_ledger_is_profile_tids_db(profile_copy, capsys):
    assert credit_tid(capsys, "--profile", profile_copy) == T
    assert credit_tid(capsys, "--profile", profile_copy) == T + 1
    assert Ledger(profile_copy + ".tids.db").issued(PAN, 1993) == [T, T + 1]
    assert not os.path.exists(profile_copy + ".tids.json")


def test_cli_old_default_json_ledger_is_never_issued_again(profile_copy, capsys):
    old = profile_copy + ".tids.json"
    write_json_ledger(old, [T, T + 1])
    assert credit_tid(capsys, "--profile", profile_copy) == T + 2
    assert credit_tid(capsys, "--profile", profile_copy) == T + 3
    write_json_ledger(old, [T, T + 1, T + 4])  # an old stsvend still writing it
    assert credit_tid(capsys, "--profile", profile_copy) == T + 5
    assert os.path.exists(old)  # left where it was
    # an explicit --ledger for this profile takes the old default's TIDs in too
    assert (
        credit_tid(capsys, "--profile", profile_copy, "--ledger", profile_copy + ".other.db")
        == T + 2
    )


def test_cli_ledger_help_names_the_sqlite_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "PROFILE.tids.db" in out and "tids.json" not in out


def test_cli_key_and_explain_write_no_ledger(profile_copy, capsys):
    assert cli.main(["--profile", profile_copy, "key"]) == 0
    assert cli.main(["--profile", profile_copy, "explain", "23716100501183194197"]) == 0
    assert not os.path.exists(profile_copy + ".tids.db")


def test_vend_with_a_profile_object_and_ledger_round_trip(tmp_path):
    led = Ledger(str(tmp_path / "l.db"))
    p = Profile(DEMO)
    when = tids.parse_time(AT_TEXT)
    toks = [vend.management(p, "tariff-rate", 7, when, led) for _ in range(3)]
    assert [decoded_tid(t.digits) for t in toks] == [T, T + 1, T + 2]
    assert "tid_moved" in toks[2].extra


def test_cli_unreachable_ledger_is_a_clear_error(tmp_path, capsys):
    path = str(tmp_path / "no-such-dir" / "l.db")
    code = cli.main(["--profile", DEMO_PATH, "--ledger", path, "credit", "5", "--at", AT_TEXT])
    out, err = capsys.readouterr()
    assert code == 2 and "ledger" in err and path in err and out == ""
