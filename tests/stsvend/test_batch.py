# test_batch.py  stsvend batch: a fleet's migration sets and credit tokens from a CSV, the same
# digits as `stsvend migrate` per meter, decoded again by the firmware's codec; bad rows, the
# SMS text, progress, every core, and a rerun after an interruption (nothing twice, none lost)
import argparse
import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import MISTY1, ROOT
from sts import amount, blocks, errors
from sts.codec import Decoder
from stsvend import batch, cli, vend
from stsvend import tid as tids
from stsvend.profile import Profile, luhn_digit
from vendkit import issued, read_out

DEMO_PATH = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
STA_VK = "abababababababab"
DKGA04_VK = MISTY1["vending_key"]
AT = "2025-03-01T06:00Z"
HEADER = "pan,sgc,ti,kt,krn,ken,ea,dkga,base_date,amount"


def pan(i, iin="600727"):
    """A PAN whose meter number (IAIN, the DRN) and PAN both end in their Luhn digit."""
    drn = "%0*d" % (16 - len(iin), i)
    body = iin + drn + str(luhn_digit(drn))
    return body + str(luhn_digit(body))


def fleet(tmp_path, n, ea="sta", dkga=2, start=0, extra=(), name="fleet.csv"):
    """A fleet CSV of n meters (differing PAN, KRN, TI, amount), then `extra` raw lines."""
    lines = [HEADER]
    for i in range(start, start + n):
        lines.append(
            "%s,12345%d,0%d,2,%d,255,%s,%d,1993,%d.5"
            % (pan(i), i % 10, i % 3 + 1, i % 4 + 1, ea, dkga, i % 50 + 1)
        )
    lines.extend(extra)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def key_files(tmp_path):
    sta = tmp_path / "sta.hex"
    sta.write_text(STA_VK + "\n")
    m = tmp_path / "misty.hex"
    m.write_text(DKGA04_VK)
    return {"sta": str(sta), "misty1": str(m)}


