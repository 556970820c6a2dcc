# test_cli.py  the `stsvend` command line (stsvend/cli.py): every subcommand, --json, --seed,
# --write, errors that say what to do, the README's and --help's examples as written
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import DEMO_METER, load_vectors
from examples import exit_code_shown, readme_examples
from sts import amount, errors
from stsvend import cli, vend
from stsvend import profile as profiles
from stsvend import tid as tids
from stsvend.profile import Profile
from stsvend.tid import Ledger
from vendkit import (  # the meters and helpers of every stsvend test
    AFTER_TEXT,
    AT,
    AT_TEXT,
    DEMO,
    DEMO_KEY,
    DEMO_KEY_KRN2,
    DEMO_PATH,
    DKGA04_VK,
    GROUPED,
    MISTY,
    MISTY_KEY_KRN2,
    UTC,
    VECTOR_TOKEN,
    decode,
    demo,
    misty,
    pan_of,
    stages,
    write_profile,
)

# -------------------------------------------------------------------------------------- cli


SUBCOMMANDS = {
    "credit": ["credit", "25.5", "--at", AT_TEXT],
    "management": ["management", "max-power", "5000", "--at", AT_TEXT],
    "keychange": ["keychange", "--krn", "2"],
    "migrate": ["migrate", "10", "--at", AFTER_TEXT],
    "test": ["test", "512"],
}


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_cli_subcommand_prints_grouped_tokens(stsvend, name):
    code, out, err = stsvend(*SUBCOMMANDS[name])
    assert code == 0, err
    n = {"keychange": 2, "migrate": 3}.get(name, 1)
    assert len(GROUPED.findall(out)) == n, out


def test_cli_key_prints_decoder_key(stsvend):
    code, out, err = stsvend("key")
    assert code == 0, err
    assert DEMO_KEY in out and "DKGA02" in out


def test_cli_explain_runs_on_grouped_token(stsvend):
    code, out, err = stsvend("explain", "2371 6100 5011 8319 4197")
    assert code == 0, err
    assert re.search(r"^digits\s+%s$" % VECTOR_TOKEN, out, re.M)
    assert "match" in out


def test_cli_test_needs_no_profile(stsvend):
    code, out, err = stsvend("test", "512", profile=False, ledger=False)
    assert code == 0, err
    assert GROUPED.search(out)


def test_cli_test_uses_the_profiles_manufacturer_code(tmp_path, capsys):
    path = write_profile(tmp_path, dict(DEMO, pan="600727070000000051"))
    for argv, mfr in (
        (["--profile", path, "test", "512"], 7),
        (["--profile", path, "test", "512", "--mfr", "3"], 3),
        (["--profile", path, "test", "512", "--mfr", "0"], 0),
        (["test", "512"], 0),
    ):
        assert cli.main(argv + ["--json"]) == 0
        tok = json.loads(capsys.readouterr().out)["tokens"][0]
        rc, cls, sub, f = decode(tok["token"])
        assert (rc, cls, sub) == (errors.OK, 1, 0)
        assert f["mfr"] == tok["fields"]["mfr"] == mfr, argv


def test_cli_test_four_digit_manufacturer_code(tmp_path, capsys):
    path = write_profile(tmp_path, dict(DEMO, pan=pan_of("12345678000000008")))
    assert cli.main(["--profile", path, "test", "512"]) == 2
    assert "--subclass 1" in capsys.readouterr().err
    assert cli.main(["--profile", path, "--json", "test", "512", "--subclass", "1"]) == 0
    tok = json.loads(capsys.readouterr().out)["tokens"][0]
    assert decode(tok["token"])[3]["mfr"] == 5678


