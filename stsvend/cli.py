# cli.py  stsvend: the vending side on the command line
import argparse
import json
import os
import random
import shlex
import shutil
import sys
from array import array

from sts import amount, digits, words
from sts import stages as sts_stages
from stsvend import batch, vend
from stsvend import explain as explain_mod
from stsvend import profile as profiles
from stsvend import sms as smses
from stsvend import tariff as tariffs
from stsvend import tid as tids

DEMO = "demo"  # the demo meter, a packaged profile (stsvend/profiles/demo.json)
COPY = "stsvend profiles --copy demo meter.json"  # a profile of your own, for --write
# Examples by subcommand, each a shell line run as written in any directory, from a checkout
# after `make setup` or an installed wheel (tests run every one): the main --help shows the
# first of each, a subcommand's --help all its own.
EXAMPLES = {
    "key": ["stsvend --profile %s key" % DEMO],
    "credit": [
        "stsvend --profile %s credit 25.5 --at 2024-11-23T10:00Z" % DEMO,
        "stsvend --profile %s credit 3 --commodity water --at 2024-11-23T10:01Z" % DEMO,
    ],
    "management": [
        "stsvend --profile %s management max-power 5000 --at 2024-11-23T10:05Z" % DEMO,
        "stsvend --profile %s management clear-credit 65535 --at 2024-11-23T10:06Z" % DEMO,
    ],
    "keychange": [
        "stsvend --profile %s keychange --krn 2" % DEMO,
        "stsvend --profile %s keychange --krn 2 --rollover" % DEMO,
        COPY,
        "stsvend --profile meter.json keychange --krn 2 --write",
        "stsvend --profile meter.json credit 5 --at 2024-11-23T10:00Z",
    ],
    "migrate": [
        "stsvend --profile %s migrate 10 --at 2024-11-25T08:00Z" % DEMO,
        COPY,
        "stsvend --profile meter.json migrate 10 --at 2024-11-25T08:00Z --write",
        "stsvend --profile meter.json credit 5 --at 2024-11-25T08:30Z",
        "stsvend --profile %s migrate --at 2024-11-20T08:00Z --sms fr" % DEMO,
    ],
    "test": ["stsvend test 512", "stsvend test 6 --mfr 7"],
    "explain": [
        'stsvend explain "0000 0000 0087 2419 5840"',
        'stsvend --profile %s explain "2371 6100 5011 8319 4197"' % DEMO,
    ],
    "profiles": ["stsvend profiles", COPY, "stsvend profiles --copy fleet-demo.csv ."],
}


def _epilog(lines):
    return "examples (in any directory):\n" + "".join("  %s\n" % x for x in lines)


USAGE_EXAMPLES = _epilog([v[0] for v in EXAMPLES.values()] + EXAMPLES["migrate"][1:])
NAMES = {
    "krn": "KRN",
    "kt": "KT",
    "ken": "KEN",
    "ti": "TI",
    "sgc": "SGC",
    "base_date": "base date",
}


def _tenths(text):
    """Units as typed -> whole tenths, a fraction of a tenth rounded up (customer's favour)."""
    try:
        return batch.tenths(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).replace("amount: ", "", 1)) from None


def _common(ap, default):
    ap.add_argument(
        "--profile",
        default=default,
        help="meter profile: a JSON file, or a packaged profile by name (demo; "
        "`stsvend profiles` lists them)",
    )
    ap.add_argument(
        "--json", action="store_true", default=default or False, help="machine-readable output"
    )
    ap.add_argument(
        "--ledger",
        default=default,
        help="issued-TID ledger, SQLite (default: PROFILE.tids.db beside the profile file; "
        "NAME.tids.db here for a packaged profile)",
    )
    ap.add_argument(
        "--seed",
        type=batch.whole_arg,
        default=default,
        help="seed the 4-bit random numbers (reproducible)",
    )


