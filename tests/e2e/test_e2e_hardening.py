# test_e2e_hardening.py  the meter's defences as a customer or an attacker at the keypad meets
# them: the simulator (boards/unix/sim.py --script, in the real `micropython` binary) driven by
# keys, waits, loads, power cuts and restarts of a board's clock, and judged only by what a
# person sees: the display, the relay, and the status fields (balance, KRN, base date...).
import datetime as dt
import json
import random

import simscript
from simscript import demo, frames, screen, screens, statuses
from sts import errors
from sts.blocks import encode
from sts.codec import Decoder
from sts.sta import Sta
from stsvend import profile, vend
from tools import DEMO_MADE
from tools.deploy import meter_json

UTC = dt.timezone.utc
START = int(dt.datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp())  # the sim's clock
EARLIER = START - 30 * 86400  # a board's clock after a power cut: rp2 restarts in 2021
MADE = DEMO_MADE  # the demo meter's manufacture date (tools/__init__.py)
WHEN = dt.datetime(2024, 6, 1, 12, tzinfo=UTC)  # demo (base 1993) tokens: before 2024-11-24
BASE_1993 = dt.datetime(1993, 1, 1, tzinfo=UTC)
FAULT = ["METER FAULT", "CALL SERVICE"]
DEMO = demo()
LOCK_STEPS = (10, 20, 40, 80, 160, 320, 640)  # s: the lock after guesses 3..9; the 10th: 1280


# -- driving the simulator ---------------------------------------------------------------
def new_meter(tmp_path, prof=DEMO, name="state"):
    """A state directory holding only meter.json: the simulator personalises at its start."""
    state = tmp_path / name
    state.mkdir()
    with open(state / "meter.json", "w") as f:
        json.dump(meter_json(prof, MADE), f)
    return state


def sim(state, lines, start=START, options=(), rc=0):
    """One simulator process (one power-up) over the script `lines`, then quit."""
    return simscript.run(state, lines + ["quit"], start, options, rc)


def typed(token):
    return "type " + token.digits


def credit(tenths, minutes, seed, prof=DEMO):
    """Electricity credit dated `minutes` after WHEN."""
    return vend.credit(
        prof,
        "electricity",
        tenths,
        WHEN + dt.timedelta(minutes=minutes),
        None,
        random.Random(seed),
    )


def guesses(n, seed=1):
    """n entries of 20 random digits that the demo key does not decode (a CRC failure)."""
    rng = random.Random(seed)
    dec = Decoder(Sta(DEMO.decoder_key()))
    out = []
    while len(out) < n:
        d = "%020d" % rng.randrange(10**20)
        if dec.decode(d) == errors.BAD_CRC:
            out.append(d)
    return out


def shown_at_status(out):
    """The screen shown when each `status` line was asked for."""
    shown = None
    got = []
    for o in out:
        if "lines" in o:
            shown = screen(o)
        elif "status" in o:
            got.append(shown)
    return got


def migration_sections(seed=1):
    tokens, _ = vend.migration(
        DEMO, 100, dt.datetime(2026, 11, 23, 11, tzinfo=UTC), None, random.Random(seed)
    )
    return tokens[0], tokens[1]


# -- 1. guesses between key change sections ----------------------------------------------
def test_key_change_section_does_not_end_a_streak_of_guesses(tmp_path):
    """An attacker types two guesses, then the first key change section every customer was
    handed in 2024, and again: the third guess still locks the keypad, so the credit typed
    next shows LOCKED and the balance stays 0."""
    k1, _ = migration_sections()
    g = guesses(6)
    c = credit(100, 0, 1)
    state = new_meter(tmp_path)
    lines = []
    for i in range(0, 6, 2):
        lines += ["type " + g[i], "type " + g[i + 1], typed(k1)]
    out = sim(state, lines + [typed(c), "status"])
    assert shown_at_status(out)[-1][0] == "LOCKED", shown_at_status(out)
    assert statuses(out)[-1]["balance"] == 0
    assert not [s for s in screens(out) if s[0] == "ACCEPT"]