JSON_CASES = {
    "key": (["key"], dict, {"decoder_key", "ea", "dkga"}),
    "credit": (SUBCOMMANDS["credit"], dict, {"tokens"}),
    "management": (SUBCOMMANDS["management"], dict, {"tokens"}),
    "keychange": (SUBCOMMANDS["keychange"], dict, {"tokens", "new_profile"}),
    "migrate": (SUBCOMMANDS["migrate"], dict, {"tokens", "new_profile"}),
    "test": (SUBCOMMANDS["test"], dict, {"tokens"}),
    "explain": (["explain", VECTOR_TOKEN], list, None),
}
TOKEN_KEYS = {"token", "class", "subclass", "what", "fields"}


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("name", sorted(JSON_CASES))
def test_cli_json_output(stsvend, name, where):
    argv, kind, want = JSON_CASES[name]
    argv = ["--json"] + argv if where == "before" else argv + ["--json"]
    code, out, err = stsvend(*argv)
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, kind)
    if kind is list:
        assert all(set(d) == {"stage", "value", "bit", "width", "words"} for d in data)
        assert data[0]["stage"] == "digits" and data[0]["words"] == VECTOR_TOKEN
        return
    assert want <= set(data)
    if name == "key":
        assert data["decoder_key"] == DEMO_KEY
    for t in data.get("tokens", ()):
        assert TOKEN_KEYS <= set(t) and re.fullmatch(r"\d{20}", t["token"])
    if name == "credit":
        t = data["tokens"][0]
        assert t["requested_tenths"] == 255 and t["encoded_tenths"] == 255
        assert t["base_date"] == 1993 and t["tid_time"] == "2024-11-23 10:00 UTC"
    if "new_profile" in data:
        assert set(data["new_profile"]) == set(profiles.FIELDS)
        assert "vending_key" not in data["new_profile"]


def test_cli_seed_makes_output_reproducible(tmp_path, demo_file, capsys):
    outs = []
    for i in range(2):
        argv = [
            "--profile",
            demo_file,
            "--ledger",
            str(tmp_path / ("l%d.db" % i)),
            "--seed",
            "11",
            "credit",
            "3",
            "--at",
            AT_TEXT,
        ]
        assert cli.main(argv) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]


def test_cli_explain_vector_token_stages(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN)
    assert code == 0, err
    st = stages(out)
    assert st["digits"] == VECTOR_TOKEN
    assert re.fullmatch(r"[01]{66}", st["66 bits"]) and int(st["66 bits"], 2) == int(VECTOR_TOKEN)
    assert "class 0" in st["class bits"]
    assert "transposition" in st
    assert re.fullmatch(r"[0-9a-f]{16}", st["cipher block"])
    assert st["plaintext"].startswith("05599863000119e6")  # the vector's block
    assert "match" in st["CRC"] and "MISMATCH" not in st["CRC"]
    assert st["field tid"].startswith("5871715 ")
    assert st["amount"].startswith("0.1")
    assert "refused" not in st


def test_the_demo_meter_is_one_meter_for_both_sides():
    """tests/mp/demo_meter.py (the micropython side's demo meter) is the packaged demo
    profile's meter, with the decoder key of the vectors' CTSA01."""
    p = Profile(DEMO)
    assert p.decoder_key() == DEMO_METER.KEY
    assert {k: getattr(p, k) for k in DEMO_METER.FIELDS} == DEMO_METER.FIELDS
    ctsa01 = [c for c in load_vectors() if c["source"].endswith("CTSA01.step1Test")][0]
    assert ctsa01["decoder_key"] == DEMO_KEY and ctsa01["key"]["pan"] == p.pan


def test_cli_explain_json_gives_each_stage_as_numbers(stsvend):
    """The stages as data: a program reads the numbers, not the sentences."""
    code, out, err = stsvend("--json", "explain", VECTOR_TOKEN)
    assert code == 0, err
    st = {d["stage"]: d for d in json.loads(out)}
    assert st["66 bits"]["value"] == int(VECTOR_TOKEN)
    assert (st["class bits"]["value"], st["class bits"]["bit"], st["class bits"]["width"]) == (
        0,
        27,
        2,
    )
    assert st["plaintext"]["value"] == 0x05599863000119E6 and st["plaintext"]["width"] == 64
    assert (st["CRC"]["value"], st["CRC"]["bit"], st["CRC"]["width"]) == (0x19E6, 0, 16)
    assert st["token"]["value"] == 0x00  # class << 4 | subclass
    assert (st["field tid"]["value"], st["field tid"]["bit"], st["field tid"]["width"]) == (
        5871715,
        32,
        24,
    )
    assert st["amount"]["value"] == 1  # tenths
    assert st["TID time"]["value"] == 5871715


def test_cli_explain_wrong_crc(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN[:-1] + "6")
    assert code == 1, err  # explained, and refused
    st = stages(out)
    assert "MISMATCH" in st["CRC"]
    assert st["refused"] == "BAD_CRC"
    assert "field tid" not in st


def test_cli_explain_19_digits(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN[:-1])
    assert code == 1, err  # explained, and refused
    assert stages(out)["refused"] == "BAD_LENGTH"


