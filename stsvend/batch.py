# batch.py  stsvend batch: a fleet's edition-2 migration sets (or credit tokens) from one CSV,
# on every core, resumable after an interruption, a bad row reported and passed over
#
# Who does what. The parent reads the fleet and hands out units of rows (--chunk of them) to
# the workers, then writes their parts to --out in the fleet's order. A worker does all the
# rest of a unit: it makes each meter's tokens (profile, decoder keys, vend.migration /
# vend.credit, exactly as `stsvend migrate` / `stsvend credit` make them), claims the meters'
# TIDs in the ledger in one transaction (the first free minute at or after --at, as
# Ledger.claim does) with the finished rows kept in a table of the ledger, batch_pending, and
# gives back its part of the output as CSV text. The parent appends each part and fsyncs; the
# rows then leave batch_pending (the output is their record from then on). So the output
# never holds a code the ledger does not know, and a rerun with the same --out first writes
# the rows that were committed but not yet written (the very same codes, read back, never
# issued again), then skips every PAN the output holds: keep the output, it is the record. A
# later run with that --out vends nothing new for the meters in it (a new --out for a new
# round). A run takes the job over in the ledger (batch_run) in the transaction that reads
# what is pending: a worker that outlives a killed batch then claims nothing more. A PAN
# that the fleet holds on more than one row is the parent's own to issue, in the fleet's
# order (the first good row for it wins), so workers never race for one meter.
import argparse
import collections
import csv
import decimal
import fcntl
import io
import itertools
import json
import os
import random
import re
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from sts.amount import text as amount_text
from stsvend import profile as profiles
from stsvend import sms as smses
from stsvend import tariff as tariffs
from stsvend import tid as tids
from stsvend import vend

_DEMO = "--profile demo batch"  # the packaged demo profile and fleet (stsvend profiles)
EPILOG = (
    "examples (in any directory; a new --out each time, or it carries on):\n"
    "  stsvend " + _DEMO + " migrate fleet-demo.csv --out sets.csv --kwh 10\n"
    "  stsvend " + _DEMO + " credit fleet-demo.csv --out tokens.csv --at 2024-06-01T12:00Z\n"
    "  stsvend " + _DEMO + " migrate fleet-demo.csv --out codes.csv --kwh 0 --sms fr\n"
    "  stsvend " + _DEMO + " credit fleet-demo.csv --out sales.csv"
    " --money 1000 --tariff demo --at 2024-06-01T12:01Z\n"
    "  stsvend batch migrate FLEET.csv --vending-key KEY.hex --out sets.csv   (the key in hex)\n"
    """\nFLEET.csv: a header, then one meter a row: pan,sgc,ti,kt,krn,ken,ea,dkga,base_date
and the credit: an amount column (units: kWh for electricity) or --kwh for all; with
--tariff, a money column or --money for all. migrate with none of these (or an amount of 0)
gives each meter its key change codes alone. FLEET.csv may be the name of a packaged fleet
(fleet-demo.csv: a file of that name here wins; `stsvend profiles`).
Interrupted? Run the same command again: it continues where it stopped.
Exit status: 0, 1 if any row was bad (each reported with its line), 2 on an error,
130 when interrupted.
"""
)

_INTS = ("kt", "krn", "ken", "dkga", "base_date")
_KCTS = 4  # MISTY1 key change sets have 4 sections, STA 2
_SMS_PARTS = 3  # a text longer than one SMS goes in numbered parts: sms, sms2, sms3
_TAIL = ["paid", "change", "sms", "sms2", "sms3", "note"]
COLUMNS = {
    "migrate": ["line", "pan", "ea", "new_krn", "new_base_date", "tid", "amount"]
    + ["kct%d" % i for i in range(1, _KCTS + 1)]
    + ["credit"]
    + _TAIL,
    "credit": ["line", "pan", "tid", "amount", "credit"] + _TAIL,
}
_UNITS = {"electricity": "kWh"}
_PENDING = (
    "CREATE TABLE IF NOT EXISTS batch_pending (job TEXT NOT NULL, pan TEXT NOT NULL, "
    "row TEXT NOT NULL, PRIMARY KEY (job, pan))"
)
# Which run holds a job: a worker claims nothing for a run that is no longer the job's.
_RUNS = "CREATE TABLE IF NOT EXISTS batch_run (job TEXT PRIMARY KEY, run TEXT NOT NULL)"
_RECOVERIES = 3  # workers that die (kill -9, out of memory) are replaced this many times
# Test hooks: called after each chunk's ledger commit, before its rows are written (a crash
# there is the one window where the ledger knows rows the output does not).
_after_commit = None


