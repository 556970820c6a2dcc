# kinds.py  every meter kind in a small heap: independent scenarios, each in a fresh micropython
# Usage: python bench/kinds.py [--micropython BIN] [--march x86] [--heap 64K] [--kind KIND]
#        [-j 2] [--soak N]            (PYTHONPATH=.:firmware, as `make bench` sets it)
# A meter kind is its cipher and key derivation (STA under DKGA02 or DKGA04, MISTY1 under
# DKGA04) and its edition (base date 1993 with KRN 1, or 2014 with KRN 2). Each scenario
# personalises a meter of one kind in the simulator (boards/unix/sim.py, as .mpy with the
# firmware: tools.build_mpy, MICROPYPATH) in `micropython -X heapsize=HEAP`, types its tokens
# (credit, management, key changes of 2 or 4 sections, a TID rollover) with power cycles
# between (`reboot`: the state read again from the file system, in the same process), and
# checks after every step what the display showed and what the meter holds. --soak N: one long
# run per kind instead (N credit tokens, a key change every 250, a power cycle every 100, a
# rollover half way for edition 1). Tokens come from stsvend, on this side.
import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from stsvend import vend
from stsvend.profile import Profile
from tools import build_mpy, path_env
from tools.deploy import meter_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "boards", "unix", "sim.py")
UTC = dt.timezone.utc
START = int(dt.datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp())  # the simulator's clock
_PAN = "600727000000000009"
_VK = {2: "abababababababab", 4: "abababababababab949494949494949401234567"}
# name: (ea, dkga, base date); edition 1 is KRN 1 on 1993, edition 2 KRN 2 on 2014
KINDS = {
    "sta-dkga02-ed1": ("sta", 2, 1993),
    "sta-dkga02-ed2": ("sta", 2, 2014),
    "sta-dkga04-ed1": ("sta", 4, 1993),
    "sta-dkga04-ed2": ("sta", 4, 2014),
    "misty1-dkga04-ed1": ("misty1", 4, 1993),
    "misty1-dkga04-ed2": ("misty1", 4, 2014),
}
# Made, and its tokens from: edition 1 before the 2024 rollover, edition 2 after it.
_MADE = {1993: dt.datetime(2024, 1, 1, tzinfo=UTC), 2014: dt.datetime(2024, 12, 1, tzinfo=UTC)}
_WATCH = ("balances", "krn", "kt", "base_date", "ea", "kct_held", "max_power", "tamper")


def profile(kind):
    ea, dkga, base = KINDS[kind]
    return Profile(
        {
            "name": kind,
            "pan": _PAN,
            "sgc": "123456" if dkga == 2 else "123457",
            "ti": "01",
            "kt": 2,
            "krn": 1 if base == 1993 else 2,
            "ken": 255,
            "ea": ea,
            "dkga": dkga,
            "base_date": base,
            "vending_key": _VK[dkga],
        }
    )