def test_cli_missing_profile_for_credit(stsvend):
    code, out, err = stsvend("credit", "5", "--at", AT_TEXT, profile=False)
    assert code == 2 and "--profile" in err and out == ""


def test_cli_unreadable_profile(tmp_path, capsys):
    code = cli.main(
        [
            "--profile",
            str(tmp_path / "absent.json"),
            "--ledger",
            str(tmp_path / "l.db"),
            "credit",
            "5",
            "--at",
            AT_TEXT,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and "error" in err and "absent.json" in err and out == ""


@pytest.mark.parametrize("when", ["2024-11-24T20:16Z", "1992-12-31T23:59Z"])
def test_cli_time_outside_window(stsvend, when):
    code, out, err = stsvend("credit", "5", "--at", when)
    assert code == 2 and "1993-01-01 00:00" in err and "2024-11-24 20:15" in err
    assert out == ""


def test_cli_time_without_zone(stsvend):
    code, out, err = stsvend("credit", "5", "--at", "2024-11-23T10:00")
    assert code == 2 and "zone" in err and out == ""


@pytest.mark.parametrize("text", ["abc", "nan", "5kWh"])
def test_cli_non_numeric_amount(stsvend, text):
    with pytest.raises(SystemExit) as e:
        stsvend("credit", text, "--at", AT_TEXT)
    assert e.value.code == 2


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity"])
def test_cli_infinite_amount_is_a_usage_error(stsvend, text):
    with pytest.raises(SystemExit) as e:
        stsvend("credit", text, "--at", AT_TEXT)
    assert e.value.code == 2


def test_cli_huge_amount_refused(stsvend):
    try:
        code, out, err = stsvend("credit", "1e400", "--at", AT_TEXT)
    except SystemExit as e:  # refused by argparse: a usage error is fine too
        code, out = e.code, ""
    assert code == 2 and not GROUPED.search(out)


def test_cli_keychange_nothing_to_change(stsvend):
    code, out, err = stsvend("keychange")
    assert code == 2 and "say what changes" in err and out == ""


def test_cli_never_writes_beside_the_profile(stsvend, demo_file, tmp_path):
    assert stsvend("credit", "5", "--at", AT_TEXT)[0] == 0
    for beside in (demo_file, DEMO_PATH):
        assert not os.path.exists(beside + ".tids.json")
        assert not os.path.exists(beside + ".tids.db")
    assert Ledger(str(tmp_path / "ledger.db")).issued("600727000000000009", 1993) == [16775160]


def test_cli_console_script(tmp_path, demo_file, capsys):
    exe = os.path.join(os.path.dirname(sys.executable), "stsvend")
    if not os.path.exists(exe):
        pytest.skip("no stsvend console script: pip install -e .")
    tail = ["--seed", "5", "credit", "7.25", "--at", AT_TEXT]
    r = subprocess.run(
        [exe, "--profile", demo_file, "--ledger", str(tmp_path / "a.db")] + tail,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert GROUPED.search(r.stdout) and "amount 7.3" in r.stdout
    assert cli.main(["--profile", demo_file, "--ledger", str(tmp_path / "b.db")] + tail) == 0
    assert capsys.readouterr().out == r.stdout
    r = subprocess.run(
        [exe, "--profile", demo_file, "--ledger", str(tmp_path / "a.db"), "keychange"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "error" in r.stderr


# ------------------------------------------------------- issue 13: stsvend past the demo


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_migrate_write_then_credit_decodes_under_the_new_key(tmp_path, demo_file, capsys):
    ledger = str(tmp_path / "l.db")
    code, out, err = _cli(
        capsys,
        "--profile",
        demo_file,
        "--ledger",
        ledger,
        "migrate",
        "10",
        "--at",
        AFTER_TEXT,
        "--write",
    )
    assert code == 0, err
    assert "wrote %s: KRN 1 -> 2, base date 1993 -> 2014" % demo_file in out
    with open(demo_file) as f:
        saved = json.load(f)
    assert saved == dict(DEMO, krn=2, base_date=2014)  # name and vending key as they were
    code, out, err = _cli(
        capsys,
        "--profile",
        demo_file,
        "--ledger",
        ledger,
        "--json",
        "credit",
        "5",
        "--at",
        "2024-11-25T09:00Z",
    )
    assert code == 0, err
    tok = json.loads(out)["tokens"][0]
    rc, cls, sub, f = decode(tok["token"], "sta", bytes.fromhex(DEMO_KEY_KRN2))
    assert (rc, cls, sub) == (errors.OK, 0, 0)
    assert f["tid"] == tids.from_time(dt.datetime(2024, 11, 25, 9, 0, tzinfo=UTC), 2014)
    assert amount.decode(f["amount"]) == 50
    assert decode(tok["token"], "sta", bytes.fromhex(DEMO_KEY))[0] == errors.BAD_CRC


def test_cli_write_saves_nothing_when_the_codes_cannot_be_printed(
    tmp_path, demo_file, monkeypatch
):
    # The profile holds the new key only once its change codes were printed: a pipe that
    # breaks (or a full disk) leaves the profile as it was, and a rerun moves it once.
    class Broken:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    with open(demo_file) as f:
        before = f.read()
    monkeypatch.setattr(sys, "stdout", Broken())
    code = cli.main(
        [
            "--profile",
            demo_file,
            "--ledger",
            str(tmp_path / "l.db"),
            "migrate",
            "10",
            "--at",
            AFTER_TEXT,
            "--write",
        ]
    )
    assert code == 2
    with open(demo_file) as f:
        assert f.read() == before


def test_cli_write_keeps_a_secret_profile_secret(tmp_path, demo_file, capsys):
    # A profile with the vending key inline is a secret: 0600 stays 0600 when --write
    # replaces it.
    os.chmod(demo_file, 0o600)
    code, _, err = _cli(
        capsys,
        "--profile",
        demo_file,
        "--ledger",
        str(tmp_path / "l.db"),
        "migrate",
        "10",
        "--at",
        AFTER_TEXT,
        "--write",
    )
    assert code == 0, err
    assert os.stat(demo_file).st_mode & 0o777 == 0o600
    assert not [n for n in os.listdir(os.path.dirname(demo_file)) if n.endswith(".new")]


def test_cli_keychange_write_keeps_the_vending_key_file(tmp_path, capsys):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "vk.hex").write_text(DKGA04_VK + "\n")
    data = {k: v for k, v in MISTY.items() if k != "vending_key"}
    data["vending_key_file"] = "keys/vk.hex"
    path = write_profile(tmp_path, data)
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "keychange",
        "--krn",
        "2",
        "--write",
    )
    assert code == 0, err
    with open(path) as f:
        saved = json.load(f)
    assert saved == dict(data, krn=2) and "vending_key" not in saved
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "--json",
        "credit",
        "5",
        "--at",
        AT_TEXT,
    )
    assert code == 0, err
    tok = json.loads(out)["tokens"][0]["token"]
    assert decode(tok, "misty1", bytes.fromhex(MISTY_KEY_KRN2))[0] == errors.OK


def test_cli_keychange_write_saves_the_misty1_sgc_kt_ken_ti(tmp_path, capsys):
    path = write_profile(tmp_path, MISTY)
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "keychange",
        "--sgc",
        "654321",
        "--kt",
        "3",
        "--ken",
        "200",
        "--ti",
        "07",
        "--write",
    )
    assert code == 0, err
    with open(path) as f:
        saved = json.load(f)
    assert saved == dict(MISTY, sgc="654321", kt=3, ken=200, ti="07")
    new = Profile(saved).decoder_key()
    assert new == misty().decoder_key(sgc="654321", kt=3, ti="07")
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "--json",
        "credit",
        "5",
        "--at",
        "2017-01-01T00:00Z",  # (KEN 200 runs to 2018: later credit the meter refuses)
    )
    assert decode(json.loads(out)["tokens"][0]["token"], "misty1", new)[0] == errors.OK


