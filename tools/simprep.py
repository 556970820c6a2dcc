# simprep.py  `make sim`, host side: a fresh demo meter for the simulator, and tokens to try
# Writes STATE/meter.json (the decoder key and meter data, never the vending key) from a
# vending profile, clears the simulator's old state (saying so: `make sim-resume` keeps it),
# and prints tokens made for it.
# `make sim-tokens` (--tokens-only): fresh tokens for the simulator's meter as it is now
# (after a migration: its new key, KRN and base date, TIDs after the newest it holds), the
# state kept; the simulator shows them when `r` is pressed.
import argparse
import datetime as dt
import json
import os
import random

from stsvend import profile, tid, vend
from tools import DEMO_MADE, ROOT
from tools.deploy import meter_json

UTC = dt.timezone.utc
MADE = DEMO_MADE  # the demo meter's manufacture date


def tokens(prof, now, rng, after=None):
    """(label, token) pairs a person can type into the demo meter, in a sensible order;
    every TID at or after the time `after` (the minute after the newest the meter holds)."""
    out = [("short code: STS edition and KRN", "873")]
    start, last = tid.window(prof.base_date)
    if now > last:  # edition 1 has run out: the last credit it could take, then migrate
        bought = last - dt.timedelta(days=4)
        if after is not None and after > bought:
            bought = min(after, last)
        if after is None or after <= last:
            out.append(
                (
                    "credit 25 kWh bought before the 2024 rollover",
                    vend.credit(prof, "electricity", 250, bought, None, rng).grouped(),
                )
            )
        kcts, target = vend.migration(prof, 100, now, None, rng)
        for i, t in enumerate(kcts[:-1], 1):
            out.append(
                ("key change %d of %d (all within 2 minutes)" % (i, len(kcts) - 1), t.grouped())
            )
        out.append(("credit 10 kWh under the new key", kcts[-1].grouped()))
        out.append(("short code again: edition 2 now", "873"))
        moved = profile.Profile(dict(target, vending_key=prof.vending_key.hex()))
    else:
        out.append(
            ("credit 25 kWh", vend.credit(prof, "electricity", 250, now, None, rng).grouped())
        )
        moved = prof
    later = now + dt.timedelta(minutes=1)
    out.append(
        (
            "max power 1000 W (then press l for a 2 kW load)",
            vend.management(moved, "max-power", 1000, later, None, rng).grouped(),
        )
    )
    out.append(("test/display token", vend.test_display(512).grouped()))
    out.append(("short codes: balance, last result, TIDs, PAN", "0  1  3  8"))
    return out


def _meter_in(state):
    """The simulator's meter in `state` (the firmware's own code reads it), or None."""
    if not any(n.startswith("meter.") and n != "meter.json" for n in os.listdir(state)):
        return None
    from meter.meter import Meter  # firmware/ is on PYTHONPATH (see as_now)
    from meter.store import RecordStore

    return Meter(RecordStore(os.path.join(state, "meter")))


def as_now(prof, state):
    """(profile of the simulator's meter as its state holds it, the time of the minute
    after its newest TID): the vending key of `prof`, the key fields of the meter."""
    # The simulator's meter, read by the firmware's own code: firmware/ is on PYTHONPATH (the
    # Makefile's sim targets, pytest's pythonpath).
    from meter.meter import Meter
    from meter.store import RecordStore

    m = Meter(RecordStore(os.path.join(state, "meter")))
    if not m.personalised or m.fault:
        raise SystemExit(
            "simprep: no meter in %s/ (%s): run `make sim` first" % (state, m.fault or "blank")
        )
    now = profile.Profile(
        dict(
            prof.as_dict(),
            name=prof.name,
            pan=m.pan,
            sgc="%06d" % m.sgc,
            ti="%02d" % m.ti,
            kt=m.kt,
            krn=m.krn,
            ken=m.ken,
            ea=m.ea,
            base_date=m.base_date,
            vending_key=prof.vending_key.hex(),
        )
    )
    if now.decoder_key() != m.key:
        raise SystemExit(
            "simprep: the meter in %s/ holds a key that %s's vending key does "
            "not make (KRN %d): run `make sim` for a fresh one" % (state, prof.name, m.krn)
        )
    start, _ = tid.window(m.base_date)
    newest = m.tids.newest()
    after = start + dt.timedelta(minutes=(newest or 0) + 1)
    return now, after


def main(argv=None):
    ap = argparse.ArgumentParser(description="prepare the simulator's demo meter")
    ap.add_argument("--profile", default=os.path.join(ROOT, "stsvend", "profiles", "demo.json"))
    ap.add_argument("--state", default=".sim")
    ap.add_argument("--seed", type=int)
    ap.add_argument(
        "--tokens-only",
        action="store_true",
        help="fresh tokens for the meter in STATE as it is now; the state kept",
    )
    args = ap.parse_args(argv)
    prof = profile.load(args.profile)
    rng = random.Random(args.seed) if args.seed is not None else random.SystemRandom()
    when = dt.datetime.now(UTC)
    if not args.tokens_only:
        os.makedirs(args.state, exist_ok=True)
        old = _meter_in(args.state)
        if old is not None:
            was = "unreadable: %s" % old.fault
            if old.personalised and not old.fault:
                was = "credit %d.%d kWh, KRN %d, base date %d" % (
                    old.balance[0] // 10,
                    old.balance[0] % 10,
                    old.krn,
                    old.base_date,
                )
            print(
                "Replacing the meter in %s/ (%s) with a fresh one; `make sim-resume` "
                "runs the simulator on the meter as it is instead." % (args.state, was)
            )
        for name in os.listdir(args.state):  # a fresh meter each time `make sim` runs
            os.remove(os.path.join(args.state, name))
        with open(os.path.join(args.state, "meter.json"), "w") as f:
            json.dump(meter_json(prof, MADE), f)  # the same file a board is provisioned with
    after = None
    if args.tokens_only:
        prof, after = as_now(prof, args.state)
        when = max(when, after)
    lines = ["%-26s %s" % (token, label) for label, token in tokens(prof, when, rng, after)]
    with open(os.path.join(args.state, "tokens.txt"), "w") as f:  # the simulator shows them
        f.write("\n".join(lines) + "\n")
    if args.tokens_only:
        print(
            "Tokens for the meter in %s/ as it is now (KRN %d, base date %d); press r in "
            "the simulator to see them:" % (args.state, prof.krn, prof.base_date)
        )
    else:
        print("A fresh demo meter (%s), in %s/. Tokens to try:" % (prof.name, args.state))
    for line in lines:
        print("  " + line)


if __name__ == "__main__":
    main()
