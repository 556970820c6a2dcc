# test_e2e_keypad.py  the meter as its customers meet it: tokens made by the vending side
# (stsvend, CPython) typed on the keypad of the simulator (boards/unix/sim.py --script in
# the real `micropython` binary), and what the display shows. The 2024 edition-2 migration
# as customers lived it and its failure modes, every token class and subclass with its
# visible effect, and every token of the shared conformance vectors typed on a fresh meter.
import datetime as dt
import json
import random

import simscript
from conftest import load_vectors
from meter import results as R
from simscript import demo, frames, screen, screens, statuses
from sts import amount
from stsvend import profile, vend
from tools import DEMO_MADE
from tools.deploy import meter_json

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=UTC)  # the meter's clock when the script starts
START = int(NOW.timestamp())
MADE = DEMO_MADE  # the demo meter's manufacture date (tools/__init__.py)
BEFORE_ROLLOVER = dt.datetime(2024, 6, 1, tzinfo=UTC)  # base 1993 TIDs end 2024-11-24
COLS = 16
UNITS = ("kWh", "m3", "m3", "h")
IDLE_0 = ["CREDIT 0.0 kWh", "NO CREDIT: OFF"]


# -- driving the simulator ---------------------------------------------------------------
def new_meter(tmp_path, prof=None, made=MADE):
    """A state directory with meter.json for `prof` (the demo meter by default), as
    `make sim` or `make provision` writes it: the decoder key, never the vending key."""
    state = tmp_path / "state"
    state.mkdir()
    with open(state / "meter.json", "w") as f:
        json.dump(meter_json(prof or demo(), made), f)
    return state


def sim(state, lines, start=START):
    """Run one simulator process over the script `lines`, then quit; its output, one object
    a line."""
    return simscript.run(state, lines + ["quit"], start)


def in_order(out, wanted):
    """Every screen of `wanted` shown, in this order (others may come between)."""
    got = screens(out)
    i = 0
    for w in wanted:
        while i < len(got) and got[i] != w:
            i += 1
        assert i < len(got), "screen %r not shown (in order); screens:\n%s" % (
            w,
            "\n".join(map(str, got)),
        )
        i += 1


def after_each_status(out):
    """For each `status` line: (the frame shown when it was asked for, the status)."""
    shown = None
    pairs = []
    for o in out:
        if "lines" in o:
            shown = o
        elif "status" in o:
            pairs.append((shown, o))
    return pairs


def typed(token):
    return "type " + token.digits


# -- 1. the 2024 migration as customers lived it ------------------------------------------
def migration_tokens(seed=1):
    """(prof, [kct 1, kct 2], credit 10 kWh under the new key, the new profile)."""
    prof = demo()
    tokens, target = vend.migration(prof, 100, NOW, None, random.Random(seed))
    moved = profile.Profile(dict(target, vending_key=prof.vending_key.hex()))
    return prof, tokens[:2], tokens[2], moved


def test_migration_typed_on_the_keypad(tmp_path):
    prof, (k1, k2), new_credit, moved = migration_tokens()
    assert (moved.krn, moved.base_date) == (2, 2014)
    state = new_meter(tmp_path, prof)
    out = sim(
        state,
        [
            "type 873",
            "wait 5000",
            "status",
            typed(k1),
            "wait 60000",
            "status",  # a minute later: still in time
            typed(k2),
            "wait 3000",
            "status",
            typed(new_credit),
            "wait 3000",
            "type 873",
            "status",
        ],
    )
    assert screens(out)[0] == IDLE_0
    in_order(
        out,
        [
            ["STS EDITION 1", "KRN 1 BASE 1993"],
            IDLE_0,
            ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"],
            ["CREDIT 0.0 kWh", "KEY CHG 1/2 117s"],  # the time left in its window
            ["CREDIT 0.0 kWh", "KEY CHG 1/2 60s"],
            ["KEY CHANGED", "ACCEPT"],
            IDLE_0,
            ["ACCEPT", "+10.0 kWh"],
            ["CREDIT 10.0 kWh", "SUPPLY ON"],
            ["STS EDITION 2", "KRN 2 BASE 2014"],
        ],
    )
    before, held, changed, after = statuses(out)
    assert (before["edition"], before["krn"], before["base_date"]) == (1, 1, 1993)
    assert before["tids_used"] == 50, "filled with the manufacture TID"
    assert held["kct_held"] == 1 and held["kct_of"] == 2 and held["krn"] == 1
    assert (changed["edition"], changed["krn"], changed["base_date"]) == (2, 2, 2014)
    assert changed["kct_held"] == 0 and changed["tids_used"] == 0, "rollover: memory cleared"
    assert after["balance"] == 100 and after["relay"] is True and after["tids_used"] == 1
    assert frames(out)[-1]["relay"] is True
    assert not [s for s in screens(out) if s[0].startswith("REJECT")]