def test_cli_keychange_without_write_leaves_the_profile_and_says_so(stsvend, demo_file):
    before = open(demo_file).read()
    code, out, err = stsvend("keychange", "--krn", "2")
    assert code == 0, err
    assert open(demo_file).read() == before
    assert "add --write" in out


def test_cli_write_json_names_the_file_and_changes(stsvend, demo_file):
    code, out, err = stsvend("--json", "keychange", "--krn", "3", "--write")
    assert code == 0, err
    data = json.loads(out)
    assert data["written"] == demo_file and data["changed"] == {"krn": [1, 3]}


def test_cli_time_after_the_window_says_at_or_migrate(stsvend, demo_file):
    code, out, err = stsvend("credit", "5", "--at", "2025-01-01T00:00Z")
    assert code == 2 and out == ""
    assert "2024-11-24 20:15" in err and "--at inside" in err
    assert ("stsvend --profile %s migrate 5 --at 2025-01-01T00:00Z --write" % demo_file) in err
    code, out, err = stsvend("management", "max-power", "100", "--at", "2025-01-01T00:00Z")
    assert code == 2 and "migrate AMOUNT" in err and "base date 2014" in err


def test_cli_time_before_the_window_says_at_only(stsvend):
    code, out, err = stsvend("credit", "5", "--at", "1992-12-31T23:59Z")
    assert code == 2 and "--at inside" in err and "migrate" not in err


