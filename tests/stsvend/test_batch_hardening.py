# test_batch_hardening.py  the vending side as a utility meets it (issue 19, items 5-9): one
# output however it is named, a rerun after `kill -9` of the batch alone, ASCII digits only,
# nothing sold that the meter will refuse, a bad row that claims nothing, short errors, and a
# killed `--write` that leaves no copy of the vending key behind
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import FIRMWARE, ROOT, path_env
from stsvend import batch, cli, vend
from stsvend import profile as profiles
from stsvend import tid as tids
from stsvend.profile import Profile, ProfileError, luhn_digit
from vendkit import issued, read_out

DEMO_PATH = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
with open(DEMO_PATH) as _f:
    DEMO = json.load(_f)
STA_VK = "abababababababab"
AT = "2024-06-01T12:00Z"  # inside base 1993's window
HEADER = "pan,sgc,ti,kt,krn,ken,ea,dkga,base_date,amount"
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def pan(i):
    """An 18-digit PAN whose meter number (IAIN) and PAN both end in their Luhn digit."""
    drn = "%010d" % i
    body = "600727" + drn + str(luhn_digit(drn))
    return body + str(luhn_digit(body))


def row(p, amount="10", **change):
    f = {
        "pan": p,
        "sgc": "123456",
        "ti": "01",
        "kt": "2",
        "krn": "1",
        "ken": "255",
        "ea": "sta",
        "dkga": "2",
    }
    f.update(base_date="1993", amount=amount)
    f.update(change)
    return ",".join(f[c] for c in HEADER.split(","))