@pytest.fixture
def run_batch(tmp_path, capsys):
    """batch.run(argv) with a tmp ledger and a seed: (exit status, stdout, stderr)."""

    def run(*argv, ledger="ledger.db", seed=True):
        pre = ["--ledger", str(tmp_path / ledger)] + (["--seed", "7"] if seed else [])
        code = batch.run(pre + ["batch"] + list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def codes(row):
    return [row[k] for k in ("kct1", "kct2", "kct3", "kct4", "credit") if row.get(k)]


def decode(digits, ea, key):
    dec = Decoder(vend.cipher(ea, key))
    rc = dec.decode(digits)
    assert rc == errors.OK, rc
    return dec.cls, dec.subclass, blocks.fields(dec.cls, dec.block)


def meter(line, vk):
    """The fleet row as a Profile (the profile `stsvend migrate` would be given)."""
    return Profile(
        {
            "pan": line["pan"],
            "sgc": line["sgc"],
            "ti": line["ti"],
            "kt": int(line["kt"]),
            "krn": int(line["krn"]),
            "ken": int(line["ken"]),
            "ea": line["ea"],
            "dkga": int(line["dkga"]),
            "base_date": int(line["base_date"]),
            "vending_key": vk,
        }
    )


def stsvend(tmp_path, capsys, prof, *argv, ledger="single.db"):
    """`stsvend --json --seed 7 --profile P ...` for one meter: its token digits."""
    p = tmp_path / ("p%s.json" % prof.pan)
    p.write_text(json.dumps(dict(prof.as_dict(), vending_key=prof.vending_key.hex())))
    assert (
        cli.main(
            ["--profile", str(p), "--ledger", str(tmp_path / ledger), "--seed", "7", "--json"]
            + list(argv)
        )
        == 0
    )
    out, _ = capsys.readouterr()
    return [t["token"] for t in json.loads(out)["tokens"]]


# --------------------------------------------------------------- the same codes as stsvend


@pytest.mark.parametrize("ea,dkga,vk", [("sta", 2, STA_VK), ("misty1", 4, DKGA04_VK)])
def test_migrate_codes_equal_stsvend_migrate_and_decode(
    tmp_path, capsys, key_files, run_batch, ea, dkga, vk
):
    f = fleet(tmp_path, 6, ea, dkga)
    out = str(tmp_path / "sets.csv")
    code, _, err = run_batch(
        "migrate", f, "--out", out, "--at", AT, "--vending-key", key_files[ea]
    )
    assert code == 0, err
    rows = read_out(out)
    with open(f, newline="") as fh:
        fleet_rows = {r["pan"]: r for r in csv.DictReader(fh)}
    assert sorted(r["pan"] for r in rows) == sorted(fleet_rows)
    for r in rows:
        src = fleet_rows[r["pan"]]
        prof = meter(src, vk)
        got = codes(r)
        assert len(got) == (3 if ea == "sta" else 5)
        assert got == stsvend(tmp_path, capsys, prof, "migrate", src["amount"], "--at", AT)
        # The firmware reads them: the sections under the old key, credit under the new.
        old = prof.decoder_key()
        fields = [decode(d, ea, old) for d in got[:-1]]
        assert [c for c, _, _ in fields] == [2] * len(fields)
        assert fields[0][2]["ro"] == 1 and fields[0][2]["krn"] == prof.krn + 1
        new = prof.decoder_key(krn=prof.krn + 1, base_date=2014)
        cls, sub, fc = decode(got[-1], ea, new)
        assert (cls, sub) == (0, 0)
        assert fc["tid"] == int(r["tid"]) == tids.from_time(tids.parse_time(AT), 2014)
        assert amount.decode(fc["amount"]) == batch.tenths(src["amount"])
        assert (int(r["new_krn"]), int(r["new_base_date"])) == (prof.krn + 1, 2014)


def test_credit_codes_equal_stsvend_credit(tmp_path, capsys, key_files, run_batch):
    f = fleet(tmp_path, 4)
    out = str(tmp_path / "tokens.csv")
    at = "2024-11-23T10:00Z"  # inside base 1993's window
    code, _, err = run_batch(
        "credit", f, "--out", out, "--at", at, "--vending-key", key_files["sta"]
    )
    assert code == 0, err
    with open(f, newline="") as fh:
        fleet_rows = {r["pan"]: r for r in csv.DictReader(fh)}
    for r in read_out(out):
        prof = meter(fleet_rows[r["pan"]], STA_VK)
        want = stsvend(
            tmp_path, capsys, prof, "credit", fleet_rows[r["pan"]]["amount"], "--at", at
        )
        assert [r["credit"]] == want
        cls, sub, fc = decode(r["credit"], "sta", prof.decoder_key())
        assert (cls, sub, fc["tid"]) == (0, 0, int(r["tid"]))
        assert re.fullmatch(
            r"Meter \d{11}: Enter \(#\) after the code\.\n1:(\d{4} ){4}\d{4} =\d+\.\dkWh", r["sms"]
        ), r["sms"]


def test_kwh_option_gives_every_meter_the_amount(tmp_path, key_files, run_batch):
    path = tmp_path / "noamount.csv"
    path.write_text(
        "pan,sgc,ti,kt,krn,ken,ea,dkga,base_date\n%s,123456,01,2,1,255,sta,2,1993\n" % pan(5)
    )
    out = str(tmp_path / "o.csv")
    assert (
        run_batch(
            "migrate",
            str(path),
            "--out",
            out,
            "--at",
            AT,
            "--kwh",
            "25.55",
            "--vending-key",
            key_files["sta"],
        )[0]
        == 0
    )
    assert read_out(out)[0]["amount"] == "25.6"  # rounded up, as stsvend does


def test_profile_vending_key_serves_every_row(tmp_path, capsys):
    f = fleet(tmp_path, 3)
    out = str(tmp_path / "o.csv")
    code = batch.run(
        [
            "--profile",
            DEMO_PATH,
            "--ledger",
            str(tmp_path / "l.db"),
            "batch",
            "migrate",
            f,
            "--out",
            out,
            "--at",
            AT,
            "--workers",
            "1",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert len(read_out(out)) == 3


# ----------------------------------------------------------------------------- the SMS text


def test_sms_text_sta_two_sections_then_credit(tmp_path, key_files, run_batch):
    out = str(tmp_path / "o.csv")
    run_batch(
        "migrate", fleet(tmp_path, 2), "--out", out, "--at", AT, "--vending-key", key_files["sta"]
    )
    for r in read_out(out):
        g = [" ".join(c[i : i + 4] for i in range(0, 20, 4)) for c in codes(r)]
        assert r["sms"] == (
            "Meter %s: Enter (#) after each code. 1 & 2 within 2 min.\n"
            "1:%s\n2:%s\n3:%s =%skWh" % ((r["pan"][6:17],) + tuple(g) + (r["amount"],))
        )
        assert len(r["sms"]) <= 160 and not r["sms2"]  # one SMS


def test_sms_text_misty1_four_sections(tmp_path, key_files, run_batch):
    out = str(tmp_path / "o.csv")
    run_batch(
        "migrate",
        fleet(tmp_path, 1, "misty1", 4),
        "--out",
        out,
        "--at",
        AT,
        "--vending-key",
        key_files["misty1"],
    )
    r = read_out(out)[0]
    text = r["sms"] + "\n" + r["sms2"]  # two SMS: five codes do not fit one
    assert re.fullmatch(
        r"\(1/2\)\nMeter \d{11}: Enter \(#\) after each code\. 1 to 4 within 2 min\.\n"
        r"(([1-4]):(\d{4} ){4}\d{4}\n)+\(2/2\)\n([1-4]:(\d{4} ){4}\d{4}\n)*"
        r"5:(\d{4} ){4}\d{4} =\d+\.\dkWh",
        text,
    ), text
    assert len(r["sms"]) <= 160 and len(r["sms2"]) <= 160


# ------------------------------------------------------------------------------ bad rows


def test_bad_rows_named_by_line_and_the_others_go_on(tmp_path, key_files, run_batch):
    bad = [
        "600727000000000008,123456,01,2,1,255,sta,2,1993,10",  # line 5: Luhn
        "%s,123456,01,2,1,255,des,2,1993,10" % pan(90),  # line 6: unknown ea
        "%s,123456,01,2,9,255,sta,2,1993,10" % pan(91),  # line 7: KRN 9
        "%s,123456,01,2,1,255,sta,2,1993,ten" % pan(92),  # line 8: amount
        "%s,123456,01,2,1,255,sta,2,1993,10" % pan(1),  # line 9: a PAN again
        "%s,123456,1,2,1,255,sta,2,1993,10" % pan(93),
    ]  # line 10: TI 1 digit
    f = fleet(tmp_path, 3, extra=bad + ["%s,123456,01,2,1,255,sta,2,1993,10" % pan(94)])
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch(
        "migrate", f, "--out", out, "--at", AT, "--vending-key", key_files["sta"], "--chunk", "2"
    )
    assert code == 1
    for line, why in (
        (5, "check digit"),
        (6, "ea"),
        (7, "KRN 9"),
        (8, "amount"),
        (9, "already on line 3"),
        (10, "ti"),
    ):
        assert re.search(r"fleet\.csv line %d \(pan \d{18}\): .*%s" % (line, why), err), (
            line,
            err,
        )
    assert "6 bad" in err and "6 bad row(s) were not issued" in err
    assert sorted(r["pan"] for r in read_out(out)) == sorted([pan(0), pan(1), pan(2), pan(94)])
    # The bad rows took no TID.
    assert sorted(p for p, _, _ in issued(str(tmp_path / "ledger.db"))) == sorted(
        [pan(0), pan(1), pan(2), pan(94)]
    )


def test_missing_column_is_an_error(tmp_path, key_files, run_batch):
    path = tmp_path / "f.csv"
    path.write_text("pan,sgc,ti\n%s,123456,01\n" % pan(1))
    code, _, err = run_batch(
        "credit", str(path), "--out", str(tmp_path / "o.csv"), "--vending-key", key_files["sta"]
    )
    assert code == 2 and "missing column(s) kt, krn, ken, ea, dkga, base_date, amount" in err
    code, _, err = run_batch(  # (migrate without an amount: the key change codes alone)
        "migrate", str(path), "--out", str(tmp_path / "o.csv"), "--vending-key", key_files["sta"]
    )
    assert code == 2 and "missing column(s) kt, krn, ken, ea, dkga, base_date " in err


def test_no_vending_key_is_an_error(tmp_path, run_batch):
    code, _, err = run_batch("migrate", fleet(tmp_path, 1), "--out", str(tmp_path / "o.csv"))
    assert code == 2 and "--profile PROFILE or --vending-key FILE" in err


# -------------------------------------------------------------------- the ledger, resuming


def test_a_taken_tid_moves_to_the_next_free_minute_as_stsvend(
    tmp_path, capsys, key_files, run_batch
):
    f = fleet(tmp_path, 3)
    t = tids.from_time(tids.parse_time(AT), 2014)
    ledger = str(tmp_path / "ledger.db")
    tids.Ledger(ledger).claim(pan(1), 2014, t)
    single = str(tmp_path / "single.db")
    tids.Ledger(single).claim(pan(1), 2014, t)
    out = str(tmp_path / "o.csv")
    assert (
        run_batch("migrate", f, "--out", out, "--at", AT, "--vending-key", key_files["sta"])[0]
        == 0
    )
    row = {r["pan"]: r for r in read_out(out)}[pan(1)]
    assert int(row["tid"]) == t + 1 and "moved to the next free minute" in row["note"]
    with open(f, newline="") as fh:
        src = [r for r in csv.DictReader(fh) if r["pan"] == pan(1)][0]
    assert codes(row) == stsvend(
        tmp_path, capsys, meter(src, STA_VK), "migrate", src["amount"], "--at", AT
    )
    assert [x for x in issued(ledger) if x[0] == pan(1)] == [
        (pan(1), 2014, t),
        (pan(1), 2014, t + 1),
    ]


def assert_once_each(out, ledger, pans):
    rows = read_out(out)
    assert sorted(r["pan"] for r in rows) == sorted(pans)  # every meter exactly once
    got = issued(ledger)
    assert sorted(p for p, _, _ in got) == sorted(pans)  # one TID each: none twice, none lost
    by = {p: tid for p, _, tid in got}
    assert all(int(r["tid"]) == by[r["pan"]] for r in rows)
    db = sqlite3.connect(ledger)
    assert db.execute("SELECT count(*) FROM batch_pending").fetchone()[0] == 0
    db.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_stopped_run_continues_where_it_stopped(tmp_path, key_files, run_batch, workers):
    f = fleet(tmp_path, 40)
    out = str(tmp_path / "o.csv")
    args = (
        "migrate",
        f,
        "--out",
        out,
        "--at",
        AT,
        "--vending-key",
        key_files["sta"],
        "--chunk",
        "7",
        "--workers",
        workers,
    )
    code, _, err = run_batch(*args, "--stop-after", "10")
    assert code == 0 and "stopped early" in err
    first = read_out(out)
    assert len(first) == 14  # whole chunks
    code, _, err = run_batch(*args)
    assert code == 0 and "26 issued, 14 already in" in err
    assert read_out(out)[:14] == first
    assert_once_each(out, str(tmp_path / "ledger.db"), [pan(i) for i in range(40)])
    # Once complete, the same command issues nothing more.
    code, _, err = run_batch(*args)
    assert code == 0 and "0 issued, 40 already in" in err
    assert len(issued(str(tmp_path / "ledger.db"))) == 40


@pytest.mark.parametrize("workers", ["1", "2"])
def test_crash_between_ledger_and_output_reissues_nothing(
    tmp_path, key_files, run_batch, monkeypatch, workers
):
    """Killed after a chunk's TIDs are committed, before its rows are written: the rerun writes
    those rows with the codes the ledger kept, and claims no TID for them again. With 2
    workers the units after it may be committed too (workers claim as they go): those are
    written the same way."""
    f = fleet(tmp_path, 30)
    out = str(tmp_path / "o.csv")
    args = (
        "migrate",
        f,
        "--out",
        out,
        "--at",
        AT,
        "--vending-key",
        key_files["sta"],
        "--chunk",
        "8",
        "--workers",
        workers,
    )
    lost = []

    def crash(rows):
        if not lost and rows[0][0] == 10:  # the second chunk: lines 10..17
            lost.extend(rows)
            raise KeyboardInterrupt

    monkeypatch.setattr(batch, "_after_commit", crash)
    code, _, err = run_batch(*args, seed=False)
    assert code == 130 and "run the same command again" in err
    committed = len(issued(str(tmp_path / "ledger.db")))
    assert len(read_out(out)) == 8
    assert committed == 16 if workers == "1" else committed >= 16
    monkeypatch.setattr(batch, "_after_commit", None)
    code, _, err = run_batch(*args, seed=False)  # unseeded: only the ledger can give them back
    assert code == 0, err
    assert "%d meter(s) issued before the interruption" % (committed - 8) in err
    rows = {r["pan"]: r for r in read_out(out)}
    for r in lost:  # the very codes committed before the crash
        assert codes(rows[r[1]]) == [c for c in r[7:12] if c]
    assert_once_each(out, str(tmp_path / "ledger.db"), [pan(i) for i in range(30)])


def test_killed_process_then_rerun(tmp_path, key_files):
    """SIGKILL a real `batch migrate` midway (a cut last line included), then run it again."""
    n = 3000
    f = fleet(tmp_path, n)
    out = str(tmp_path / "o.csv")
    ledger = str(tmp_path / "ledger.db")
    code = "import sys; from stsvend import batch; sys.exit(batch.run(sys.argv[1:]))"
    argv = [
        sys.executable,
        "-c",
        code,
        "--ledger",
        ledger,
        "batch",
        "migrate",
        f,
        "--out",
        out,
        "--at",
        AT,
        "--vending-key",
        key_files["sta"],
        "--chunk",
        "50",
    ]
    p = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(out) and os.path.getsize(out) > 30000:
            break
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done = len(read_out(out))
    assert 0 < done < n
    with open(out, "a") as fh:
        fh.write("9,6007270000")  # a row cut by the kill
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert_once_each(out, ledger, [pan(i) for i in range(n)])


# --------------------------------------------------------------- progress, every core


def test_progress_on_stderr(tmp_path, key_files, run_batch):
    code, out, err = run_batch(
        "migrate",
        fleet(tmp_path, 20),
        "--out",
        str(tmp_path / "o.csv"),
        "--at",
        AT,
        "--vending-key",
        key_files["sta"],
        "--chunk",
        "5",
    )
    assert code == 0 and out == ""
    assert re.search(r"batch migrate: 20/20 meters, \d+/s, took \d+:\d\d", err), err


def test_json_summary_on_stdout(tmp_path, key_files, run_batch):
    f = fleet(tmp_path, 3, extra=["600727000000000008,123456,01,2,1,255,sta,2,1993,10"])
    out = str(tmp_path / "o.csv")
    code, text, _ = run_batch(
        "migrate", f, "--out", out, "--at", AT, "--vending-key", key_files["sta"], "--json"
    )
    assert code == 1
    assert json.loads(text) == {"issued": 3, "already": 0, "bad": 1, "complete": True, "out": out}


def test_progress_line_has_count_rate_and_eta(capsys):
    import io

    s = io.StringIO()
    p = batch.Progress("batch migrate", 1000, s, every=0)
    p.start -= 2
    p.show(400, 400)
    assert re.fullmatch(r"batch migrate: 400/1000 meters, \d+/s, ETA 0:0[2-4]\n", s.getvalue())


def test_workers_give_the_same_output_as_one(tmp_path, key_files, run_batch):
    f = fleet(tmp_path, 60, extra=["600727000000000008,123456,01,2,1,255,sta,2,1993,10"])
    outs = []
    for w in ("1", "2", "3"):
        out = str(tmp_path / ("o%s.csv" % w))
        code, _, _ = run_batch(
            "migrate",
            f,
            "--out",
            out,
            "--at",
            AT,
            "--vending-key",
            key_files["sta"],
            "--chunk",
            "9",
            "--workers",
            w,
            ledger="l%s.db" % w,
        )
        assert code == 1
        with open(out) as fh:
            outs.append(fh.read())
    assert outs[0] == outs[1] == outs[2]
    assert len(list(csv.reader(outs[0].splitlines(keepends=True)))) == 61


# ------------------------------------------------------------------------ the command line


def test_add_parser_registers_batch_with_help(capsys):
    ap = argparse.ArgumentParser(prog="stsvend")
    sub = ap.add_subparsers(dest="cmd")
    batch.add_parser(sub)
    with pytest.raises(SystemExit):
        ap.parse_args(["batch", "migrate", "--help"])
    text = capsys.readouterr().out
    assert "--out OUT.csv" in text and "--vending-key FILE" in text
    assert "stsvend --profile demo batch migrate fleet-demo.csv" in text
    args = ap.parse_args(["batch", "credit", "f.csv", "--out", "o.csv", "--kwh", "5"])
    assert (args.cmd, args.batch_cmd, args.fleet, args.kwh) == ("batch", "credit", "f.csv", "5")


def test_stsvend_batch_is_a_subcommand_of_stsvend(tmp_path, capsys, key_files):
    # The wiring: `stsvend batch migrate` through the CLI's own parser and exit status; a
    # bad row gives exit 1 with the others written.
    path = fleet(tmp_path, 3, extra=["600727000000000008,123456,01,2,1,255,sta,2,1993,1"])
    out = tmp_path / "sets.csv"
    code = cli.main(
        [
            "--ledger",
            str(tmp_path / "l.db"),
            "--seed",
            "7",
            "batch",
            "migrate",
            path,
            "--out",
            str(out),
            "--vending-key",
            key_files["sta"],
            "--workers",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "line 5" in err, err
    rows = read_out(out)
    assert len(rows) == 3 and all(r["sms"].startswith("Meter ") for r in rows)
    r = subprocess.run(
        [sys.executable, "-m", "stsvend.cli", "batch", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "migrate" in r.stdout and "credit" in r.stdout, r.stderr


def test_the_help_examples_run_as_written_in_any_directory(tmp_path, capsys, monkeypatch):
    import shlex

    monkeypatch.chdir(tmp_path)  # an empty directory: the packaged demo profile and fleet
    lines = [
        ln.strip()
        for ln in batch.EPILOG.splitlines()
        if ln.strip().startswith("stsvend --profile")
    ]
    assert len(lines) == 4, batch.EPILOG
    for line in lines:
        assert cli.main(shlex.split(line)[1:]) == 0, (line, capsys.readouterr().err)
        out = shlex.split(line)[shlex.split(line).index("--out") + 1]
        assert len(read_out(tmp_path / out)) == 5, line


AT_1993 = "2024-06-01T12:00Z"  # inside the window of the fleet's base date


def test_two_runs_on_one_output_at_once_are_refused(tmp_path, capsys, key_files, run_batch):
    # Both would read the output before either wrote, and issue every meter twice (two
    # credit tokens, both good): the second is refused while the first holds the output
    # (a lock on the file itself, held by another process, as a running batch holds it).
    path = fleet(tmp_path, 3)
    out = tmp_path / "out.csv"
    hold = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.lockf(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()"
    )
    held = subprocess.Popen(
        [sys.executable, "-c", hold, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.stdout.readline() == "held\n"
        code, _, err = run_batch(
            "credit", path, "--out", str(out), "--vending-key", key_files["sta"], "--at", AT_1993
        )
    finally:
        held.stdin.close()
        held.wait(timeout=60)
    assert code == 2 and "another batch is writing" in err, err
    assert not out.exists() or len(read_out(out)) == 0
    code, _, err = run_batch(
        "credit", path, "--out", str(out), "--vending-key", key_files["sta"], "--at", AT_1993
    )  # the lock let go: it runs
    assert code == 0 and len(read_out(out)) == 3, err


def test_an_amount_that_overflows_or_an_empty_pan_is_a_bad_row_not_a_crash(
    tmp_path, key_files, run_batch
):
    path = fleet(
        tmp_path,
        2,
        extra=[
            pan(7) + ",123456,01,2,1,255,sta,2,1993,9e999999",
            ",123456,01,2,1,255,sta,2,1993,1",
            ",123456,01,2,1,255,sta,2,1993,1",
        ],
    )
    out = tmp_path / "out.csv"
    code, _, err = run_batch(
        "credit",
        path,
        "--out",
        str(out),
        "--vending-key",
        key_files["sta"],
        "--workers",
        "1",
        "--at",
        AT_1993,
    )
    assert code == 1 and "Traceback" not in err, err
    assert "line 4" in err and "amount" in err, err
    assert "already on line" not in err, "an empty PAN is not a repeated one: " + err
    assert len(read_out(out)) == 2