class Plan:
    """A script for the simulator and what it must show and hold after each step; the
    meter's expected state is kept here as the tokens are made."""

    def __init__(self, kind, seed):
        self.kind = kind
        self.prof = self.first = profile(kind)
        self.made = _MADE[self.prof.base_date]
        self.when = self.made + dt.timedelta(days=2)
        self.rng = random.Random(seed)
        self.lines = []
        self.checks = []  # (top line shown, or None; the watched status) per `status`
        self.state = {
            "balances": [0, 0, 0, 0],
            "krn": self.prof.krn,
            "kt": self.prof.kt,
            "base_date": self.prof.base_date,
            "ea": "EA%02d" % (7 if self.prof.ea == "sta" else 11),
            "kct_held": 0,
            "max_power": 0,
            "tamper": False,
        }
        self.last = None  # the last accepted credit token's digits
        self.changes = 0

    def _tick(self):
        self.when += dt.timedelta(minutes=self.rng.randrange(1, 30))
        return self.when

    def _type(self, digits, top, check=True):
        self.lines.append("type " + digits)
        if check:  # (before the wait: the result screen is still shown)
            self.lines.append("status")
            self.checks.append((top, json.loads(json.dumps(self.state))))
        self.lines.append("wait 3000")

    def credit(self, commodity="electricity", check=True):
        t = vend.credit(self.prof, commodity, self.rng.randrange(1, 2000), self._tick(), None,
                        self.rng)  # fmt: skip
        self.state["balances"][vend.COMMODITIES[commodity]] += t.extra["encoded_tenths"]
        self._type(t.digits, "ACCEPT", check)
        if commodity == "electricity":
            self.last = t.digits

    def again(self):
        """The last credit token typed again: USED, nothing changes."""
        self._type(self.last, "REJECT 10")

    def manage(self, kind, value):
        t = vend.management(self.prof, kind, value, self._tick(), None, self.rng)
        if kind == "max-power":
            self.state["max_power"] = t.extra["encoded_watts"]
        elif kind == "clear-credit":
            self.state["balances"][value] = 0
        self._type(t.digits, "ACCEPT")

    def guess(self):
        """Digits no vending system made (a CRC refusal under any key): a guess, counted."""
        while True:
            d = "%020d" % self.rng.randrange(10**19)
            if vend_refuses(self.prof, d):
                break
        self._type(d, "REJECT 13")

    def key_change(self, rollover=False, reboot_after=None):
        """A key change set (2 sections for STA, 4 for MISTY1): KRN + 1 (from 9: back to 1),
        a TID rollover to the next base date if asked; a power cycle after section
        `reboot_after` if given (the held sections are kept)."""
        p = self.prof
        self.changes += 1
        krn = p.krn % 9 + 1
        if rollover:
            secs, target = vend.migration(p, None, self._tick())
        else:
            secs, target = vend.key_change(p, {"krn": krn})
        n = len(secs)
        for i, s in enumerate(secs):
            last = i == n - 1
            if last:
                self.state["kct_held"] = 0
                self.state["krn"] = target["krn"]
                self.state["base_date"] = target["base_date"]
            else:
                self.state["kct_held"] = i + 1
            self._type(s.digits, "KEY CHANGED" if last else "KEY CHANGE %d/%d" % (i + 1, n))
            if reboot_after == i + 1:
                self.reboot()
        old = self.last
        self.prof = Profile(dict(target, name=p.name, vending_key=p.vending_key.hex()))
        return old

    def reboot(self):
        self.lines += ["reboot", "status"]
        self.checks.append((None, json.loads(json.dumps(self.state))))

    def script(self):
        return self.lines + ["mem", "quit"]


def vend_refuses(prof, digits):
    """True if the meter of `prof` refuses `digits` as a wrong token (its CRC)."""
    from sts import errors
    from sts.codec import Decoder, cipher

    return Decoder(cipher(prof.ea, prof.decoder_key())).decode(digits) == errors.BAD_CRC


# -- the scenarios: each a function of a fresh Plan, 9 a kind ---------------------------------


def s_credit(p):
    for _ in range(6):
        p.credit()
    p.again()


def s_commodities(p):
    for c in ("electricity", "water", "gas", "time", "electricity"):
        p.credit(c)


def s_management(p):
    p.credit()
    p.manage("max-power", 2000)
    p.manage("tariff-rate", 7)
    p.manage("water-factor", 3)
    p.manage("phase-unbalance", 500)
    p.manage("clear-tamper", 0)
    p.credit("water")
    p.manage("clear-credit", 1)
    p.credit()


def s_key_change(p):
    p.credit()
    old = p.key_change()
    p.credit()
    p._type(old, "REJECT 13")  # under the old key: a wrong token now


def s_key_change_power_cycle(p):
    p.credit()
    p.key_change(reboot_after=1)
    p.credit()
    p.reboot()
    p.again()
    p.credit()


def s_power_cycle(p):
    for _ in range(3):
        p.credit()
    p.reboot()
    p.again()
    for _ in range(3):
        p.credit()
    p.reboot()
    p.credit()


def s_rollover(p):
    """Edition 1: the migration to 2014 (RO, KRN + 1); edition 2: two key changes."""
    p.credit()
    if p.prof.base_date == 1993:
        p.key_change(rollover=True)
    else:
        p.key_change()
        p.key_change()
    p.credit()
    p.reboot()
    p.credit()


def s_rollover_power_cycle(p):
    p.credit()
    p.reboot()
    p.key_change(rollover=p.prof.base_date == 1993, reboot_after=len(vend_sections(p)) - 1)
    p.reboot()
    p.credit()
    p.again()
    p.reboot()
    p.credit()


def s_mixed(p):
    p.credit()
    p.guess()
    p.manage("max-power", 5000)
    p.reboot()
    p.credit()
    p.key_change()
    p.reboot()
    p.credit()
    p.guess()
    p.credit("gas")
    p.reboot()
    p.again()


