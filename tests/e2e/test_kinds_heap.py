# test_kinds_heap.py  a meter holds its own cipher's module and tables, never the other's: in
# the micropython binary, a MISTY1 meter and an STA meter personalised, given credit, a key
# change of 4 or 2 sections and a power cycle; then what sys.modules holds, and what importing
# the other cipher would still cost the heap (the tables the meter did not pay for)
import datetime as dt
import json
import random
import subprocess

from conftest import FIRMWARE, MISTY1, micropython_binary, path_env
from meter import results as R
from simscript import demo
from stsvend import vend
from stsvend.profile import Profile
from tools import DEMO_MADE
from tools.deploy import meter_json

UTC = dt.timezone.utc
SCRIPT = """
import gc, json, sys
from meter.meter import Meter
from meter.store import RecordStore
spec = json.loads(sys.stdin.read())
m = Meter(RecordStore(spec["state"]))
m.provision(spec["meter"])
got = [m.apply(t, 1000 * i).code for i, t in enumerate(spec["tokens"])]
m = None
gc.collect()
m = Meter(RecordStore(spec["state"]))  # a power cycle: the state read again
got.append(m.apply(spec["after"], 10**6).code)
gc.collect()
held = gc.mem_alloc()
mods = sorted(k for k in sys.modules if k.startswith("sts."))
__import__(spec["other"])
gc.collect()
print(json.dumps({"got": got, "modules": mods, "other_costs": gc.mem_alloc() - held,
                  "balance": m.balance[0], "krn": m.krn}))
"""


def _run(tmp_path, prof, other):
    rng = random.Random(22)
    when = dt.datetime(2024, 3, 1, tzinfo=UTC)
    tokens = [vend.credit(prof, "electricity", 100, when, None, rng)]
    kcts, target = vend.key_change(prof, {"krn": 2})
    moved = Profile(dict(target, name=prof.name, vending_key=prof.vending_key.hex()))
    tokens += kcts
    tokens.append(vend.credit(moved, "electricity", 50, when + dt.timedelta(hours=1), None, rng))
    after = vend.credit(moved, "electricity", 25, when + dt.timedelta(hours=2), None, rng)
    spec = {
        "state": str(tmp_path / "meter"),
        "meter": meter_json(prof, DEMO_MADE),
        "tokens": [t.digits for t in tokens],
        "after": after.digits,
        "other": other,
    }
    r = subprocess.run(
        [micropython_binary(), "-X", "heapsize=256K", "-c", SCRIPT],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=120,
        env=path_env(FIRMWARE),
    )
    assert r.returncode == 0 and not r.stderr, r.stdout + r.stderr
    out = json.loads(r.stdout)
    n = len(kcts)
    # credit, the sections (staged, then changed), the new key's credit; after the power
    # cycle the new key's next credit: every one as a meter of this kind takes it
    assert out["got"] == [R.ACCEPT] + [R.KCT_STAGED] * (n - 1) + [R.KEY_CHANGED] + [R.ACCEPT] * 2
    assert out["krn"] == 2
    return out


def test_a_misty1_meter_never_imports_sta_nor_builds_its_tables(tmp_path):
    out = _run(tmp_path, Profile(MISTY1), "sts.sta")
    assert "sts.misty1" in out["modules"]
    assert "sts.sta" not in out["modules"] and "sts.sta_portable" not in out["modules"]
    # STA's two 2 KB tables (and its code) were not on this meter's heap
    assert out["other_costs"] >= 4096, out


def test_an_sta_meter_never_imports_misty1_nor_sta_encryption(tmp_path):
    out = _run(tmp_path, demo(), "sts.misty1")
    assert "sts.sta" in out["modules"]
    # with viper, not the portable twin either: encryption is the vending side's
    assert "sts.misty1" not in out["modules"] and "sts.sta_portable" not in out["modules"]
    assert out["other_costs"] >= 1024, out  # MISTY1's S9 alone is 1 KB