# -- 2. a key change to the key in use ---------------------------------------------------
def test_key_change_to_the_same_key_with_rollover_does_not_revive_used_tokens(tmp_path):
    """A key change set whose new key is the key in use, with RO set, after a credit: typed
    again, the credit is not accepted a second time (the balance shows it once) and the
    meter keeps its base date."""
    key = DEMO.decoder_key()
    cur = Sta(key)
    hi, lo = int.from_bytes(key[:4], "big"), int.from_bytes(key[4:], "big")
    s3 = encode(2, 3, {"nkho": hi, "kt": 2, "res": 0, "ro": 1, "krn": 1, "kenho": 15}, cur)
    s4 = encode(2, 4, {"nklo": lo, "ti": 1, "kenlo": 15}, cur)
    c = credit(250, 0, 2)
    state = new_meter(tmp_path)
    out = sim(
        state,
        [
            typed(c),
            "wait 3000",
            "status",
            "type " + s3,
            "type " + s4,
            "wait 3000",
            "status",
            typed(c),
            "wait 3000",
            "status",
        ],
    )
    before, after_kct, after = statuses(out)
    assert ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"] in screens(out), "sections made right"
    assert before["balance"] == 250
    assert after["balance"] == 250, "the same credit accepted twice"
    assert screens(out).count(["ACCEPT", "+25.0 kWh"]) == 1
    for st in (after_kct, after):
        assert (st["base_date"], st["edition"], st["krn"]) == (1993, 1, 1)
        assert st["tids_used"] == before["tids_used"]


# -- 3. a board's clock starts again at every power-up -----------------------------------
def test_keypad_lock_lasts_at_most_its_cap_when_the_clock_restarts_earlier(tmp_path):
    """Locked to the 1,280 s cap by ten guesses, the meter loses power and its clock starts
    30 days earlier: the credit typed next shows LOCKED with a wait of at most 1280 s, and
    once that has passed the credit is accepted."""
    g = guesses(10, seed=3)
    c = credit(70, 0, 3)
    state = new_meter(tmp_path)
    lines = ["type " + g[0], "type " + g[1]]
    for i, lock in enumerate(LOCK_STEPS):
        lines += ["type " + g[2 + i], "wait %d" % (lock * 1000 + 100)]
    lines += ["type " + g[9], typed(c)]
    out = sim(state, lines)
    assert screens(out)[-1] == ["LOCKED", "WAIT 1280s"], "the cap is reached"
    out = sim(state, [typed(c), "status", "wait 1281000", typed(c), "status"], EARLIER)
    (locked, accepted), (st_locked, st_accepted) = shown_at_status(out), statuses(out)
    assert locked[0] == "LOCKED" and st_locked["balance"] == 0
    wait = int(locked[1].split()[1].rstrip("s"))
    assert 0 < wait <= 1280, locked
    assert accepted == ["ACCEPT", "+7.0 kWh"] and st_accepted["balance"] == 70


def test_overload_trip_lasts_at_most_a_minute_when_the_clock_restarts_earlier(tmp_path):
    """A 1000 W limit, a 2 kW load: the relay opens. After a power cut the clock starts 30
    days earlier; with no load, 61 s later the relay is closed again."""
    c = credit(250, 0, 4)
    limit = vend.management(
        DEMO, "max-power", 1000, WHEN + dt.timedelta(minutes=1), None, random.Random(4)
    )
    state = new_meter(tmp_path)
    out = sim(state, [typed(c), typed(limit), "wait 3000", "load 2000", "wait 1000", "status"])
    tripped = statuses(out)[0]
    assert tripped["tripped"] is True and tripped["relay"] is False
    assert frames(out)[-1]["relay"] is False
    out = sim(state, ["load 0", "wait 61000", "status"], EARLIER)
    back = statuses(out)[0]
    assert back["relay"] is True, "the relay stays open after a minute: %s" % back
    assert back["relay"] is True and back["tripped"] is False and back["balance"] == 250
    assert frames(out)[-1]["relay"] is True


def test_held_key_change_section_expires_when_the_clock_restarts_earlier(tmp_path):
    """A first key change section held, a power cut, the clock starts 30 days earlier and
    130 s pass: the second section no longer completes the set (no KEY CHANGED, still KRN 1,
    edition 1)."""
    k1, k2 = migration_sections(5)
    state = new_meter(tmp_path)
    out = sim(state, [typed(k1), "status"])
    assert statuses(out)[0]["kct_held"] == 1
    out = sim(state, ["wait 130000", typed(k2), "wait 3000", "status"], EARLIER)
    st = statuses(out)[0]
    assert ["KEY CHANGED", "ACCEPT"] not in screens(out)
    assert (st["krn"], st["edition"], st["base_date"]) == (1, 1, 1993)