def add_parser(subparsers):
    """Register `batch migrate` and `batch credit` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "batch",
        help="a fleet's migration sets or credit tokens from a CSV, on every core",
        description="Codes for many meters at once from FLEET.csv (one meter a row), with an\n"
        "SMS-ready text per meter; progress on stderr; resumable with the same --out.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="batch_cmd", required=True, metavar="{migrate,credit}")
    for name, what in (
        (
            "migrate",
            "per meter the edition-2 set: rollover key change to "
            "KRN + 1 and the next base date, then credit under the new key",
        ),
        ("credit", "per meter one credit token"),
    ):
        q = sub.add_parser(
            name,
            help=what,
            description=what,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        q.add_argument("fleet", metavar="FLEET.csv")
        q.add_argument(
            "--out",
            required=True,
            metavar="OUT.csv",
            help="output CSV; appended to, so a rerun continues where it stopped",
        )
        q.add_argument(
            "--kwh",
            metavar="UNITS",
            help="the credit amount for every meter "
            "(units of the commodity, kWh for electricity); else the amount column",
        )
        q.add_argument(
            "--money",
            metavar="SUM",
            help="with --tariff: the sum every meter buys for; else the money column",
        )
        q.add_argument(
            "--tariff",
            metavar="FILE",
            help="the tariff (JSON: currency, price per kWh or blocks, minimum purchase): "
            "sums of money become kWh as a vending office sells them",
        )
        q.add_argument(
            "--sms",
            default="en",
            metavar="LANG|FILE",
            help="the customer's text: en (default), fr, or a template file of your own",
        )
        q.add_argument("--commodity", default="electricity", choices=sorted(vend.COMMODITIES))
        q.add_argument(
            "--at",
            default="now",
            help="issue time, ISO 8601 with zone (default "
            "now); a meter whose TID at that minute is taken gets the next free one",
        )
        q.add_argument(
            "--vending-key",
            metavar="FILE",
            help="a file holding the vending key in hex (else the profile's)",
        )
        q.add_argument(
            "--workers",
            type=whole_arg,
            default=os.cpu_count() or 1,
            help="processes computing tokens (default: every core, %(default)s)",
        )
        q.add_argument(
            "--chunk",
            type=whole_arg,
            default=500,
            help="meters per chunk: one ledger transaction and one fsync each",
        )
        # The same as stsvend's own options, so they work after the subcommand too.
        q.add_argument(
            "--profile",
            default=argparse.SUPPRESS,
            help="meter profile (JSON) whose vending key serves every row",
        )
        q.add_argument(
            "--ledger",
            default=argparse.SUPPRESS,
            help="issued-TID ledger, SQLite "
            "(default: PROFILE.tids.db, or KEYFILE.tids.db with --vending-key)",
        )
        q.add_argument(
            "--seed",
            type=whole_arg,
            default=argparse.SUPPRESS,
            help="each meter's random number as `stsvend --seed N` draws it",
        )
        q.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="a JSON summary on stdout at the end",
        )
        q.add_argument("--stop-after", type=whole_arg, default=None, help=argparse.SUPPRESS)
    return p


def whole_arg(text):
    """An option's whole number: ASCII digits 0-9 only (int() takes `1_000` and `١`)."""
    if not profiles.is_digits(text):
        raise argparse.ArgumentTypeError(
            "a whole number in digits 0-9, got %s" % profiles.excerpt(text)
        )
    return int(text)


