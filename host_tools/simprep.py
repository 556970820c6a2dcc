# simprep.py  `make sim`, host side: a fresh demo meter for the simulator, and tokens to try
# Writes STATE/meter.json (the decoder key and meter data, never the vending key) from a
# vending profile, clears the simulator's old state, and prints tokens made for it.
import argparse
import datetime as dt
import json
import os
import random

from host_tools import profile, tid, vend
from host_tools.deploy import meter_json

UTC = dt.timezone.utc
MADE = dt.datetime(2024, 1, 1, tzinfo=UTC)  # the demo meter's manufacture date


def tokens(prof, now, rng):
    """(label, token) pairs a person can type into the demo meter, in a sensible order."""
    out = [("short code: STS edition and KRN", "873")]
    start, last = tid.window(prof.base_date)
    if now > last:  # edition 1 has run out: the last credit it could take, then migrate
        out.append(("credit 25 kWh bought before the 2024 rollover",
                    vend.credit(prof, "electricity", 250, last - dt.timedelta(days=4), None,
                                rng).grouped()))
        kcts, target = vend.migration(prof, 100, now, None, rng)
        for i, t in enumerate(kcts[:-1], 1):
            out.append(("key change %d of %d (all within 2 minutes)" % (i, len(kcts) - 1),
                        t.grouped()))
        out.append(("credit 10 kWh under the new key", kcts[-1].grouped()))
        out.append(("short code again: edition 2 now", "873"))
        moved = profile.Profile(dict(target, vending_key=prof.vending_key.hex()))
    else:
        out.append(("credit 25 kWh", vend.credit(prof, "electricity", 250, now, None,
                                                 rng).grouped()))
        moved = prof
    later = now + dt.timedelta(minutes=1)
    out.append(("max power 1000 W (then press l for a 2 kW load)",
                vend.management(moved, "max-power", 1000, later, None, rng).grouped()))
    out.append(("test/display token", vend.test_display(512).grouped()))
    out.append(("short codes: balance, last result, TID memory, PAN", "0  1  3  8"))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="prepare the simulator's demo meter")
    ap.add_argument("--profile", default=os.path.join(os.path.dirname(__file__), "profiles",
                                                      "demo.json"))
    ap.add_argument("--state", default=".sim")
    ap.add_argument("--seed", type=int)
    args = ap.parse_args(argv)
    prof = profile.load(args.profile)
    os.makedirs(args.state, exist_ok=True)
    for name in os.listdir(args.state):  # a fresh meter each time `make sim` runs
        os.remove(os.path.join(args.state, name))
    with open(os.path.join(args.state, "meter.json"), "w") as f:
        json.dump(meter_json(prof, MADE), f)  # the same file a board is provisioned with
    rng = random.Random(args.seed) if args.seed is not None else random.SystemRandom()
    lines = ["%-26s %s" % (token, label) for label, token in tokens(prof, dt.datetime.now(UTC),
                                                                    rng)]
    with open(os.path.join(args.state, "tokens.txt"), "w") as f:  # the simulator shows them
        f.write("\n".join(lines) + "\n")
    print("A fresh demo meter (%s), in %s/. Tokens to try:" % (prof.name, args.state))
    for line in lines:
        print("  " + line)


if __name__ == "__main__":
    main()
