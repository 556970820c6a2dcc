# test_packaged_profiles.py  `--profile demo` names a profile that ships with stsvend, a path
# still works, and `stsvend profiles` lists and copies them
import csv
import json
import os

import pytest

from conftest import ROOT
from stsvend import cli
from stsvend import profile as profiles

DEMO_FILE = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
KEY = "decoder key e653341f9d5bf36f (STA, DKGA02, KRN 1)\n"


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_packaged_name_and_a_path_give_the_same_meter(elsewhere, capsys):
    assert _cli(capsys, "--profile", "demo", "key") == (0, KEY, "")
    assert _cli(capsys, "--profile", DEMO_FILE, "key") == (0, KEY, "")


def test_a_file_of_that_name_here_wins_over_the_packaged_one(elsewhere, capsys):
    with open(DEMO_FILE) as f:
        mine = dict(json.load(f), krn=2)
    with open("demo", "w") as f:
        json.dump(mine, f)
    code, out, _ = _cli(capsys, "--profile", "demo", "key")
    assert code == 0 and "KRN 2" in out


def test_an_unknown_name_says_which_names_exist(elsewhere, capsys):
    code, out, err = _cli(capsys, "--profile", "demo2", "key")
    assert code == 2 and not out
    assert "no profile demo2: not a file, nor a packaged name (packaged: demo;" in err
    assert "stsvend profiles" in err


def test_profiles_lists_each_packaged_profile_and_fleet(elsewhere, capsys):
    code, out, _ = _cli(capsys, "profiles")
    assert code == 0
    rows = out.splitlines()
    assert rows[0].split() == ["name", "meter", "what", "it", "is"]
    assert rows[1].split(None, 1) == [
        "demo",
        "PAN 600727000000000009, STA, DKGA02, KRN 1   demo meter (conformance test CTSA01)",
    ]
    assert rows[2].split()[:3] == ["fleet-demo.csv", "5", "meters"]
    assert len(rows) == 1 + len(os.listdir(profiles.PACKAGED))


def test_a_packaged_profile_keeps_its_ledger_here_and_is_never_written(elsewhere, capsys):
    before = sorted(os.listdir(profiles.PACKAGED))
    code, _, err = _cli(capsys, "--profile", "demo", "credit", "5", "--at", "2024-11-23T10:00Z")
    assert code == 0, err
    assert os.path.exists("demo.tids.db"), "the ledger is in the current directory"
    code, out, err = _cli(capsys, "--profile", "demo", "keychange", "--krn", "2", "--write")
    assert code == 2 and "demo is a packaged profile" in err
    assert "stsvend profiles --copy demo meter.json" in err
    assert sorted(os.listdir(profiles.PACKAGED)) == before, "nothing written in the package"
    with open(DEMO_FILE) as f:
        assert json.load(f)["krn"] == 1


def test_copy_gives_a_profile_of_ones_own_to_write(elsewhere, capsys):
    assert _cli(capsys, "profiles", "--copy", "demo", "meter.json")[:2] == (
        0,
        "demo -> meter.json\n",
    )
    code, out, err = _cli(capsys, "--profile", "meter.json", "keychange", "--krn", "2", "--write")
    assert code == 0, err
    assert _cli(capsys, "--profile", "meter.json", "key")[1].endswith("KRN 2)\n")
    assert _cli(capsys, "profiles", "--copy", "fleet-demo.csv", ".")[1] == (
        "fleet-demo.csv -> ./fleet-demo.csv\n"
    )
    assert os.path.exists("fleet-demo.csv")
    code, _, err = _cli(capsys, "profiles", "--copy", "meter.json", "x.json")
    assert code == 2 and "meter.json is not a packaged name" in err


def test_batch_finds_the_packaged_fleet_by_name(elsewhere, capsys):
    code, _, err = _cli(
        capsys,
        *("--profile", "demo", "batch", "credit", "fleet-demo.csv", "--out", "t.csv"),
        *("--at", "2024-06-01T12:00Z"),
    )
    assert code == 0, err
    with open("t.csv", newline="") as f:
        assert len(list(csv.reader(f))) == 1 + 5  # the header and the five meters
    code, _, err = _cli(capsys, "--profile", "demo", "batch", "credit", "fleet.csv", "--out", "u")
    assert code == 2 and "no fleet fleet.csv: not a file, nor a packaged name" in err
    assert "(packaged: fleet-demo.csv;" in err