def test_second_section_after_two_minutes_times_out_and_the_old_key_stays(tmp_path):
    prof, (k1, k2), new_credit, _ = migration_tokens()
    old_credit = vend.credit(prof, "electricity", 250, BEFORE_ROLLOVER, None, random.Random(2))
    state = new_meter(tmp_path, prof)
    out = sim(
        state,
        [
            typed(k1),
            "wait 121000",
            typed(k2),
            "status",
            "wait 3000",
            typed(old_credit),
            "wait 3000",
            "type 873",
            "status",
            "wait 5000",
            typed(new_credit),
            "wait 3000",  # the new key is not in yet
            typed(k1),
            "status",
        ],
    )  # 14 s after the held k2: the set completes
    in_order(
        out,
        [
            ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"],
            ["KEY CHANGE 1/2", "TIMED OUT: AGAIN"],
            ["CREDIT 0.0 kWh", "KEY CHG 1/2 117s"],  # the late section is held
            ["ACCEPT", "+25.0 kWh"],
            ["STS EDITION 1", "KRN 1 BASE 1993"],
            ["REJECT 13", "WRONG TOKEN"],
            ["KEY CHANGED", "ACCEPT"],
        ],
    )
    timed_out, old_key, done = statuses(out)
    assert timed_out["kct_held"] == 1 and timed_out["krn"] == 1
    assert timed_out["last"] == R.KCT_TIMEOUT
    assert (old_key["edition"], old_key["krn"], old_key["base_date"]) == (1, 1, 1993)
    assert old_key["balance"] == 250
    assert (done["edition"], done["krn"]) == (2, 2)


def test_sections_in_the_wrong_order_complete(tmp_path):
    prof, (k1, k2), new_credit, _ = migration_tokens(3)
    state = new_meter(tmp_path, prof)
    out = sim(
        state,
        [
            typed(k2),
            "wait 3000",
            "status",
            typed(k1),
            "wait 3000",
            typed(new_credit),
            "wait 3000",
            "type 873",
            "status",
        ],
    )
    in_order(
        out,
        [
            ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"],
            ["CREDIT 0.0 kWh", "KEY CHG 1/2 117s"],
            ["KEY CHANGED", "ACCEPT"],
            ["ACCEPT", "+10.0 kWh"],
            ["STS EDITION 2", "KRN 2 BASE 2014"],
        ],
    )
    held, done = statuses(out)
    assert held["kct_held"] == 1
    assert (done["edition"], done["krn"], done["balance"]) == (2, 2, 100)


def test_old_key_credit_after_the_change_is_wrong_token(tmp_path):
    prof, (k1, k2), new_credit, _ = migration_tokens(4)
    rng = random.Random(4)
    kept = vend.credit(prof, "electricity", 50, BEFORE_ROLLOVER, None, rng)
    late = vend.credit(prof, "electricity", 70, BEFORE_ROLLOVER + dt.timedelta(days=1), None, rng)
    state = new_meter(tmp_path, prof)
    out = sim(
        state,
        [
            typed(kept),
            "wait 3000",
            typed(k1),
            typed(k2),
            "wait 3000",
            typed(late),
            "status",
            "wait 3000",
            typed(new_credit),
            "status",
        ],
    )
    in_order(
        out,
        [
            ["ACCEPT", "+5.0 kWh"],
            ["KEY CHANGED", "ACCEPT"],
            ["REJECT 13", "WRONG TOKEN"],
            ["CREDIT 5.0 kWh", "SUPPLY ON"],
            ["ACCEPT", "+10.0 kWh"],
        ],
    )
    refused, accepted = statuses(out)
    assert refused["balance"] == 50 and refused["last"] == 13 and refused["krn"] == 2
    assert accepted["balance"] == 150


