# test_meter_e2e.py  the meter in micropython fed tokens made by the vending side: the 2024
# edition-2 migration for STA (DKGA02) and MISTY1 (DKGA04) meters, and a 10,000-token soak
# in a 64 KB heap.
import datetime as dt
import json
import os
import random
import subprocess

import pytest

from conftest import FIRMWARE, MISTY1, ROOT, micropython_binary, path_env
from stsvend import profile, tid, vend
from tools import build_mpy

UTC = dt.timezone.utc
MADE = dt.datetime(2024, 1, 1, tzinfo=UTC)
DRIVER = os.path.join(ROOT, "tests", "mp", "drive_meter.py")


def demo():
    return profile.load(os.path.join(ROOT, "stsvend", "profiles", "demo.json"))


# From source the firmware is compiled in the heap it runs in, which a board never does (it
# runs .mpy): 128K leaves room for that; the soak below holds the 64 KB line on .mpy.
def drive(tmp_path, prof, steps, heap="128K", quiet=False, meter=None, firmware=FIRMWARE):
    setup = {
        "profile": dict(prof.as_dict(), decoder_key=prof.decoder_key().hex()),
        "manufacture_tid": tid.from_time(MADE, prof.base_date),
        "meter": meter or {},
    }
    script = tmp_path / "script.jsonl"
    with open(script, "w") as f:
        f.write(json.dumps(setup) + "\n")
        for s in steps:
            f.write(json.dumps(s) + "\n")
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    cmd = [
        micropython_binary(),
        "-X",
        "heapsize=" + heap,
        DRIVER,
        str(state),
        str(script),
    ] + (["quiet"] if quiet else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=path_env(firmware))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith('{"done"'))
    return [json.loads(line) for line in lines[:at]] + [json.loads("".join(lines[at:]))]


@pytest.mark.parametrize("prof", [demo(), profile.Profile(MISTY1)], ids=["sta", "misty1"])
def test_migration_to_edition_2(tmp_path, prof):
    rng = random.Random(5)
    at = dt.datetime(2024, 11, 25, 8, 0, tzinfo=UTC)
    old_credit = vend.credit(
        prof, "electricity", 50, dt.datetime(2024, 6, 1, tzinfo=UTC), None, rng
    ).digits
    tokens, target = vend.migration(prof, 100, at, None, rng)
    kcts, new_credit = [t.digits for t in tokens[:-1]], tokens[-1].digits
    moved = profile.Profile(dict(target, vending_key=prof.vending_key.hex()))
    # Before the migration the new key's credit does not decrypt (CRC). Had the vending side
    # moved to base 2014 without a key change (same DKGA02 key), the meter would see a TID
    # far below its memory: OLD. That is the 2024 rollover problem.
    same_key = vend.credit(
        profile.Profile(dict(prof.as_dict(), base_date=2014, vending_key=prof.vending_key.hex())),
        "electricity",
        10,
        at,
        None,
        rng,
    ).digits
    now = 10_000
    steps = [
        {"token": old_credit, "now": now},
        {"token": new_credit, "now": now + 5},
        {"token": same_key, "now": now + 6},
    ]
    steps += [{"token": t, "now": now + 10 + i} for i, t in enumerate(kcts)]
    steps += [
        {"status": True},
        {"token": new_credit, "now": now + 60},
        {"token": new_credit, "now": now + 61},
        {"status": True},
        {
            "token": vend.credit(
                prof, "electricity", 10, dt.datetime(2024, 7, 1, tzinfo=UTC), None, rng
            ).digits,
            "now": now + 70,
        },
    ]
    # Spaced out: three refusals in a row would lock the keypad (a rule of its own).
    steps += [{"token": t, "now": now + 2000 * (i + 1)} for i, t in enumerate(kcts)]
    out = drive(tmp_path, prof, steps)
    m = len(kcts)
    assert out[0]["result"] == "ACCEPT" and out[0]["balance"] == 50
    assert out[1]["result"] == "CRC"
    assert out[2]["result"] == ("OLD" if prof.dkga == 2 else "CRC")
    out = out[1:]
    staged = out[2 : 2 + m]
    assert [s["result"] for s in staged] == ["KCT STAGED"] * (m - 1) + ["KEY CHANGED"]
    assert [s["n"] for s in staged] == list(range(1, m + 1)) and staged[0]["m"] == m
    status = out[2 + m]
    assert status["edition"] == 2 and status["base_date"] == 2014 and status["krn"] == 2
    assert status["tids_used"] == 0, "RO clears the TID memory"
    credit, again, after = out[3 + m], out[4 + m], out[5 + m]
    assert credit["result"] == "ACCEPT" and credit["amount"] == 100 and credit["balance"] == 150
    assert again["result"] == "USED"
    assert after["tids_used"] == 1 and after["balance"] == 150
    assert out[6 + m]["result"] == "CRC", "a credit token of the old key is refused"
    assert [s["result"] for s in out[7 + m : 7 + 2 * m]] == ["KEY CHANGE DONE"] * m, (
        "the key change set typed again after completion is done already, not a guess"
    )
    assert moved.decoder_key() != prof.decoder_key()


@pytest.mark.soak
def test_soak_10000_tokens_in_a_64k_heap(tmp_path, board_root):
    prof = demo()
    rng = random.Random(11)
    steps = []
    now = 1000
    t0 = dt.datetime(2024, 1, 2, tzinfo=UTC)
    n = int(os.environ.get("SOAK_TOKENS", "10000"))
    minute = 0
    while len([s for s in steps if "token" in s]) < n:
        minute += 1
        when = t0 + dt.timedelta(minutes=minute)
        k = len(steps)
        if k % 50 == 7:
            tok = vend.management(prof, "max-power", rng.randrange(1, 9000), when, None, rng)
        else:
            tok = vend.credit(prof, "electricity", rng.randrange(1, 500), when, None, rng)
        steps.append({"token": tok.digits, "now": now})
        if k % 10 == 3:
            steps.append({"token": tok.digits, "now": now + 1})  # typed twice: USED
        if k % 400 == 42:  # a typo every 95 minutes: the guess count drains faster
            steps.append({"token": "%020d" % rng.randrange(10**20), "now": now + 2})
        steps.append({"consume": 250})
        now += 30
    # As a board runs it: precompiled .mpy (the on-device compiler would fragment 64 KB).
    mpy = os.path.join(board_root, "fw")
    build_mpy.build(mpy)
    out = drive(tmp_path, prof, steps, heap="64K", quiet=True, firmware=mpy)
    done = out[-1]
    counts = done["counts"]
    assert sum(counts.values()) >= n
    assert counts["USED"] > 0 and counts["ACCEPT"] > 0.8 * n
    assert counts["STORAGE"] == 0 and counts["LOCKED"] == 0
    heap = done["heap"][1:]  # from step 2000: everything loaded and warm
    print("soak: %d steps, heap after collection, every 1000 steps: %s" % (done["done"], heap))
    assert len(heap) >= 2
    # Tolerance: this micropython's own bookkeeping grows in doubling steps (+32, +64, +128
    # bytes at about 10k, 18k, 34k loop iterations) even for `for i in range(n): x = [i]`.
    # A leak of one byte per token would pass it by tens of kilobytes.
    assert max(heap) - heap[0] <= 512, "the heap grew over the soak: %s" % heap