def vend_sections(p):
    return (1, 2) if p.prof.ea == "sta" else (1, 2, 3, 4)


SCENARIOS = (
    ("credit", s_credit),
    ("commodities", s_commodities),
    ("management", s_management),
    ("key-change", s_key_change),
    ("key-change-power-cycle", s_key_change_power_cycle),
    ("power-cycle", s_power_cycle),
    ("rollover", s_rollover),
    ("rollover-power-cycle", s_rollover_power_cycle),
    ("mixed", s_mixed),
)


def scenarios(kinds=None, seed=2026):
    """[(kind, name, Plan)]: every scenario for every kind asked."""
    out = []
    for k in kinds or KINDS:
        for i, (name, f) in enumerate(SCENARIOS):
            p = Plan(k, seed * 1000 + i)
            f(p)
            out.append((k, name, p))
    return out


def soak(kind, n, seed=2026):
    """One long run of `kind`: n credit tokens (each 20th typed again), a power cycle every
    100, a key change every 250 (one with a power cycle between its sections), and half way
    a rollover where the edition allows one; checked at each power cycle and key change."""
    p = Plan(kind, seed)
    for i in range(1, n + 1):
        p.credit(check=False)
        if i % 20 == 10:
            p._type(p.last, "REJECT 10", check=False)
        if i % 100 == 0:
            p.reboot()
        if i % 250 == 125:
            roll = i > n // 2 and p.prof.base_date == 1993 and p.prof.krn < 9
            p.key_change(rollover=roll, reboot_after=1 if i % 500 == 125 else None)
    p.lines.append("status")
    p.checks.append((None, json.loads(json.dumps(p.state))))
    return p


# -- running them ------------------------------------------------------------------------------


def build(out, march):
    """The firmware and the simulator as .mpy for `march`, in `out`."""
    build_mpy.build(out, march)
    build_mpy._compile(SIM, os.path.join(out, "sim.mpy"), march, "sim.py")
    return out


def run(plan, interp, heap, mpy, work):
    """One scenario in a fresh micropython: (passed, why, free heap at the end or None)."""
    state = os.path.join(work, "s")
    os.makedirs(state)
    with open(os.path.join(state, "meter.json"), "w") as f:
        json.dump(meter_json(plan.first, plan.made), f)
    cmd = [interp, "-X", "heapsize=" + heap, "-m", "sim", "--script", "--state", state,
           "--profile", os.path.join(state, "meter.json"), "--start", str(START)]  # fmt: skip
    script = os.path.join(work, "script.txt")
    with open(script, "w") as f:
        f.write("\n".join(plan.script()) + "\n")
    with open(script) as stdin:
        r = subprocess.run(
            cmd, stdin=stdin, capture_output=True, text=True, cwd=mpy, env=path_env(".")
        )  # (the firmware at the root, as on a board: each module's path is a string in RAM)
    return judge(plan, r.stdout, r.stderr, r.returncode)


def judge(plan, stdout, stderr, rc):
    shown = None
    got = []
    free = None
    for line in stdout.splitlines():
        try:
            o = json.loads(line)
        except ValueError:  # a traceback, or a line the MemoryError cut short
            break
        if "lines" in o:
            shown = o["lines"][0].strip()
        elif "status" in o:
            got.append((shown, o["status"]))
        elif "mem_free" in o:
            free = o["mem_free"]
    where = "at personalisation" if not got else "after step %d of %d" % (
        len(got), len(plan.checks))  # fmt: skip
    if rc or stderr or "Traceback" in stdout:
        tail = (stdout + stderr).strip().splitlines()[-1:] or ["exit %d" % rc]
        return False, "%s: %s" % (where, tail[0][:120]), free
    for i, ((top, want), (seen, st)) in enumerate(zip(plan.checks, got)):
        if "fault" in st:
            return False, "step %d: %s" % (i + 1, st["fault"]), free
        have = {k: st[k] for k in _WATCH}
        if have != want or (top is not None and seen != top):
            return False, "step %d: showed %r, held %s; want %r, %s" % (
                i + 1, seen, have, top, want), free  # fmt: skip
    if len(got) != len(plan.checks):
        return False, "%d steps of %d" % (len(got), len(plan.checks)), free
    return True, "", free