# ------------------------------------------------------------------------------ one meter


# An amount as a person writes it, in ASCII digits: 10, 25.5, .5 (not 1e3, 1_000 nor ١٠); a
# minus sign is read, for vend to refuse in words.
_AMOUNT = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def tenths(text):
    """Units as typed -> whole tenths, rounded up (the customer's favour), as `stsvend credit`."""
    if not isinstance(text, str) or not _AMOUNT.fullmatch(text.strip()):
        raise ValueError(
            "amount: not an amount in digits 0-9 (like 25.5): %s" % profiles.excerpt(text)
        )
    value = decimal.Decimal(text.strip())
    return int((value * 10).to_integral_value(rounding=decimal.ROUND_CEILING))


def meter_profile(row, vending_key):
    """A fleet row (strings) -> a validated Profile with the fleet's vending key."""
    data = {"vending_key": vending_key.hex()}
    for f in profiles.FIELDS:
        v = (row.get(f) or "").strip()
        if not v:
            raise profiles.ProfileError("%s: empty" % f)
        if f in _INTS:
            v = profiles.whole(v, f)
        elif f == "ea":
            v = v.lower()
        data[f] = v
    return profiles.Profile(data)


class _Fixed:
    """Ledger and random source that give back a TID and random number already chosen."""

    def __init__(self, tid, rnd):
        self.tid, self.rnd = tid, rnd

    def claim(self, pan, base_date, tid):
        return self.tid

    def randrange(self, n):
        return self.rnd


def make_row(job, line, row, fixed=None):
    """One meter's output row and its claim (base date, TID, random number).

    fixed=(tid, rnd) makes the credit token with that TID and random number (a TID the
    ledger moved); else the TID is the minute of job["when"] and the random number is
    drawn as `stsvend` draws it (SystemRandom, or Random(--seed) afresh per meter).
    """
    prof = meter_profile(row, job["vending_key"])
    amount, sale = _row_amount(job, row)
    if fixed:
        ledger = rng = _Fixed(*fixed)
    else:
        ledger = None
        rng = random.Random(job["seed"]) if job["seed"] is not None else random.SystemRandom()
    if job["kind"] == "migrate":
        toks, target = vend.migration(prof, amount, job["when"], ledger, rng, job["commodity"])
    else:
        toks, target = (
            [vend.credit(prof, job["commodity"], amount, job["when"], ledger, rng)],
            None,
        )
    last = toks[-1]
    codes = [t.digits for t in toks]
    credit = "encoded_tenths" in last.extra
    enc = amount_text(last.extra["encoded_tenths"]) if credit else ""
    tid = last.fields["tid"] if credit else ""
    texts = smses.texts(
        job["sms"],
        prof.iain,
        codes,
        enc if credit else None,
        "kWh" if job["commodity"] == "electricity" else " units",
    )
    if len(texts) > _SMS_PARTS:
        raise ValueError(
            "the customer's text needs %d SMS, more than %d: a shorter template?"
            % (len(texts), _SMS_PARTS)
        )
    head = [line, prof.pan]
    kct = codes[:-1] if credit else codes
    if target:
        head += [prof.ea, target["krn"], target["base_date"], tid, enc]
        head += kct + [""] * (_KCTS - len(kct))
    else:
        head += [tid, enc]
    out = head + [
        codes[-1] if credit else "",
        str(sale.money) if sale else "",
        str(sale.change) if sale else "",
    ]
    out += texts + [""] * (_SMS_PARTS - len(texts)) + [last.extra.get("tid_moved", "")]
    claim = (last.extra["base_date"], last.fields["tid"], last.fields["rnd"]) if credit else None
    return out, claim