def test_a_token_typed_twice_is_used(tmp_path):
    prof, (k1, k2), new_credit, _ = migration_tokens(5)
    old = vend.credit(prof, "electricity", 60, BEFORE_ROLLOVER, None, random.Random(5))
    state = new_meter(tmp_path, prof)
    out = sim(
        state,
        [
            typed(old),
            "wait 3000",
            typed(old),
            "status",
            "wait 3000",
            typed(k1),
            typed(k2),
            typed(new_credit),
            "wait 3000",
            typed(new_credit),
            "status",
            "wait 3000",
            "type 1",
        ],
    )
    in_order(
        out,
        [
            ["ACCEPT", "+6.0 kWh"],
            ["REJECT 10", "USED TOKEN"],
            ["CREDIT 6.0 kWh", "SUPPLY ON"],
            ["KEY CHANGED", "ACCEPT"],
            ["ACCEPT", "+10.0 kWh"],
            ["REJECT 10", "USED TOKEN"],
            ["CREDIT 16.0 kWh", "SUPPLY ON"],
            ["LAST REJECT 10", "USED TOKEN"],  # the result screen's words
        ],
    )
    first, second = statuses(out)
    assert first["balance"] == 60 and first["last"] == 10
    assert second["balance"] == 160 and second["last"] == 10 and second["tids_used"] == 1


def test_a_token_older_than_the_memory_is_old(tmp_path):
    prof = demo()
    rng = random.Random(6)
    before_made = vend.credit(prof, "electricity", 10, MADE - dt.timedelta(days=1), None, rng)
    base = dt.datetime(2024, 3, 1, tzinfo=UTC)
    newer = [
        vend.credit(prof, "electricity", 1, base + dt.timedelta(minutes=i), None, rng)
        for i in range(1, 51)
    ]
    gap = vend.credit(prof, "electricity", 10, base, None, rng)  # after MADE, before newer
    newest = vend.credit(prof, "electricity", 10, base + dt.timedelta(minutes=51), None, rng)
    state = new_meter(tmp_path, prof)
    out = sim(
        state,
        [typed(before_made), "status", "wait 3000"]
        + [typed(t) for t in newer]
        + ["wait 3000", "status", typed(gap), "status", "wait 3000", typed(newest), "status"],
    )
    first, full, old, last = statuses(out)
    shown = [screen(f) for f, _ in after_each_status(out)]
    assert shown[0] == ["REJECT 9", "OLD TOKEN"], "TID before manufacture"
    assert first["balance"] == 0 and first["last"] == 9
    assert full["balance"] == 50 and full["tids_used"] == 50
    assert screens(out).count(["ACCEPT", "+0.1 kWh"]) == 50
    assert shown[2] == ["REJECT 9", "OLD TOKEN"], "below the 50 remembered TIDs"
    assert old["balance"] == 50 and old["last"] == 9
    assert shown[3] == ["ACCEPT", "+1.0 kWh"] and last["balance"] == 60


def test_key_change_set_typed_again_after_completion_is_done_already(tmp_path):
    prof, (k1, k2), new_credit, _ = migration_tokens(7)
    state = new_meter(tmp_path, prof)
    out = sim(
        state,
        [
            typed(k1),
            typed(k2),
            "wait 3000",
            typed(new_credit),
            "wait 3000",
            typed(k1),
            "status",
            "wait 3000",
            typed(k2),
            "status",
            "wait 3000",
            "type 873",
            "status",
        ],
    )
    got = after_each_status(out)
    assert [screen(f) for f, _ in got[:2]] == [["KEY CHANGE", "DONE ALREADY"]] * 2
    in_order(
        out,
        [
            ["KEY CHANGED", "ACCEPT"],
            ["ACCEPT", "+10.0 kWh"],
            ["KEY CHANGE", "DONE ALREADY"],
            ["KEY CHANGE", "DONE ALREADY"],
            ["STS EDITION 2", "KRN 2 BASE 2014"],
        ],
    )
    for _, o in got:
        st = o["status"]
        assert (st["krn"], st["edition"], st["base_date"]) == (2, 2, 2014)
        assert st["kct_held"] == 0 and st["balance"] == 100


