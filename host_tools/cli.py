# cli.py  stsvend: the vending side on the command line
import argparse
import decimal
import json
import random
import sys

from host_tools import explain as explain_mod
from host_tools import profile as profiles
from host_tools import tid as tids
from host_tools import vend

USAGE_EXAMPLES = """examples:
  stsvend --profile demo.json key
  stsvend --profile demo.json credit 25.5 --at 2024-11-23T10:00Z
  stsvend --profile demo.json management max-power 5000 --at now
  stsvend --profile demo.json keychange --krn 2
  stsvend --profile demo.json migrate 10 --at 2024-11-25T08:00Z
  stsvend test 512
  stsvend --profile demo.json explain "2371 6100 5011 8319 4197"
"""


def _tenths(text):
    """Units as typed -> whole tenths, a fraction of a tenth rounded up (customer's favour)."""
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError("not a finite amount: %r" % text)
    return int((value * 10).to_integral_value(rounding=decimal.ROUND_CEILING))


def _common(ap, default):
    ap.add_argument("--profile", default=default, help="meter profile (JSON)")
    ap.add_argument("--json", action="store_true", default=default or False,
                    help="machine-readable output")
    ap.add_argument("--ledger", default=default,
                    help="issued-TID ledger, SQLite (default: PROFILE.tids.db)")
    ap.add_argument("--seed", type=int, default=default,
                    help="seed the 4-bit random numbers (reproducible)")


def _parser():
    ap = argparse.ArgumentParser(prog="stsvend", epilog=USAGE_EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 description="STS vending tools: keys and tokens for a meter")
    _common(ap, None)
    # The same options after the subcommand too (`stsvend credit 5 --json`).
    common = argparse.ArgumentParser(add_help=False)
    _common(common, argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="cmd", required=True)
    _add = sub.add_parser

    def add_parser(name, **kw):
        return _add(name, parents=[common], **kw)

    sub.add_parser = add_parser
    sub.add_parser("key", help="the meter's decoder key")
    p = sub.add_parser("credit", help="a credit token")
    p.add_argument("amount", type=_tenths, help="units (kWh for electricity), e.g. 25.5")
    p.add_argument("--commodity", default="electricity", choices=sorted(vend.COMMODITIES))
    p.add_argument("--at", default="now", help="issue time, ISO 8601 with zone (default now)")
    p = sub.add_parser("management", help="a management token")
    p.add_argument("kind", choices=sorted(vend.MANAGEMENT))
    p.add_argument("value", type=int, nargs="?", default=0,
                   help="watts for max-power and phase-unbalance (0..%d, 0 is no limit), "
                   "else the register 0..65535" % vend.MAX_WATTS)
    p.add_argument("--at", default="now")
    p = sub.add_parser("keychange", help="a key change set to new key fields")
    for f in ("krn", "kt", "ken"):
        p.add_argument("--" + f, type=int)
    p.add_argument("--ti")
    p.add_argument("--sgc")
    p.add_argument("--rollover", action="store_true", help="set RO: the meter's TID memory "
                   "is cleared and its base date moves on (1993 -> 2014 -> 2035)")
    p = sub.add_parser("migrate", help="the edition-2 set: rollover key change, then credit")
    p.add_argument("amount", type=_tenths)
    p.add_argument("--at", default="now")
    p = sub.add_parser("test", help="a class 1 test/display token (no profile needed)")
    p.add_argument("control", type=int)
    p.add_argument("--mfr", type=int, help="manufacturer code (default: the profile's, "
                   "from its PAN; without a profile 0, any meter)")
    p.add_argument("--subclass", type=int, default=0, choices=(0, 1))
    p = sub.add_parser("explain", help="every stage of decoding 20 digits")
    p.add_argument("token")
    return ap