def _parser():
    ap = argparse.ArgumentParser(
        prog="stsvend",
        epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="STS vending tools: keys and tokens for a meter",
    )
    _common(ap, None)
    # The same options after the subcommand too (`stsvend credit 5 --json`).
    common = argparse.ArgumentParser(add_help=False)
    _common(common, argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="cmd", required=True)
    _add = sub.add_parser

    def add_parser(name, **kw):
        if name in EXAMPLES:
            kw.update(
                epilog=_epilog(EXAMPLES[name]),
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        return _add(name, parents=[common], **kw)

    sub.add_parser = add_parser
    sub.add_parser("key", help="the meter's decoder key")
    p = sub.add_parser("credit", help="a credit token")
    p.add_argument(
        "amount", type=_tenths, nargs="?", help="units (kWh for electricity), e.g. 25.5"
    )
    p.add_argument("--commodity", default="electricity", choices=sorted(vend.COMMODITIES))
    p.add_argument("--at", default="now", help="issue time, ISO 8601 with zone (default now)")
    _sale_options(p)
    p = sub.add_parser("management", help="a management token")
    p.add_argument("kind", choices=sorted(vend.MANAGEMENT))
    p.add_argument(
        "value",
        type=batch.whole_arg,
        nargs="?",
        help="watts for max-power and phase-unbalance (0..%d, 0 is no limit); "
        "for clear-credit the register (0 electricity, 1 water, 2 gas, 3 time, "
        "65535 all); else the register 0..65535; none for clear-tamper" % vend.MAX_WATTS,
    )
    p.add_argument("--at", default="now")
    p = sub.add_parser("keychange", help="a key change set to new key fields")
    for f in ("krn", "kt", "ken"):
        p.add_argument("--" + f, type=batch.whole_arg)
    p.add_argument("--ti")
    p.add_argument("--sgc")
    p.add_argument(
        "--rollover",
        action="store_true",
        help="set RO: the meter's TID memory "
        "is cleared and its base date moves on (1993 -> 2014 -> 2035)",
    )
    _write_option(p)
    p = sub.add_parser(
        "migrate",
        help="the edition-2 set: rollover key change, then credit (none without an amount)",
    )
    p.add_argument(
        "amount",
        type=_tenths,
        nargs="?",
        help="units of credit after the key change; none (or 0): the key change codes alone",
    )
    p.add_argument("--at", default="now")
    _sale_options(p)
    _write_option(p)
    p = sub.add_parser("test", help="a class 1 test/display token (no profile needed)")
    p.add_argument("control", type=batch.whole_arg)
    p.add_argument(
        "--mfr",
        type=batch.whole_arg,
        help="manufacturer code (default: the profile's, "
        "from its PAN; without a profile 0, any meter)",
    )
    p.add_argument("--subclass", type=batch.whole_arg, default=0, choices=(0, 1))
    p = sub.add_parser(
        "explain",
        help="every stage of decoding 20 digits (class 0 and 2 tokens need the meter's --profile)",
    )
    p.add_argument("token")
    p = sub.add_parser(
        "profiles",
        help="the packaged profiles (name, meter, what it is); --copy one to edit or --write",
    )
    p.add_argument(
        "--copy",
        nargs=2,
        metavar=("NAME", "DEST"),
        help="copy a packaged profile or fleet to DEST (a file, or a directory)",
    )
    batch.add_parser(sub)  # stsvend batch migrate|credit FLEET.csv --out OUT.csv
    return ap


TARIFF = "demo"  # the packaged example tariff (stsvend/campaign/tariff-demo.json)


def _sale_options(p):
    p.add_argument(
        "--money",
        metavar="SUM",
        help="sell for a sum of money instead of an amount: the tariff turns it into kWh",
    )
    p.add_argument(
        "--tariff",
        metavar="FILE",
        help="the tariff (JSON: currency, price per kWh or blocks, minimum purchase); "
        "demo: the packaged example (79 XOF/kWh, at least 150 XOF)",
    )
    p.add_argument(
        "--sms",
        metavar="LANG|FILE",
        help="also print the customer's text: en, fr, or a template file of your own",
    )


def _amount(args):
    """(tenths or None, Sale or None) from the amount, or from --money with --tariff."""
    money, tariff = getattr(args, "money", None), getattr(args, "tariff", None)
    if money is None:
        if tariff:
            raise ValueError("--tariff prices a sale: give --money SUM with it")
        if args.amount is None and args.cmd == "credit":
            raise ValueError("credit needs an amount (units) or --money SUM with --tariff FILE")
        return args.amount, None
    if args.amount is not None:
        raise ValueError("give an amount or --money, not both")
    if not tariff:
        raise ValueError("--money needs --tariff FILE (the price per kWh), e.g. " + TARIFF)
    sale = tariffs.load(tariff).sell(money)
    return sale.tenths, sale


def _print_sale(args, sale):
    if sale and not args.json:
        print("   " + sale.text())


def _unit(commodity):
    return "kWh" if commodity == "electricity" else " units"


def _show_sms(args, texts):
    """The customer's text(s) as they arrive, each with its length in GSM-7 characters."""
    if not texts or args.json:
        return
    for i, t in enumerate(texts, 1):
        part = " %d of %d" % (i, len(texts)) if len(texts) > 1 else ""
        print("SMS%s (%d characters):" % (part, smses.gsm7_length(t)))
        for line in t.split("\n"):
            print("  | " + line)


def _units1(tenths):
    return "%d.%d" % (tenths // 10, tenths % 10)


def _write_option(p):
    p.add_argument(
        "--write",
        action="store_true",
        help="save the meter's new key fields (KRN, KT, KEN, TI, SGC, base date) "
        "in the profile file, so the next token uses the new key; the vending key "
        "stays where it is",
    )


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
            print(
                "   amount %d.%d%s"
                % (
                    e // 10,
                    e % 10,
                    "" if e == r else " (requested %s, rounded up)" % amount.text(r),
                )
            )
        if "carries" in t.extra:
            e = t.extra.get("encoded_watts")
            r = t.extra.get("requested_watts")
            print(
                "   %s%s"
                % (t.extra["carries"], "" if e == r else " (requested %d W, rounded up)" % r)
            )
        if "control_bits" in t.extra:
            _print_control(t.fields["mfr"], t.fields["control"], t.extra["control_bits"])
        if "tid_time" in t.extra:
            print("   TID %d = %s" % (t.fields["tid"], t.extra["tid_time"]))
        if "tid_moved" in t.extra:
            print("   note: " + t.extra["tid_moved"])


def _print_control(mfr, control, asks):
    print(
        "   manufacturer %d (%s)"
        % (mfr, "any meter" if mfr == 0 else "only this manufacturer's meters act on it")
    )
    if not asks:
        print("   control 0: no bit set, it asks for nothing")
    else:
        print("   control %d asks the meter to:" % control)
    for a in asks:
        b = a["bit"]
        where = "bit %d" % b if isinstance(b, int) else "bits %d..%d" % tuple(b)
        print("     %s: %s" % (where, a["asks"]))
    print(
        "   this project's meter shows TEST %d and changes nothing (anyone can make a test "
        "token)" % control
    )


def _ledger(args):
    """The issued-TID ledger; TIDs in an old JSON ledger beside the profile are taken in."""
    return tids.Ledger(
        args.ledger or profiles.ledger_path(args.profile), imports=[args.profile + ".tids.json"]
    )


def _profiles(args):
    """`stsvend profiles`: the packaged profiles and fleets; --copy NAME DEST."""
    if args.copy:
        name, dest = args.copy
        src = profiles.find(name, "fleet" if name.endswith(".csv") else "profile")
        if not profiles.is_packaged(src):
            raise profiles.ProfileError(
                "%s is not a packaged name (packaged: %s)"
                % (name, ", ".join(n for n, _, _ in profiles.packaged()))
            )
        if os.path.isdir(dest):
            dest = os.path.join(dest, os.path.basename(src))
        shutil.copyfile(src, dest)
        print("%s -> %s" % (name, dest))
        return
    rows = profiles.packaged()
    print("%-16s %-44s %s" % ("name", "meter", "what it is"))
    for name, meter, what in rows:
        print("%-16s %-44s %s" % (name, meter, what))


def _test(args):
    mfr = args.mfr
    if mfr is None:
        mfr = profiles.load(args.profile).mfr if args.profile else 0
        if args.subclass == 0 and mfr > 255:
            raise ValueError(
                "the profile's manufacturer code %d has 4 digits: use --subclass 1 "
                "(a 16-bit code) or give --mfr" % mfr
            )
    _print_tokens([vend.test_display(args.control, mfr, args.subclass)], args.json)


def _outside(e, args, amount=None):
    """A time outside the TID window, with what to do about it (ValueError)."""
    text = str(e) + ". Give an --at inside that window"
    try:
        nxt = vend.next_base_date(e.base_date)
    except ValueError:
        nxt = None
    if e.late and nxt and args.cmd != "migrate":
        text += (
            ", or move the meter to base date %d first (a rollover key change, then "
            "credit under the new key): stsvend --profile %s migrate %s --at %s --write"
            % (
                nxt,
                shlex.quote(args.profile_as_typed),
                amount or "AMOUNT",
                shlex.quote(args.at),
            )
        )
    elif e.late:
        text += " (base date %d is the last: no rollover leaves it)" % e.base_date
    return ValueError(text)


def _units(tenths):
    return "%d.%d" % (tenths // 10, tenths % 10) if tenths % 10 else "%d" % (tenths // 10)


def _write(args, target, dry_run=False):
    """--write: the new key fields into the profile; {} when not asked. Called first with
    dry_run (what will change, for the printout), then for real once the tokens are printed:
    a profile never holds a key whose change codes nobody saw (a broken pipe, a full disk)."""
    if not args.write:
        return {}
    changed = profiles.write(args.profile, target, dry_run)
    return {"written": args.profile_as_typed, "changed": {f: list(v) for f, v in changed.items()}}


def _print_written(args, written):
    if args.json:
        return
    if not written:
        print("the profile is unchanged: add --write to save the new key fields in it")
        return
    what = ", ".join(
        "%s %s -> %s" % (NAMES.get(f, f), old, new) for f, (old, new) in written["changed"].items()
    )
    print("wrote %s: %s; the vending key is where it was" % (written["written"], what))


def _gloss(cls_sub, name, n):
    """A field of `explain` in the standard's words (sts/words.py, the page's too), with what
    its value means."""
    label = words.FIELDS.get(name, (name, ""))[0]
    if label[1:2].islower():  # "Transfer amount" in a line: "transfer amount"; not "TID"
        label = label[0].lower() + label[1:]
    if name in ("nkho", "nkmo2", "nkmo1", "nklo"):
        return "%s, %08x" % (label, n)
    if name == "kt":
        return "%s: %s" % (label, words.KEY_TYPES[n])
    if name == "ro":
        return (
            label
            + ": "
            + (
                "set, the meter clears its TID memory and moves to the next base date"
                if n
                else "not set, TID memory and base date stay"
            )
        )
    if name == "control":
        asks = vend.control_bits(n)
        return "control field: " + (
            "; ".join(
                ("bit %d = " % b if isinstance(b, int) else "bits %d..%d = " % b) + t
                for b, t in asks
            )
            if asks
            else "no bit set, it asks for nothing"
        )
    if name == "mfr":
        return label + (" (0: any meter)" if n == 0 else "")
    if name == "register":
        kind = {v: k for k, v in vend.MANAGEMENT.items()}.get(cls_sub[1])
        return vend.register_text(kind, n) if kind else label
    if name == "tid":
        return label + ", minutes since the base date"
    if name == "amount":
        return label + " (2-bit exponent, 14-bit mantissa)"
    return label


def _explain(args):
    """`explain`: the stages, the fields in words; exit 1 when the meter refuses the token."""
    token = args.token.replace(" ", "").replace("-", "")
    cls = digits.parse(token, array("I", bytes(12)), portable=True)
    if cls in (0, 2) and not args.profile:
        raise profiles.ProfileError(
            "a class %d token is encrypted under the meter's decoder "
            "key: give --profile PATH (class 1 test tokens need none)" % cls
        )
    if args.profile:
        st = explain_mod.explain(profiles.load(args.profile), token)
    else:
        st = sts_stages.stages(token, None)
    kind = [s.value for s in st if s.name == "token"]
    cls_sub = (kind[0] >> 4, kind[0] & 15) if kind else None
    out = []
    for s in st:
        if s.name.startswith("field ") and cls_sub:
            s.words = "%s: %s" % (s.words, _gloss(cls_sub, s.name[6:], s.value))
        out.append(s)
        if s.name == "refused":
            out.append(sts_stages.Stage("why", words=words.refused(s.value, cls)))
    if args.json:
        print(json.dumps([s.as_dict() for s in out], indent=1))
    else:
        for s in out:
            print("%-16s %s" % (s.name, s.words))
    return 1 if any(s.name == "refused" for s in st) else 0


def run(args):
    """Do what args ask; the exit code (0, or 1 when `explain` shows a refused token)."""
    rng = random.Random(args.seed) if args.seed is not None else random.SystemRandom()
    if args.cmd == "profiles":
        _profiles(args)
        return 0
    if args.profile:  # a file, or a packaged profile's name
        args.profile_as_typed, args.profile = args.profile, profiles.find(args.profile)
    if args.cmd == "test":
        _test(args)
        return 0
    if args.cmd == "explain":
        return _explain(args)
    if args.cmd == "batch":  # (a vending key file alone will do: no profile needed)
        return batch.main(args)
    if not args.profile:
        raise profiles.ProfileError(
            "this command needs --profile (a meter profile file, or a packaged name: demo)"
        )
    prof = profiles.load(args.profile)
    try:
        _vend(args, prof, rng)
    except tids.OutsideWindow as e:
        amount = getattr(args, "amount", None)
        raise _outside(
            e, args, _units(amount) if args.cmd == "credit" and amount else None
        ) from None
    except vend.KeyExpired as e:
        raise ValueError(
            "%s: stsvend --profile %s keychange --ken 255 --write" % (e, shlex.quote(args.profile))
        ) from None
    return 0


def _vend(args, prof, rng):
    if args.cmd == "key":
        key = prof.decoder_key().hex()
        if args.json:
            print(json.dumps({"decoder_key": key, "ea": prof.ea, "dkga": prof.dkga}))
        else:
            print(
                "decoder key %s (%s, DKGA%02d, KRN %d)"
                % (key, prof.ea.upper(), prof.dkga, prof.krn)
            )
    elif args.cmd == "credit":
        tenths, sale = _amount(args)
        when = tids.parse_time(args.at)
        template = smses.load(args.sms) if args.sms else None  # (checked before a TID is used)
        tok = vend.credit(prof, args.commodity, tenths, when, _ledger(args), rng)
        texts = (
            smses.texts(
                template,
                prof.iain,
                [tok.digits],
                _units1(tok.extra["encoded_tenths"]),
                _unit(args.commodity),
            )
            if template
            else None
        )
        extra = {}
        if sale:
            extra["sale"] = sale.as_dict()
        if texts:
            extra["sms"] = texts
        _print_tokens([tok], args.json, extra)
        _print_sale(args, sale)
        _show_sms(args, texts)
    elif args.cmd == "management":
        value = args.value
        if value is None and args.kind not in vend.NO_VALUE:
            raise ValueError(
                "management %s needs a value: %s"
                % (
                    args.kind,
                    {
                        "max-power": "the limit in watts, 0..%d (0 lifts the limit)"
                        % vend.MAX_WATTS,
                        "phase-unbalance": "the limit in watts, 0..%d (0 lifts the limit)"
                        % vend.MAX_WATTS,
                        "clear-credit": "the register to clear "
                        "(0 electricity, 1 water, 2 gas, 3 time, 65535 all)",
                    }.get(args.kind, "the register, 0..65535"),
                )
            )
        if value is not None and args.kind in vend.NO_VALUE:
            raise ValueError("management %s takes no value" % args.kind)
        when = tids.parse_time(args.at)
        _print_tokens(
            [vend.management(prof, args.kind, value or 0, when, _ledger(args), rng)], args.json
        )
    elif args.cmd == "keychange":
        new = {
            f: getattr(args, f)
            for f in ("krn", "kt", "ken", "ti", "sgc")
            if getattr(args, f) is not None
        }
        if not new and not args.rollover:
            raise ValueError("say what changes: --krn, --kt, --ken, --ti, --sgc or --rollover")
        toks, target = vend.key_change(prof, new, ro=1 if args.rollover else 0)
        written = _write(args, target, dry_run=True)
        _print_tokens(toks, args.json, dict({"new_profile": target}, **written))
        if not args.json:
            if args.rollover:
                print(
                    "RO is set: the meter clears its TID memory and moves to base date %d"
                    % target["base_date"]
                )
            print("type every section within the meter's key change window (2 minutes)")
        sys.stdout.flush()
        _write(args, target)
        _print_written(args, written)
    elif args.cmd == "migrate":
        when = tids.parse_time(args.at)
        tenths, sale = _amount(args)
        template = smses.load(args.sms) if args.sms else None  # (checked before a TID is used)
        toks, target = vend.migration(prof, tenths, when, _ledger(args), rng)
        credit = "encoded_tenths" in toks[-1].extra
        texts = None
        if template:
            texts = smses.texts(
                template,
                prof.iain,
                [t.digits for t in toks],
                _units1(toks[-1].extra["encoded_tenths"]) if credit else None,
                _unit("electricity"),
            )
        written = _write(args, target, dry_run=True)
        extra = dict({"new_profile": target}, **written)
        if sale:
            extra["sale"] = sale.as_dict()
        if texts:
            extra["sms"] = texts
        _print_tokens(toks, args.json, extra)
        _print_sale(args, sale)
        if not args.json:
            n = len(toks) - (1 if credit else 0)
            print(
                "codes 1..%d are the key change (rollover to base date %d, KRN %d): type "
                "them within 2 minutes; %s"
                % (
                    n,
                    target["base_date"],
                    target["krn"],
                    "code %d is credit under the new key" % len(toks)
                    if credit
                    else "no credit (give an amount or --money for a code %d)" % (n + 1),
                )
            )
        _show_sms(args, texts)
        sys.stdout.flush()
        _write(args, target)
        _print_written(args, written)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as e:  # ProfileError and TidError are ValueErrors
        print("stsvend: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