def _row_amount(job, row):
    """(tenths or None for no credit, Sale or None) for one row, from the job or its cells."""
    if job["tenths"] is not None or job.get("no_credit"):
        return job["tenths"], None
    if job["tariff"] is not None:
        money = job["money"] if job["money"] is not None else (row.get("money") or "").strip()
        if not money:
            raise ValueError("money: empty (the sum this meter buys for)")
        sale = job["tariff"].sell(money)
        return sale.tenths, sale
    if "amount" not in row:
        return None, None  # (migrate alone: _fleet asks credit for an amount column)
    text = (row.get("amount") or "").strip()
    if not text:
        raise ValueError("amount: empty (0 gives the key change codes alone)")
    t = tenths(text)
    if job["kind"] == "migrate" and t == 0:
        return None, None
    return t, None


_JOB = None


def _init(job):
    global _JOB
    _JOB = job
    # Ctrl-C is the parent's to handle: it stops at a chunk boundary.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (kill -9) cannot tell its workers: they go once it is gone.
    threading.Thread(target=_orphaned, args=(os.getppid(),), daemon=True).start()


def _orphaned(parent):
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _compute(chunk, job):
    """A chunk of (line, row) -> [(line, pan, out row or None, claim or error text)]."""
    res = []
    for line, row in chunk:
        pan = (row.get("pan") or "").strip()
        try:
            out, claim = make_row(job, line, row)
        except ValueError as e:  # ProfileError, TidError, vend's refusals
            res.append((line, pan, None, str(e)))
        except Exception as e:  # noqa: BLE001 - one row's surprise is that row's, not the run's
            res.append((line, pan, None, "cannot make this row: %s" % profiles.excerpt(e, 60)))
        else:
            res.append((line, pan, out, claim))
    return res


def _work(chunk, job=None, claimed=None):
    """One unit of the fleet from its rows to its part of the output: the rows made, their
    TIDs claimed and the rows kept in batch_pending in one ledger transaction, then the part
    as CSV text. A worker runs it; the parent too, for the rows of a PAN the fleet repeats
    (`claimed`: PAN -> the line of its first row issued, and only then).

    Returns (part, the rows when the test hook wants them, [(line, pan, why)] of bad rows,
    rows dealt with, PANs issued), or None when another run has taken the job over (this is
    a worker that outlived its batch: it claims nothing)."""
    job = job or _JOB
    results = _compute(chunk, job)
    rows, bad, rowdata = [], [], None
    with tids._transaction(job["ledger"]) as db:
        run = db.execute("SELECT run FROM batch_run WHERE job = ?", (job["id"],)).fetchone()
        if run is None or run[0] != job["run"]:
            return None
        for line, pan, out, claim in results:
            if out is None:
                bad.append((line, pan, claim))
                continue
            if claimed is not None and pan in claimed:  # (a bad row before it claimed nothing)
                bad.append((line, pan, "pan %s is already on line %d" % (pan, claimed[pan])))
                continue
            if claim is not None:  # (None: key change codes alone, no TID)
                base, tid, rnd = claim
                got = db.execute(tids._FIRST_FREE, (pan, base, tid)).fetchone()[0]
                if got >= tids.TID_LIMIT:
                    bad.append(
                        (line, pan, "no free TID left after %d for base date %d" % (tid, base))
                    )
                    continue
                if got != tid:  # the minute was taken for this meter: remake its credit
                    rowdata = rowdata or dict(chunk)
                    out, _ = make_row(job, line, rowdata[line], fixed=(got, rnd))
                db.execute(tids._INSERT, (pan, base, got))
            rows.append(out)
            if claimed is not None:
                claimed[pan] = line
        db.executemany(
            "INSERT OR REPLACE INTO batch_pending (job, pan, row) VALUES (?, ?, ?)",
            [(job["id"], r[1], json.dumps(r)) for r in rows],
        )
    part = io.StringIO()
    csv.writer(part, lineterminator="\n").writerows(rows)
    return (
        part.getvalue(),
        rows if job["rows"] else None,
        bad,
        len(chunk),
        [r[1] for r in rows],
    )


# ------------------------------------------------------------------------------ the files