def test_cli_time_after_the_last_window_says_no_rollover(tmp_path, capsys):
    path = write_profile(tmp_path, dict(DEMO, base_date=2035))
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "credit",
        "5",
        "--at",
        "2070-01-01T00:00Z",
    )
    assert code == 2 and "--at inside" in err and "the last" in err and "migrate" not in err


@pytest.mark.parametrize(
    "kind", ["max-power", "phase-unbalance", "tariff-rate", "water-factor", "clear-credit"]
)
def test_cli_management_without_a_value_is_an_error(stsvend, tmp_path, kind):
    code, out, err = stsvend("management", kind, "--at", AT_TEXT)
    assert code == 2 and "needs a value" in err and out == ""
    assert Ledger(str(tmp_path / "ledger.db")).issued(DEMO["pan"], 1993) == []


def test_cli_clear_tamper_takes_no_value(stsvend):
    code, out, err = stsvend("management", "clear-tamper", "--at", AT_TEXT)
    assert code == 0 and "clears the tamper flag" in out
    code, out, err = stsvend("management", "clear-tamper", "5", "--at", AT_TEXT)
    assert code == 2 and "takes no value" in err


@pytest.mark.parametrize(
    "argv,line",
    [
        (["max-power", "1000"], "limit 1000 W"),
        (["max-power", "0"], "limit 0 W (no limit: the limit is lifted)"),
        (["phase-unbalance", "300"], "limit 300 W"),
        (["clear-credit", "65535"], "register 65535: clears every credit register"),
        (["clear-credit", "1"], "register 1: clears the water credit"),
        (["tariff-rate", "1234"], "tariff rate 1234 "),
        (["water-factor", "77"], "water meter factor 77 "),
    ],
)
def test_cli_management_prints_the_value_it_carries(stsvend, argv, line):
    code, out, err = stsvend("management", *argv, "--at", AT_TEXT)
    assert code == 0, err
    assert re.search(r"^   " + re.escape(line), out, re.M), out


@pytest.mark.parametrize(
    "control,lines",
    [
        (512, ["bit 9: display the power consumption"]),
        (6, ["bit 1: test the load switch (relay)", "bit 2: test the information display"]),
        (1, ["bit 0: every test and display"]),
        (2**36 - 1, ["bit 11: display the phase power unbalance limit", "bits 12..35: reserved"]),
        (0, ["control 0: no bit set"]),
    ],
)
def test_cli_test_explains_its_control_bits(stsvend, control, lines):
    code, out, err = stsvend("test", str(control), profile=False, ledger=False)
    assert code == 0, err
    for line in lines:
        assert line in out, out
    assert "shows TEST %d" % control in out


def test_cli_test_json_carries_the_control_bits(stsvend):
    code, out, err = stsvend("--json", "test", "528", profile=False, ledger=False)
    bits = json.loads(out)["tokens"][0]["control_bits"]
    assert [b["bit"] for b in bits] == [4, 9]
    assert "KRN" in bits[0]["asks"]


def test_cli_explain_class_1_needs_no_profile(stsvend):
    tok = vend.test_display(512).digits
    code, out, err = stsvend("explain", tok, profile=False, ledger=False)
    assert code == 0, err
    st = stages(out)
    assert st["token"].startswith("class 1 subclass 0")
    assert "bit 9 = display the power consumption" in st["field control"]
    assert "manufacturer code (0: any meter)" in st["field mfr"]


def test_cli_explain_class_0_without_profile_asks_for_one(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN, profile=False, ledger=False)
    assert code == 2 and "--profile" in err and out == ""


@pytest.mark.parametrize(
    "token,why",
    [
        (VECTOR_TOKEN[:-1] + "6", "another meter's token, a typo, or an old key?"),
        (VECTOR_TOKEN[:-1], "not 20 digits"),
        ("9" * 20, "largest token"),
    ],
)
def test_cli_explain_refused_exits_nonzero_and_says_why(stsvend, token, why):
    code, out, err = stsvend("explain", token)
    assert code == 1
    assert "refused" in stages(out) and why in stages(out)["why"]
    code, out, err = stsvend("--json", "explain", token)
    assert code == 1 and json.loads(out)[-1]["stage"] == "why"