# -- 2. every class and subclass through the keypad -------------------------------------
def test_every_class_and_subclass_with_its_visible_effect(tmp_path):
    # A base-2014 meter (the demo's DKGA02 key does not depend on the base date), made in
    # 2026; tokens dated from the clock's start on, a minute apart.
    made = dt.datetime(2026, 1, 1, tzinfo=UTC)
    d = demo()
    prof = profile.Profile(dict(d.as_dict(), base_date=2014, vending_key=d.vending_key.hex()))
    rng = random.Random(8)
    minute = [0]

    def when():
        minute[0] += 1
        return NOW + dt.timedelta(minutes=minute[0])

    def credit(commodity, tenths):
        return typed(vend.credit(prof, commodity, tenths, when(), None, rng))

    def manage(kind, register):
        return typed(vend.management(prof, kind, register, when(), None, rng))

    state = new_meter(tmp_path, prof, made)
    out = sim(
        state,
        [
            credit("electricity", 250),
            "wait 3000",
            credit("water", 125),
            "wait 3000",
            credit("gas", 70),
            "wait 3000",
            credit("time", 240),
            "status",
            "wait 3000",
            manage("max-power", 1000),
            "status",
            "wait 3000",
            "load 900",
            "load 2000",
            "status",
            "load 0",
            "wait 61000",
            "status",
            manage("tariff-rate", 42),
            "wait 3000",
            manage("clear-tamper", 0),
            "wait 3000",
            manage("phase-unbalance", 500),
            "wait 3000",
            manage("water-factor", 3),
            "wait 3000",
            typed(vend.test_display(512)),
            "wait 3000",
            typed(vend.test_display(7, subclass=1)),
            "wait 3000",
            typed(vend.test_display((1 << 36) - 1)),
            "wait 3000",
            typed(vend.test_display((1 << 28) - 1, subclass=1)),
            "wait 3000",
            manage("clear-credit", 1),
            "status",
            "wait 3000",
            manage("clear-credit", 0xFFFF),
            "wait 3000",
            "status",
        ],
    )
    in_order(
        out,
        [
            ["ACCEPT", "+25.0 kWh"],
            ["ACCEPT", "+12.5 m3"],
            ["ACCEPT", "+7.0 m3"],
            ["ACCEPT", "+24.0 h"],
            ["ACCEPT", "LIMIT 1000 W"],
            ["CREDIT 25.0 kWh", "SUPPLY ON"],
            ["CREDIT 25.0 kWh", "OVERLOAD: OFF"],
            ["CREDIT 25.0 kWh", "SUPPLY ON"],
            ["ACCEPT", "TARIFF 42"],
            ["ACCEPT", "TAMPER CLEARED"],
            ["ACCEPT", "UNBAL 500 W"],
            ["ACCEPT", "WATER FAC 3"],
            ["ACCEPT", "TEST 512"],
            ["ACCEPT", "TEST 7"],
            ["ACCEPT", "TEST 68719476735"],
            ["ACCEPT", "TEST 268435455"],
            ["ACCEPT", "CREDIT CLEARED"],
            ["ACCEPT", "CREDIT CLEARED"],
            IDLE_0,
        ],
    )
    credited, limited, tripped, back, water_cleared, cleared = statuses(out)
    assert credited["balances"] == [250, 125, 70, 240]
    assert limited["max_power"] == 1000 and limited["relay"] is True
    assert tripped["tripped"] is True and tripped["relay"] is False
    trip_frame = next(o for o in frames(out) if screen(o) == ["CREDIT 25.0 kWh", "OVERLOAD: OFF"])
    assert trip_frame["relay"] is False
    assert back["tripped"] is False and back["relay"] is True and back["balance"] == 250
    assert water_cleared["balances"] == [250, 0, 70, 240]
    assert cleared["balances"] == [0, 0, 0, 0] and cleared["relay"] is False
    assert frames(out)[-1]["relay"] is False and screens(out)[-1] == IDLE_0
    assert cleared["tids_used"] == 50, "memory full: 50 of the manufacture TID and ours"
    assert not [s for s in screens(out) if s[0].startswith("REJECT")]