# -- 4. a power cut while the meter is personalised ---------------------------------------
def test_power_cut_during_personalisation_leaves_a_working_meter(tmp_path):
    """The power fails at the first state write (personalising a new meter from its
    meter.json): at the next power-up the meter shows its balance, not METER FAULT, and
    accepts credit."""
    c = credit(30, 0, 6)
    state = new_meter(tmp_path)
    out = sim(state, ["status"], options=["--cut-at", "1"], rc=3)
    assert [o for o in out if "cut" in o], out
    out = sim(state, ["status", typed(c), "wait 3000", "status"])
    assert FAULT not in screens(out)
    assert screens(out)[0] == ["CREDIT 0.0 kWh", "NO CREDIT: OFF"]
    assert ["ACCEPT", "+3.0 kWh"] in screens(out)
    assert statuses(out)[-1]["balance"] == 30 and frames(out)[-1]["relay"] is True


# -- 5. the max power limit is carried like an amount --------------------------------------
def test_max_power_limit_register_is_decoded_like_an_amount(tmp_path):
    """Register 0x416a (exponent 1, mantissa 362) is 20,004 W: a load of 20,004 W keeps the
    relay closed, 20,005 W opens it."""
    when = WHEN + dt.timedelta(minutes=2)
    tid = int((when - BASE_1993).total_seconds()) // 60
    limit = encode(2, 0, {"register": 0x416A, "tid": tid, "rnd": 5}, Sta(DEMO.decoder_key()))
    c = credit(250, 0, 7)
    state = new_meter(tmp_path)
    out = sim(
        state,
        [
            typed(c),
            "type " + limit,
            "wait 3000",
            "load 20004",
            "wait 1000",
            "status",
            "load 20005",
            "wait 1000",
            "status",
        ],
    )
    at_limit, over = statuses(out)
    assert at_limit["relay"] is True and at_limit["tripped"] is False, "tripped at 20,004 W"
    assert over["relay"] is False and over["tripped"] is True
    assert frames(out)[-1]["relay"] is False


# -- 6. the manufacturer code is read from the PAN -----------------------------------------
def test_test_token_for_the_manufacturer_in_the_pan_is_accepted(tmp_path):
    """A meter whose PAN 600727 07... names manufacturer 07 accepts a test/display token
    carrying manufacturer 7."""
    prof = profile.Profile(
        dict(DEMO.as_dict(), pan="600727070000000051", vending_key=DEMO.vending_key.hex())
    )
    state = new_meter(tmp_path, prof)
    token = encode(1, 0, {"mfr": 7, "control": 512}, None)
    out = sim(state, ["type " + token, "status"])
    assert shown_at_status(out)[0] == ["ACCEPT", "TEST 512"], shown_at_status(out)


# -- 7. the meter's own result numbers ------------------------------------------------------
def test_last_result_short_code_names_a_timed_out_key_change(tmp_path):
    """After a key change section timed out, short code 1 shows the result screen's words,
    not a number from the standard's table (16)."""
    k1, k2 = migration_sections(7)
    state = new_meter(tmp_path)
    out = sim(state, [typed(k1), "wait 121000", typed(k2), "wait 3000", "type 1"])
    assert ["KEY CHANGE 1/2", "TIMED OUT: AGAIN"] in screens(out)
    assert screens(out)[-1] == ["KEY CHANGE 1/2", "TIMED OUT: AGAIN"], screens(out)[-1]


# -- 8. whole values on the display ------------------------------------------------------------
def test_water_meter_factor_of_1000_is_shown_whole(tmp_path):
    """A water meter factor token of 1000: the ACCEPT screen shows 1000, not a number cut at
    the display's 16 columns."""
    tok = vend.management(
        DEMO, "water-factor", 1000, WHEN + dt.timedelta(minutes=3), None, random.Random(8)
    )
    state = new_meter(tmp_path)
    out = sim(state, [typed(tok), "status"])
    shown = shown_at_status(out)[0]
    assert shown[0] == "ACCEPT"
    assert shown[1].split()[-1] == "1000", shown