def fleet(tmp_path, lines, name="fleet.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER] + list(lines)) + "\n")
    return str(path)


@pytest.fixture
def key_file(tmp_path):
    k = tmp_path / "sta.hex"
    k.write_text(STA_VK + "\n")
    return str(k)


@pytest.fixture
def run_batch(tmp_path, capsys):
    """batch.run(argv) in this process: (exit status, stdout, stderr)."""

    def run(*argv):
        code = batch.run(["--ledger", str(tmp_path / "ledger.db"), "batch"] + list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


# A batch in its own process that stops after its first chunk's ledger commit (its workers
# forked, its lock held) and says so on stdout; a line on stdin lets it go on.
PAUSED = r"""
import multiprocessing, sys
from stsvend import batch
def pause(rows):
    if not getattr(pause, "done", False):
        pause.done = True
        print("paused %%d" %% len(multiprocessing.active_children()), flush=True)
        sys.stdin.readline()
batch._after_commit = pause
sys.exit(batch.run(sys.argv[1:]))
"""


def paused_batch(tmp_path, argv):
    p = subprocess.Popen(
        [sys.executable, "-c", PAUSED % {"root": ROOT}] + argv,
        cwd=ROOT,
        env=path_env(ROOT, FIRMWARE),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = p.stdout.readline()
    assert line.startswith("paused "), p.stderr.read()
    p.workers = int(line.split()[1])  # its worker processes, forked and alive
    return p


def _end(p):
    """Stop p and every process of its session (its workers), whatever state they are in."""
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


# ------------------------------------------------------------------ 5. one output, two names


def test_one_output_through_a_symlink_is_locked_by_the_first_run(tmp_path, key_file, run_batch):
    # Two runs on one file by two names would each write a credit token for every meter,
    # both valid: the second is refused while the first holds the file.
    path = fleet(tmp_path, [row(pan(i)) for i in range(6)])
    out = tmp_path / "tokens.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(out)
    ledger = str(tmp_path / "ledger.db")
    argv = ["--ledger", ledger, "batch", "credit", path, "--out", str(out)]
    argv += ["--vending-key", key_file, "--at", AT, "--chunk", "2", "--workers", "1"]
    first = paused_batch(tmp_path, argv)
    try:
        code, _, err = run_batch(
            "credit", path, "--out", str(link), "--vending-key", key_file, "--at", AT
        )
        assert code == 2 and "another batch is writing" in err, err
        first.stdin.write("\n")
        first.stdin.flush()
        assert first.wait(timeout=120) == 0, first.stderr.read()
    finally:
        _end(first)
    got = read_out(out)
    assert sorted(r["pan"] for r in got) == sorted(pan(i) for i in range(6))
    assert len(issued(ledger)) == 6, "every meter has one credit token, not two"


# ------------------------------------------------------- 6. kill -9 of the batch's process


def test_kill_9_of_the_batch_alone_then_the_rerun_resumes(tmp_path, key_file, run_batch):
    # Its workers outlive it; the documented rerun must go on all the same.
    n = 8
    path = fleet(tmp_path, [row(pan(i)) for i in range(n)])
    out = str(tmp_path / "sets.csv")
    ledger = str(tmp_path / "ledger.db")
    argv = ["--ledger", ledger, "batch", "migrate", path, "--out", out]
    argv += ["--vending-key", key_file, "--at", AT, "--chunk", "2", "--workers", "2"]
    first = paused_batch(tmp_path, argv)
    try:
        assert first.workers == 2, "the batch's workers are alive"
        os.kill(first.pid, signal.SIGKILL)  # the batch alone: its workers are not told
        first.wait()
        code, _, err = run_batch(
            "migrate", path, "--out", out, "--vending-key", key_file, "--at", AT
        )
        assert code == 0, err
    finally:
        _end(first)
    rows = read_out(out)
    assert sorted(r["pan"] for r in rows) == sorted(pan(i) for i in range(n))
    assert len(issued(ledger)) == n


# ---------------------------------------------------------------- 7. digits are ASCII digits


@pytest.mark.parametrize("table", [FULLWIDTH, ARABIC_INDIC], ids=["fullwidth", "arabic_indic"])
def test_a_pan_in_other_digits_is_a_bad_row_not_another_meter(
    tmp_path, key_file, run_batch, table
):
    # It would derive the same key: the meter would get two tokens with one TID (USED).
    p = pan(3)
    path = fleet(tmp_path, [row(p), row(p.translate(table))])
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch(
        "credit", path, "--out", out, "--vending-key", key_file, "--at", AT, "--workers", "1"
    )
    assert code == 1 and "line 3" in err and "pan" in err, err
    assert [r["pan"] for r in read_out(out)] == [p]
    assert [r[0] for r in issued(str(tmp_path / "ledger.db"))] == [p]


@pytest.mark.parametrize(
    "field,value",
    [
        ("amount", "1_000"),
        ("amount", "１０"),
        ("krn", "١"),
        ("ken", "2_55"),
        ("kt", "２"),
        ("sgc", "１２３４５６"),
        ("ti", "٠١"),
        ("dkga", "２"),
        ("base_date", "1_993"),
    ],
)
def test_a_fleet_row_takes_ascii_digits_only(tmp_path, key_file, run_batch, field, value):
    path = fleet(tmp_path, [row(pan(1)), row(pan(2), **{field: value})])
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch(
        "credit", path, "--out", out, "--vending-key", key_file, "--at", AT, "--workers", "1"
    )
    assert code == 1 and "line 3" in err and field in err, err
    assert [r["pan"] for r in read_out(out)] == [pan(1)]


@pytest.mark.parametrize(
    "field,value", [("pan", DEMO["pan"].translate(FULLWIDTH)), ("sgc", "１２３４５６")]
)
def test_a_profile_takes_ascii_digits_only(field, value):
    with pytest.raises(ProfileError, match=field):
        Profile(dict(DEMO, **{field: value}))


@pytest.mark.parametrize(
    "argv",
    [
        ["credit", "１０", "--at", AT],
        ["credit", "1_000", "--at", AT],
        ["credit", "10", "--at", AT, "--seed", "٧"],
        ["management", "max-power", "5_000", "--at", AT],
        ["keychange", "--krn", "２"],
        ["keychange", "--krn", "2", "--ken", "2_00"],
        ["test", "５"],
        ["test", "5", "--mfr", "1_0"],
        ["credit", "10", "--at", "2024-06-01T1２:00Z"],
    ],
    ids=[
        "amount_fullwidth",
        "amount_underscore",
        "seed",
        "watts",
        "krn",
        "ken",
        "control",
        "mfr",
        "at",
    ],
)
def test_an_option_takes_ascii_digits_only(tmp_path, capsys, argv):
    ledger = str(tmp_path / "l.db")
    try:
        code = cli.main(["--profile", DEMO_PATH, "--ledger", ledger] + argv)
    except SystemExit as e:  # argparse refuses with its usage line
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err, (out, err)
    assert not out, "nothing was issued: " + out


# ------------------------------------------------- 8. never sell what the meter will refuse

LATE = "2024-11-23T10:00Z"  # TID 16775160 under base 1993: its top 8 bits are 255


def _profile_file(tmp_path, **change):
    p = tmp_path / "meter.json"
    p.write_text(json.dumps(dict(DEMO, **change)))
    return str(p)


def test_credit_under_a_key_whose_ken_has_passed_is_refused(tmp_path, capsys):
    # The meter refuses credit whose TID's top 8 bits exceed KEN (KEN 255 never expires).
    prof = _profile_file(tmp_path, ken=200)
    ledger = str(tmp_path / "l.db")
    code = cli.main(["--profile", prof, "--ledger", ledger, "credit", "5", "--at", LATE])
    out, err = capsys.readouterr()
    assert code == 2 and not out, out
    assert "KEN 200" in err and "KEY EXPIRED" in err and "keychange --ken" in err, err
    assert tids.Ledger(ledger).issued(DEMO["pan"], 1993) == [], "no TID was used up"


def test_credit_in_the_last_period_of_its_ken_is_sold():
    t = tids.from_time(tids.parse_time(LATE), 1993)
    prof = Profile(dict(DEMO, ken=t >> 16))
    tok = vend.credit(prof, "electricity", 50, tids.parse_time(LATE))
    assert tok.fields["tid"] == t
    with pytest.raises(ValueError, match="KEN"):
        vend.credit(
            Profile(dict(DEMO, ken=(t >> 16) - 1)), "electricity", 50, tids.to_time(t, 1993)
        )


def test_batch_credit_under_a_passed_ken_is_a_bad_row(tmp_path, key_file, run_batch):
    path = fleet(tmp_path, [row(pan(1)), row(pan(2), ken="200")])
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch(
        "credit", path, "--out", out, "--vending-key", key_file, "--at", LATE, "--workers", "1"
    )
    assert code == 1 and "line 3" in err and "KEN 200" in err, err
    assert [r["pan"] for r in read_out(out)] == [pan(1)]


def test_a_meter_number_with_a_wrong_check_digit_gets_no_decoder_key(tmp_path, capsys):
    # 600727 12345678901 4: the PAN's own Luhn digit is right, the meter number's is not
    # (the Luhn digit of 1234567890 is 3).
    bad = "600727123456789014"
    assert luhn_digit(bad[:-1]) == int(bad[-1])
    prof = _profile_file(tmp_path, pan=bad)
    assert cli.main(["--profile", prof, "key"]) == 2
    out, err = capsys.readouterr()
    assert not out and "meter number" in err and "check digit" in err, (out, err)
    good = "60072712345678903"
    good += str(luhn_digit(good))
    assert Profile(dict(DEMO, pan=good)).iain == "12345678903"


def test_a_13_digit_meter_number_is_checked_too():
    body = "0000" + "0100000000007"  # the vectors' 13-digit IAIN ends in 8, not 7
    with pytest.raises(ProfileError, match="meter number"):
        Profile(dict(DEMO, pan=body + str(luhn_digit(body))))
    assert Profile(dict(DEMO, pan="000001000000000082")).iain == "0100000000008"


# --------------------------------------------- 9. bad rows, short errors, no key left behind


def test_a_bad_row_does_not_claim_its_pan(tmp_path, key_file, run_batch):
    # Line 2 is refused (KRN 0); the corrected row for that meter on line 4 is issued.
    p = pan(5)
    path = fleet(tmp_path, [row(p, krn="0"), row(pan(6)), row(p)])
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch(
        "credit", path, "--out", out, "--vending-key", key_file, "--at", AT, "--chunk", "1"
    )
    assert code == 1 and "line 2" in err and "already on line" not in err, err
    got = read_out(out)
    assert sorted(r["pan"] for r in got) == sorted([p, pan(6)])
    assert [r["line"] for r in got if r["pan"] == p] == ["4"]


def test_a_repeated_good_row_is_still_refused(tmp_path, key_file, run_batch):
    p = pan(5)
    path = fleet(tmp_path, [row(p), row(p)])
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch("credit", path, "--out", out, "--vending-key", key_file, "--at", AT)
    assert code == 1 and "already on line 2" in err, err
    assert [r["line"] for r in read_out(out)] == ["2"]


@pytest.mark.parametrize("field", ["pan", "sgc", "krn", "ea", "amount"])
def test_an_error_shows_a_short_excerpt_of_the_bad_value(tmp_path, key_file, run_batch, field):
    huge = "9" * 20000 + "x"
    path = fleet(tmp_path, [row(pan(1), **{field: huge})])
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch(
        "credit", path, "--out", out, "--vending-key", key_file, "--at", AT, "--workers", "1"
    )
    line = [x for x in err.splitlines() if "line 2" in x]
    assert code == 1 and len(line) == 1, err[:500]
    assert field in line[0] and len(line[0]) < 300, line[0][:500]


def test_a_profile_error_shows_a_short_excerpt():
    with pytest.raises(ProfileError) as e:
        Profile(dict(DEMO, sgc="1" * 100000))
    assert "sgc" in str(e.value) and len(str(e.value)) < 200


# A `--write` killed at a chosen step: the process ends there at once (os._exit, as kill -9).
KILLED = r"""
import os, sys
from stsvend import cli
def die(*a, **k):
    os._exit(9)
setattr(os, %(step)r, die)
cli.main(["--profile", %(profile)r, "keychange", "--krn", "2", "--write"])
"""


def _killed_write(tmp_path, step):
    prof = _profile_file(tmp_path)
    os.chmod(prof, 0o600)
    r = subprocess.run(
        [sys.executable, "-c", KILLED % {"root": ROOT, "step": step, "profile": prof}],
        cwd=str(tmp_path),
        env=path_env(ROOT, FIRMWARE),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 9, r.stderr
    return prof


def _holding_the_key(tmp_path):
    return sorted(
        f.name
        for f in tmp_path.iterdir()
        if f.is_file() and STA_VK in f.read_text(errors="replace")
    )


def test_a_write_killed_while_writing_leaves_no_copy_of_the_vending_key(tmp_path):
    prof = _killed_write(tmp_path, "fsync")  # the new profile written, not yet on the disk
    assert _holding_the_key(tmp_path) == ["meter.json"]
    assert profiles.load(prof).krn == 1, "the profile is the old one, whole"


def test_a_copy_left_by_a_write_killed_at_its_last_step_goes_at_the_next_use(tmp_path, capsys):
    # Between naming the new file and moving it over the old one (one system call apart),
    # a kill leaves it: the next command on that profile removes it.
    prof = _killed_write(tmp_path, "replace")
    assert len(_holding_the_key(tmp_path)) == 2  # the profile and the new one, named
    assert cli.main(["--profile", prof, "key"]) == 0
    assert _holding_the_key(tmp_path) == ["meter.json"]
    assert profiles.load(prof).krn == 1