# -- 3. conformance: tokens this project did not make -----------------------------------
VECTOR_CASES = [c for c in load_vectors() if c["kind"] == "token"]
ANY_KEY = "0123456789abcdef"  # class 1 is sent in the clear: any 8-byte key decodes it
REGISTER_TEXT = {
    0: "LIMIT {} W",
    1: "CREDIT CLEARED",
    2: "TARIFF {}",
    5: "TAMPER CLEARED",
    6: "UNBAL {} W",
    7: "WATER FAC {}",
}
POWER = (0, 6)  # max power limit, phase power unbalance: watts, carried like an amount


def personalisation(case):
    """The meter a conformance case was made for, with an empty token memory."""
    key = case.get("key") or {}
    return {
        "pan": key.get("pan", "600727000000000009"),
        "sgc": "123456",
        "ti": "01",
        "kt": 2,
        "krn": 1,
        "ken": 255,
        "ea": case["ea"] or "sta",
        "base_date": case.get("base_date") or 1993,
        "decoder_key": case.get("decoder_key") or ANY_KEY,
        "manufacture_tid": 0,
    }


def expected_screen(case):
    """What the display shows after the case's token is typed on its meter."""
    cls, sub, f = case["class"], case["subclass"], case["fields"]
    if cls == 0:
        t = f["amount_tenths"]
        lines = ["ACCEPT", "+%d.%d %s" % (t // 10, t % 10, UNITS[sub])]
    elif cls == 1:
        lines = ["ACCEPT", "TEST %d" % f["control"]]
    elif sub in (3, 4, 8, 9):
        lines = ["KEY CHANGE 1/%d" % (2 if case["ea"] == "sta" else 4), "ENTER NEXT TOKEN"]
    elif sub == 0 and f["register"] == 0:
        lines = ["ACCEPT", "NO POWER LIMIT"]
    else:
        v = amount.decode(f["register"]) if sub in POWER else f["register"]
        lines = ["ACCEPT", REGISTER_TEXT[sub].format(v)]
    return [s[:COLS] for s in lines]


def test_conformance_vectors_typed_on_the_keypad(tmp_path):
    assert len(VECTOR_CASES) == 260
    state = new_meter(tmp_path)
    script = []
    for case in VECTOR_CASES:
        script += [
            "personalise " + json.dumps(personalisation(case)),
            "type " + case["token"],
            "status",
            "wait 4000",
        ]
    out = sim(state, script)
    got = after_each_status(out)
    assert len(got) == len(VECTOR_CASES)
    failures = []
    passed = 0
    for case, (shown, st) in zip(VECTOR_CASES, got):
        want = expected_screen(case)
        s = st["status"]
        problems = []
        if shown["t"] != st["t"] or screen(shown) != want:
            problems.append("screen %r, want %r" % (screen(shown), want))
        cls, sub, f = case["class"], case["subclass"], case["fields"]
        if cls == 0 and s["balances"][sub] != f["amount_tenths"]:
            problems.append("balances %r" % s["balances"])
        if cls == 2 and sub == 0 and s["max_power"] != amount.decode(f["register"]):
            problems.append("max_power %r" % s["max_power"])
        if cls == 2 and sub in (3, 4, 8, 9) and s["kct_held"] != 1:
            problems.append("kct_held %r" % s["kct_held"])
        if problems:
            failures.append(
                "%s %s class %d/%d: %s"
                % (case["id"], case["source"], cls, sub, "; ".join(problems))
            )
        else:
            passed += 1
    print(
        "conformance on the keypad: %d of %d cases accepted with their fields shown"
        % (passed, len(VECTOR_CASES))
    )
    assert not failures, "%d of %d cases wrong:\n%s" % (
        len(failures),
        len(VECTOR_CASES),
        "\n".join(failures),
    )