def test_cli_explain_refused_with_another_meters_key(tmp_path, capsys):
    tok = vend.credit(demo(krn=2), "electricity", 10, AT).digits  # the meter still has KRN 1
    code, out, err = _cli(capsys, "--profile", DEMO_PATH, "explain", tok)
    assert code == 1 and "an old key?" in out


def test_cli_explain_glosses_sta_key_change_fields(stsvend):
    toks, _ = vend.key_change(demo(), {"krn": 2}, ro=1)
    glossed = {}
    for t in toks:
        code, out, err = stsvend("explain", t.digits)
        assert code == 0, err
        glossed.update(stages(out))
    assert glossed["field nkho"].endswith("NKHO = new key high part, " + DEMO_KEY_KRN2[:8])
    assert glossed["field nklo"].endswith("NKLO = new key low part, " + DEMO_KEY_KRN2[8:])
    assert "KT = key type: DUTK" in glossed["field kt"]
    assert "RO = rollover: set" in glossed["field ro"]
    assert "KRN = key revision number" in glossed["field krn"]
    assert "KENHO = key expiry number, high" in glossed["field kenho"]
    assert "KENLO = key expiry number, low" in glossed["field kenlo"]
    assert "TI = tariff index" in glossed["field ti"]


def test_cli_explain_glosses_misty1_sgc_parts(tmp_path, capsys):
    path = write_profile(tmp_path, MISTY)
    toks, _ = vend.key_change(misty(), {"krn": 2})
    glossed = {}
    for t in toks:
        code, out, err = _cli(capsys, "--profile", path, "explain", t.digits)
        assert code == 0, err
        glossed.update(stages(out))
    assert glossed["field nkmo2"].endswith(MISTY_KEY_KRN2[8:16])
    assert glossed["field nkmo1"].endswith(MISTY_KEY_KRN2[16:24])
    assert "SGC = supply group code, low 12 bits" in glossed["field sgclo"]
    assert "SGC = supply group code, high 12 bits" in glossed["field sgcho"]
    assert "RO = rollover: not set" in glossed["field ro"]


# Examples as the text shows them: each runs as written in any directory (here an empty one;
# test_packaging.py runs them from an installed wheel), and prints what the text shows.


def _empty_dir(tmp_path, monkeypatch):
    root = tmp_path / "elsewhere"
    root.mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def _run_line(line, capsys):
    """One shell line of an example, `stsvend ...`, through main."""
    argv = shlex.split(line)
    assert argv[0] == "stsvend", "an example that is not stsvend: %r" % line
    try:
        code = cli.main(argv[1:])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out + err


def _help_texts(capsys):
    texts = {}
    for cmd in [None] + sorted(cli.EXAMPLES):
        with pytest.raises(SystemExit):
            cli.main(([cmd] if cmd else []) + ["--help"])
        texts[cmd or "stsvend"] = capsys.readouterr().out
    return texts


def test_help_examples_run_as_written(tmp_path, monkeypatch, capsys):
    texts = _help_texts(capsys)
    assert set(texts) >= {
        "stsvend",
        "credit",
        "management",
        "keychange",
        "migrate",
        "test",
        "explain",
        "key",
    }
    for name, text in texts.items():
        lines = re.findall(r"^  (stsvend .*)$", text, re.M)
        assert lines, name
        _empty_dir(tmp_path / name, monkeypatch)
        for line in lines:
            code, out = _run_line(line, capsys)
            assert code == 0, (name, line, out)


def test_readme_examples_run_and_print_what_the_readme_shows(tmp_path, monkeypatch, capsys):
    examples = readme_examples()
    assert len(examples) >= 15
    _empty_dir(tmp_path, monkeypatch)
    for line, shown in examples:
        code, out = _run_line(line, capsys)
        assert out.rstrip("\n") == shown, line
        assert code == exit_code_shown(shown), line


def test_readme_and_help_name_the_packaged_demo_or_a_copy_of_it(capsys):
    lines = [ln for ln, _ in readme_examples()]
    for text in _help_texts(capsys).values():
        lines += re.findall(r"^  (stsvend .*)$", text, re.M)
    for line in lines:
        argv = shlex.split(line)
        if "--profile" in argv:
            assert argv[argv.index("--profile") + 1] in ("demo", "meter.json"), line