def _read_out(fd, path, columns):
    """PANs already in the output (read through the locked fd: closing another descriptor of
    the file would let the lock go); a last line cut by a crash is dropped (its row is redone)."""
    os.lseek(fd, 0, os.SEEK_SET)
    with open(fd, "rb", closefd=False) as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        os.ftruncate(fd, keep)
        data = data[:keep]
    if not data:
        return None
    rows = csv.reader(data.decode().splitlines())
    head = next(rows)
    if head != columns:
        raise ValueError(
            "%s exists and is not a batch output of this kind (its columns: %s)"
            % (path, ",".join(head))
        )
    i = columns.index("pan")
    return {r[i] for r in rows if len(r) > i}


def _lock_out(path):
    """The output itself, opened and locked for this run: (fd, or ValueError if another run
    holds it). A POSIX record lock belongs to the file (one lock however the file is named,
    a symlink or a hard link) and to this process alone: the workers it forks do not hold
    it, so a batch killed with kill -9 lets go of it even while its workers live on."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ValueError(  # noqa: B904 - the OSError says nothing more
            "another batch is writing %s (%s): let it finish, or stop it and run the "
            "command again" % (path, os.path.realpath(path))
        )
    return fd


def _fleet(path, kind, credit):
    """(total rows, a generator of (line, row), repeated) for FLEET.csv; its header is
    checked first. `repeated`: the hashes of the PANs on more than one row (a hash shared by
    two PANs only hands their rows to the parent, which issues them the same)."""

    def rows():
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            for row in reader:
                yield reader.line_num, row

    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            head = [h.strip().lower() for h in next(reader, [])]
            # (the last column named pan, as DictReader reads a row)
            at = len(head) - 1 - head[::-1].index("pan") if "pan" in head else len(head)
            total, seen, repeated = 0, set(), set()
            for r in reader:
                if r:
                    total += 1
                    h = hash(r[at].strip() if at < len(r) else "")
                    if h in seen:
                        repeated.add(h)
                    else:
                        seen.add(h)
            del seen
    except OSError as e:
        raise ValueError("cannot read %s: %s" % (path, e)) from None
    # credit: "given" (--kwh or --money), "money" (a money column), or None (an amount
    # column, needed for `credit`, optional for `migrate`: without it, no credit)
    need = list(profiles.FIELDS)
    if credit == "money":
        need.append("money")
    elif credit is None and kind == "credit":
        need.append("amount")
    missing = [c for c in need if c not in head]
    if missing:
        raise ValueError(
            "%s: missing column(s) %s (the header needs %s%s)"
            % (
                path,
                ", ".join(missing),
                ",".join(profiles.FIELDS),
                ",money, or give --money"
                if credit == "money"
                else ",amount, or give --kwh"
                if "amount" in missing
                else "",
            )
        )
    return total, rows(), repeated


def _short(text, width=24):
    return text if len(text) <= width else text[: width - 4] + "..."


def _normalised(row):
    return {(k or "").strip().lower(): v for k, v in row.items()}


def _vending_key(args):
    key_file = getattr(args, "vending_key", None)
    prof = getattr(args, "profile", None)
    if key_file:
        try:
            with open(key_file) as f:
                text = f.read().strip()
        except OSError as e:
            raise ValueError("--vending-key: cannot read %s: %s" % (key_file, e)) from None
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError("--vending-key: %s does not hold hex" % key_file) from None
    if prof:
        return profiles.load(prof).vending_key
    raise ValueError("batch needs the vending key: --profile PROFILE or --vending-key FILE")


class Progress:
    """count/total, rate and ETA on a stream, at most once per `every` seconds."""

    def __init__(self, what, total, stream=None, every=1.0):
        self.what, self.total, self.every = what, total, every
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = self.last = time.monotonic()

    def show(self, done, worked, final=False):
        """done: rows dealt with (skipped too); worked: rows computed in this run (the rate)."""
        now = time.monotonic()
        if not final and now - self.last < self.every:
            return
        self.last = now
        rate = worked / max(now - self.start, 1e-9)
        left = self.total - done
        eta = "%d:%02d" % divmod(int(left / rate), 60) if rate > 0 else "?"
        text = "%s: %d/%d meters, %.0f/s, %s %s" % (
            self.what,
            done,
            self.total,
            rate,
            "took" if final else "ETA",
            "%d:%02d" % divmod(int(now - self.start), 60) if final else eta,
        )
        end = "\n" if final or not self.tty else ""
        self.stream.write(("\r" if self.tty else "") + text + end)
        self.stream.flush()


# ------------------------------------------------------------------------------ the run


def main(args):
    """Run `stsvend batch migrate|credit`; returns the exit status."""
    kind = args.batch_cmd
    columns = COLUMNS[kind]
    if getattr(args, "profile", None):  # a file, or a packaged profile's name
        args.profile = profiles.find(args.profile)
    vk = _vending_key(args)
    kwh = None if args.kwh is None else tenths(args.kwh)
    if kwh is not None and kwh <= 0 and not (kind == "migrate" and kwh == 0):
        raise ValueError("--kwh: the amount must be above zero")
    if kwh == 0:
        kwh = None  # (migrate --kwh 0: the key change codes alone)
        no_credit = True
    else:
        no_credit = False
    tariff = tariffs.load(args.tariff) if args.tariff else None
    if args.money is not None and tariff is None:
        raise ValueError("--money needs --tariff FILE (the price per kWh)")
    if tariff is not None and args.kwh is not None:
        raise ValueError("give --kwh or --tariff (with --money or a money column), not both")
    money = None
    if args.money is not None:
        money = tariffs.number(args.money, "--money")
        tariff.sell(money)  # (below the minimum: refused before any row)
    template = smses.load(args.sms)
    if args.workers < 1 or args.chunk < 1:
        raise ValueError("--workers and --chunk: 1 or more")
    when = tids.parse_time(args.at)
    when = when.astimezone(tids.UTC).replace(second=0, microsecond=0)
    seed = getattr(args, "seed", None)
    profile = getattr(args, "profile", None)
    ledger_path = getattr(args, "ledger", None) or (
        profiles.ledger_path(profile)
        if profile and not args.vending_key
        else args.vending_key + ".tids.db"
    )
    credit = (
        "given"
        if kwh is not None or money is not None or no_credit
        else "money"
        if tariff is not None
        else None
    )
    total, fleet, repeated = _fleet(profiles.find(args.fleet, "fleet"), kind, credit)
    tids.Ledger(ledger_path, imports=[profile + ".tids.json"] if profile else [])
    job_id = "%s %s" % (kind, os.path.realpath(args.out))  # (one job by any of its names)
    job = {
        "kind": kind,
        "vending_key": vk,
        "tenths": kwh,
        "no_credit": no_credit,
        "tariff": tariff,
        "money": money,
        "sms": template,
        "when": when,
        "seed": seed,
        "commodity": args.commodity,
        "ledger": ledger_path,
        "id": job_id,
        "run": None,  # (set when the run takes the job over: _Run._pending)
        "rows": _after_commit is not None,
    }
    run = _Run(args, job, job_id, columns, ledger_path, total, repeated)
    try:
        return run.go(fleet)
    finally:
        run.close()


class _Run:
    def __init__(self, args, job, job_id, columns, ledger_path, total, repeated):
        self.args, self.job, self.job_id, self.ledger = args, job, job_id, ledger_path
        self.repeated = repeated
        # One run at a time on an --out: two would both read it before either wrote, and
        # issue every meter twice (the ledger keeps their TIDs apart, not their meters).
        fd = _lock_out(args.out)
        try:
            self.written = _read_out(fd, args.out, columns)
        except BaseException:
            os.close(fd)
            raise
        fresh = self.written is None
        self.written = self.written or set()
        self.out = os.fdopen(fd, "a", newline="")  # (closed at the end: the lock goes with it)
        self.claimed = {}  # a repeated PAN -> the line whose row was issued in this run
        self.resumed_pans = set()  # written from batch_pending, not yet met in the fleet
        if fresh:
            csv.writer(self.out, lineterminator="\n").writerow(columns)
        self.progress = Progress("batch " + job["kind"], total)
        self.issued = self.skipped = self.bad = self.done = self.worked = self.resumed = 0
        self.pool = None
        self.flight = collections.deque()  # (own, chunk, future) handed out, not yet written
        self.synced = []  # PANs written and fsynced whose batch_pending rows can go

    def close(self):
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.out.close()  # (the lock goes with it)

    def _write(self, text, pans):
        self.out.write(text)
        self.out.flush()
        os.fsync(self.out.fileno())
        self.written.update(pans)
        self.synced.extend(pans)
        if len(self.synced) >= 4 * self.args.chunk:
            self._forget()

    def _forget(self):
        """The rows written and fsynced leave batch_pending: the output is their record."""
        if self.synced:
            with tids._transaction(self.ledger) as db:
                db.executemany(
                    "DELETE FROM batch_pending WHERE job = ? AND pan = ?",
                    [(self.job_id, p) for p in self.synced],
                )
            self.synced = []

    def _pending(self):
        """Take the job over (a worker of an earlier run claims nothing from now on) and write
        first the rows the ledger committed for this --out that the output lacks."""
        run = os.urandom(8).hex()
        with tids._transaction(self.ledger) as db:
            db.execute(_PENDING)
            db.execute(_RUNS)
            db.execute(
                "INSERT OR REPLACE INTO batch_run (job, run) VALUES (?, ?)", (self.job_id, run)
            )
            rows = [
                json.loads(r)
                for (r,) in db.execute(
                    "SELECT row FROM batch_pending WHERE job = ?", (self.job_id,)
                )
            ]
        self.job["run"] = run
        rows = sorted((r for r in rows if r[1] not in self.written), key=lambda r: r[0])
        if rows:
            part = io.StringIO()
            csv.writer(part, lineterminator="\n").writerows(rows)
            pans = [r[1] for r in rows]
            self._write(part.getvalue(), pans)
            self.resumed_pans.update(pans)
            print(
                "batch: %d meter(s) issued before the interruption written again with the "
                "same codes" % len(rows),
                file=sys.stderr,
            )
        self.resumed += len(rows)

    def _take(self, pan):
        """Is this row done already (its PAN in the output)? Counted if so."""
        if pan not in self.written:
            return False
        if pan in self.resumed_pans:  # (issued in this run, counted there)
            self.resumed_pans.discard(pan)
        else:
            self.skipped += 1
        self.done += 1
        return True

    def _units(self, fleet):
        """(own, chunk of (line, row)) still to do, in the fleet's order; own: a repeated PAN's
        row, the parent's to issue. PANs already written are not."""
        chunk = []
        for line, row in fleet:
            row = _normalised(row)
            pan = _pan(row)
            if self._take(pan):
                continue
            if hash(pan) in self.repeated:
                if chunk:
                    yield False, chunk
                    chunk = []
                yield True, [(line, row)]
                continue
            chunk.append((line, row))
            if len(chunk) == self.args.chunk:
                yield False, chunk
                chunk = []
        if chunk:
            yield False, chunk

    def _bad(self, line, pan, why):
        self.bad += 1
        print(
            "%s line %d%s: %s"
            % (self.args.fleet, line, " (pan %s)" % _short(pan) if pan else "", why),
            file=sys.stderr,
        )

    def _merge(self, res):
        """A unit's part, after its ledger commit: its bad rows reported, its rows written."""
        if res is None:
            raise ValueError("another batch took over %s in the ledger" % self.args.out)
        part, rows, bad, n, pans = res
        for line, pan, why in bad:
            self._bad(line, pan, why)
        if _after_commit:
            _after_commit(rows)
        self._write(part, pans)
        self.issued += len(pans)
        self.done += n
        self.worked += n

    def go(self, fleet):
        self._pending()
        stop_after = self.args.stop_after
        workers = self.args.workers
        units = self._units(fleet)
        complete = False
        try:
            if workers == 1:
                results = (_work(c, self.job, self.claimed if own else None) for own, c in units)
            else:
                results = self._parallel(units, workers)
            for res in results:
                self._merge(res)
                self.progress.show(self.done, self.worked)
                if stop_after is not None and self.issued >= stop_after:
                    break
            else:
                complete = True
        except KeyboardInterrupt:
            self.progress.show(self.done, self.worked, final=True)
            print(
                "batch: interrupted; %d meter(s) written to %s: run the same command again "
                "to continue" % (len(self.written), self.args.out),
                file=sys.stderr,
            )
            return 130
        self.progress.show(self.done, self.worked, final=True)
        if complete:
            # Every row is in the output now: it is the record from here on.
            with tids._transaction(self.ledger) as db:
                db.execute("DELETE FROM batch_pending WHERE job = ?", (self.job_id,))
            self.synced = []
        else:
            self._forget()
        print(
            "batch %s: %d issued, %d already in %s, %d bad%s"
            % (
                self.job["kind"],
                self.issued + self.resumed,
                self.skipped,
                self.args.out,
                self.bad,
                "" if complete else "; stopped early: run again to continue",
            ),
            file=sys.stderr,
        )
        if getattr(self.args, "json", False):
            print(
                json.dumps(
                    {
                        "issued": self.issued + self.resumed,
                        "already": self.skipped,
                        "bad": self.bad,
                        "complete": complete,
                        "out": self.args.out,
                    }
                )
            )
        if self.bad:
            print(
                "batch: %d bad row(s) were not issued (see the lines above); fix them and "
                "run the same command again" % self.bad,
                file=sys.stderr,
            )
            return 1
        return 0

    def _start(self, workers):
        self.pool = ProcessPoolExecutor(workers, initializer=_init, initargs=(self.job,))

    def _parallel(self, units, workers):
        """Each unit's result in the fleet's order, with at most 3 units a worker handed out.
        A repeated PAN's row waits for the units before it and is the parent's own. A worker
        that dies (kill -9) is replaced: the rows its unit committed are written from the
        ledger, the rest of the units not yet written handed out again."""
        depth = workers * 3
        recoveries = 0
        self._start(workers)
        while True:
            try:
                for own, c in units:
                    unit = [own, c, None]
                    self.flight.append(unit)  # (first: a submit that fails leaves it here)
                    if not own:
                        unit[2] = self.pool.submit(_work, c)
                    if len(self.flight) >= depth:
                        yield self._next()
                while self.flight:
                    yield self._next()
                return
            except BrokenProcessPool:
                recoveries += 1
                if recoveries > _RECOVERIES:
                    raise ValueError(
                        "worker processes keep dying (killed?): stopped; run the same command "
                        "again to continue"
                    ) from None
                units = itertools.chain(self._again(), units)
                self._start(workers)

    def _next(self):
        own, c, f = self.flight[0]
        res = _work(c, self.job, self.claimed) if own else f.result()
        self.flight.popleft()
        return res

    def _again(self):
        """After a worker died: the job taken over again (a worker still running claims
        nothing more), what the units in flight committed written, the rest handed out."""
        print("batch: a worker process died; its rows are taken up again", file=sys.stderr)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None
        self._pending()
        again = [
            (own, [(line, row) for line, row in c if not self._take(_pan(row))])
            for own, c, _ in self.flight
        ]
        self.flight.clear()
        return [(own, c) for own, c in again if c]


def _pan(row):
    return (row.get("pan") or "").strip()


def run(argv):
    """`stsvend [--profile P] batch ...` without the rest of stsvend (tests, the bench)."""
    ap = argparse.ArgumentParser(prog="stsvend")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile")
    ap.add_argument("--ledger")
    ap.add_argument("--seed", type=whole_arg)
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_parser(sub)
    args = ap.parse_args(argv)
    try:
        return main(args)
    except (ValueError, OSError) as e:
        print("stsvend: error: %s" % e, file=sys.stderr)
        return 2