def run_all(plans, interp, heap, march, jobs=2):
    """[(kind, name, passed, why, free)] for every (kind, name, plan) in `plans`."""
    with tempfile.TemporaryDirectory(prefix="k", dir="/tmp") as tmp:  # short paths: see run
        mpy = build(os.path.join(tmp, "fw"), march)

        def one(i):
            k, name, plan = plans[i]
            work = os.path.join(tmp, "w%d" % i)
            os.makedirs(work)
            ok, why, free = run(plan, interp, heap, mpy, work)
            return k, name, ok, why, free

        with ThreadPoolExecutor(jobs) as ex:
            return list(ex.map(one, range(len(plans))))


def report(results, heap, label):
    """Print the pass count per kind; the number that failed."""
    print("meter kinds in micropython -X heapsize=%s (%s), scenarios passed:" % (heap, label))
    failed = 0
    for k in KINDS:
        rows = [r for r in results if r[0] == k]
        if not rows:
            continue
        ok = [r for r in rows if r[2]]
        frees = [r[4] for r in ok if r[4] is not None]
        print(
            "  %-18s %2d of %2d%s"
            % (
                k,
                len(ok),
                len(rows),
                "  (free at the end: %d B or more)" % min(frees) if frees else "",
            )  # fmt: skip
        )
        for r in rows:
            if not r[2]:
                failed += 1
                print("    FAIL %s: %s" % (r[1], r[3]))
    print("  all kinds: %d of %d" % (len(results) - failed, len(results)))
    return failed


def bench(goals, interp=None, tokens=None):
    """`make bench`'s part: with a 32-bit build (MICROPYTHON32, bench/micropython32.sh), every
    kind's scenarios in 64K, then each kind's soak of `tokens` (SOAK_TOKENS, default 10,000)
    in 64K: two goals. Without one, a line that says how."""
    interp = interp or os.environ.get("MICROPYTHON32")
    print()
    if not interp:
        print(
            "every meter kind in 64 KB: needs a 32-bit build (bench/micropython32.sh; then "
            "make bench MICROPYTHON32=path)"
        )
        return
    interp = binary(interp)
    tokens = tokens or int(os.environ.get("SOAK_TOKENS", "10000"))
    print("  kinds: %d scenarios in 64K ..." % (9 * len(KINDS)), file=sys.stderr, flush=True)
    failed = report(run_all(scenarios(), interp, "64K", "x86"), "64K", interp + ", .mpy for x86")
    print(
        "goal: every meter kind's scenarios pass in 64 KB on the 32-bit build: %s"
        % goals.check("every meter kind's scenarios in 64 KB", not failed)
    )
    print("  kinds: a soak of %d tokens a kind in 64K ..." % tokens, file=sys.stderr, flush=True)
    plans = [(k, "soak %d" % tokens, soak(k, tokens)) for k in KINDS]
    failed = report(run_all(plans, interp, "64K", "x86"), "64K", interp + ", .mpy for x86")
    print(
        "goal: each meter kind's soak (%d tokens, key changes, a rollover, power cycles) in "
        "64 KB on the 32-bit build: %s"
        % (tokens, goals.check("every meter kind's soak in 64 KB", not failed))
    )


def binary(name="micropython"):
    """The micropython to run, as a path that holds from the build's folder: `name` on PATH,
    or as given, or the one beside this Python (`make setup`'s)."""
    exe = shutil.which(name) or name
    if name == "micropython" and not os.path.exists(exe):
        exe = os.path.join(os.path.dirname(sys.executable), "micropython")
    return os.path.abspath(exe) if os.path.exists(exe) else exe


def main(argv=None):
    ap = argparse.ArgumentParser(description="every meter kind in a small heap")
    ap.add_argument("--micropython", default="micropython", help="the binary (a 32-bit build)")
    ap.add_argument("--march", default="x64", help=".mpy architecture: x86 for a 32-bit build")
    ap.add_argument("--heap", default="64K")
    ap.add_argument("--kind", action="append", choices=sorted(KINDS), help="default: all")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--soak", type=int, default=0, help="N tokens a kind, one run each")
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args(argv)
    a.micropython = binary(a.micropython)
    if a.soak:
        plans = [(k, "soak %d" % a.soak, soak(k, a.soak, a.seed)) for k in a.kind or KINDS]
    else:
        plans = scenarios(a.kind, a.seed)
    results = run_all(plans, a.micropython, a.heap, a.march, a.jobs)
    return 1 if report(results, a.heap, "%s, .mpy for %s" % (a.micropython, a.march)) else 0


if __name__ == "__main__":
    sys.exit(main())