def _print_tokens(tokens, as_json, extra=None):
    if as_json:
        print(json.dumps({"tokens": [t.as_dict() for t in tokens], **(extra or {})}, indent=1))
        return
    for i, t in enumerate(tokens, 1):
        lead = "%d. " % i if len(tokens) > 1 else ""
        print("%s%s   %s" % (lead, t.grouped(), t.what))
        if "encoded_tenths" in t.extra:
            e = t.extra["encoded_tenths"]
            r = t.extra["requested_tenths"]
            print("   amount %d.%d%s" % (e // 10, e % 10, "" if e == r else
                                         " (requested %d.%d, rounded up)" % (r // 10, r % 10)))
        if "encoded_watts" in t.extra:
            e = t.extra["encoded_watts"]
            r = t.extra["requested_watts"]
            print("   limit %d W%s" % (e, "" if e == r else
                                       " (requested %d W, rounded up)" % r))
        if "tid_time" in t.extra:
            print("   TID %d = %s" % (t.fields["tid"], t.extra["tid_time"]))
        if "tid_moved" in t.extra:
            print("   note: " + t.extra["tid_moved"])


def _ledger(args):
    """The issued-TID ledger; TIDs in an old JSON ledger beside the profile are taken in."""
    return tids.Ledger(args.ledger or args.profile + ".tids.db",
                       imports=[args.profile + ".tids.json"])


def _test(args):
    mfr = args.mfr
    if mfr is None:
        mfr = profiles.load(args.profile).mfr if args.profile else 0
        if args.subclass == 0 and mfr > 255:
            raise ValueError("the profile's manufacturer code %d has 4 digits: use --subclass 1 "
                             "(a 16-bit code) or give --mfr" % mfr)
    _print_tokens([vend.test_display(args.control, mfr, args.subclass)], args.json)


def run(args):
    rng = random.Random(args.seed) if args.seed is not None else random.SystemRandom()
    if args.cmd == "test":
        _test(args)
        return
    if not args.profile:
        raise profiles.ProfileError("this command needs --profile PATH (a meter profile)")
    prof = profiles.load(args.profile)
    if args.cmd == "key":
        key = prof.decoder_key().hex()
        if args.json:
            print(json.dumps({"decoder_key": key, "ea": prof.ea, "dkga": prof.dkga}))
        else:
            print("decoder key %s (%s, DKGA%02d, KRN %d)" % (key, prof.ea.upper(), prof.dkga,
                                                               prof.krn))
    elif args.cmd == "credit":
        when = tids.parse_time(args.at)
        _print_tokens([vend.credit(prof, args.commodity, args.amount, when, _ledger(args),
                                   rng)], args.json)
    elif args.cmd == "management":
        when = tids.parse_time(args.at)
        _print_tokens([vend.management(prof, args.kind, args.value, when, _ledger(args),
                                       rng)], args.json)
    elif args.cmd == "keychange":
        new = {f: getattr(args, f) for f in ("krn", "kt", "ken", "ti", "sgc")
               if getattr(args, f) is not None}
        if not new and not args.rollover:
            raise ValueError("say what changes: --krn, --kt, --ken, --ti, --sgc or --rollover")
        toks, target = vend.key_change(prof, new, ro=1 if args.rollover else 0)
        _print_tokens(toks, args.json, {"new_profile": target})
        if not args.json:
            if args.rollover:
                print("RO is set: the meter clears its TID memory and moves to base date %d"
                      % target["base_date"])
            print("type every section within the meter's key change window (2 minutes)")
    elif args.cmd == "migrate":
        when = tids.parse_time(args.at)
        toks, target = vend.migration(prof, args.amount, when, _ledger(args), rng)
        _print_tokens(toks, args.json, {"new_profile": target})
        if not args.json:
            print("codes 1..%d are the key change (rollover to base date %d, KRN %d): type "
                  "them within 2 minutes; code %d is credit under the new key"
                  % (len(toks) - 1, target["base_date"], target["krn"], len(toks)))
    elif args.cmd == "explain":
        stages = explain_mod.explain(prof, args.token)
        if args.json:
            print(json.dumps([{"stage": k, "value": v} for k, v in stages], indent=1))
        for name, value in () if args.json else stages:
            print("%-16s %s" % (name, value))


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as e:  # ProfileError and TidError are ValueErrors
        print("stsvend: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
