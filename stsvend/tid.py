# tid.py  the token identifier: whole minutes since the base date, UTC, in 24 bits
# A 24-bit minute count lasts 2**24 minutes (about 31.9 years): edition 1's window
# (base 1993) closed on 2024-11-24, which is why meters moved to base 2014.
import contextlib
import datetime as dt
import json
import os
import shutil
import sqlite3

from sts import dates
from sts.dates import TID_LIMIT

UTC = dt.timezone.utc


class TidError(ValueError):
    """A time that no TID of the base date can name."""


class OutsideWindow(TidError):
    """A time before the base date or after the last minute its 24-bit TID can name."""

    def __init__(self, message, base_date, late):
        super().__init__(message)
        self.base_date = base_date
        self.late = late  # True: after the window (the meter needs the next base date)


def window(base_date):
    """First and last minute (UTC) a TID of this base date can name."""
    return to_time(0, base_date), to_time(TID_LIMIT - 1, base_date)


def from_time(when, base_date):
    """TID of a moment: whole minutes since 00:00 UTC on 1 January of the base date."""
    if when.tzinfo is None:
        raise TidError("give the time with a zone (e.g. 2024-11-23T10:00Z); TIDs count in UTC")
    start, last = window(base_date)
    minutes = dates.tid_at(base_date, int(when.timestamp() // 1))
    if not 0 <= minutes < TID_LIMIT:
        raise OutsideWindow(
            "%s is outside the TID window of base date %d: %s to %s UTC"
            % (
                when.isoformat(),
                base_date,
                start.strftime("%Y-%m-%d %H:%M"),
                last.strftime("%Y-%m-%d %H:%M"),
            ),
            base_date,
            minutes > 0,
        )
    return minutes


def to_time(tid, base_date):
    """The minute a TID stands for (sts/dates.py, the page's too), as a datetime in UTC."""
    return dt.datetime.fromtimestamp(dates.seconds(base_date, tid), UTC)


def parse_time(text):
    """ISO 8601 time; 'Z' or an offset is required ('now' means the current minute)."""
    if text == "now":
        return dt.datetime.now(UTC)
    shown = repr(text) if len(text) < 40 else repr(text[:32]) + "..."
    try:
        if not text.isascii():  # (digits of another script are not a time here)
            raise ValueError
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TidError("not an ISO 8601 time: %s (e.g. 2024-11-23T10:00Z)" % shown) from None
    if when.tzinfo is None:
        raise TidError("%s has no zone: add Z for UTC or an offset like +01:00" % shown)
    return when


class LedgerError(ValueError):
    """A ledger that cannot be used (not SQLite nor an old JSON ledger, or unreachable)."""


_MAGIC = b"SQLite format 3\x00"
_WAIT = 60  # seconds a process waits for another's write transaction before it gives up
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS issued (pan TEXT NOT NULL, base_date INTEGER NOT NULL, "
    "tid INTEGER NOT NULL, UNIQUE (pan, base_date, tid))",
    # Old JSON ledgers already taken in, with their size and mtime: read again only if changed.
    "CREATE TABLE IF NOT EXISTS imported (path TEXT PRIMARY KEY, stamp TEXT NOT NULL)",
)
# tid itself if free, else one past the end of the run of issued TIDs that starts at tid:
# index probes on the UNIQUE index, as many as the run is long, whatever the ledger holds.
_FIRST_FREE = """
SELECT CASE WHEN NOT EXISTS
    (SELECT 1 FROM issued WHERE pan = ?1 AND base_date = ?2 AND tid = ?3) THEN ?3
  ELSE (SELECT a.tid + 1 FROM issued AS a WHERE a.pan = ?1 AND a.base_date = ?2 AND a.tid >= ?3
        AND NOT EXISTS (SELECT 1 FROM issued AS b
                        WHERE b.pan = ?1 AND b.base_date = ?2 AND b.tid = a.tid + 1)
        ORDER BY a.tid LIMIT 1) END
"""
_INSERT = "INSERT OR IGNORE INTO issued (pan, base_date, tid) VALUES (?, ?, ?)"


def _kind(path):
    """'sqlite' or 'json' by the file's first bytes; None when absent or empty (a new ledger)."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_MAGIC))
    except FileNotFoundError:
        return None
    if not head:
        return None
    return "sqlite" if head == _MAGIC else "json"


def _json_rows(path):
    """(pan, base_date, tid) rows of an old JSON ledger, {"PAN@BASE": [tid, ...], ...}."""
    try:
        with open(path) as f:
            data = json.load(f)
        rows = []
        for key, issued in data.items():
            pan, base = key.rsplit("@", 1)
            rows.extend((pan, int(base), int(t)) for t in issued)
    except (ValueError, AttributeError, TypeError) as e:  # a bad key or JSON is a ValueError
        raise LedgerError(
            "%s is neither a SQLite TID ledger nor an old JSON one (%s); "
            "it is left as it is" % (path, e)
        ) from None
    return rows


def backup_path(path):
    """Where a JSON ledger converted in place is kept: l.json -> l.json.bak, l -> l.json.bak."""
    root, ext = os.path.splitext(path)
    return (root if ext == ".json" else path) + ".json.bak"


@contextlib.contextmanager
def _transaction(path):
    """One write transaction on the ledger: other processes wait (up to _WAIT s) for it."""
    try:
        db = sqlite3.connect(path, timeout=_WAIT, isolation_level=None)
        try:
            # IMMEDIATE takes the write lock before the read, so the first free TID this
            # process finds is still free when it records it.
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()
    except sqlite3.Error as e:  # no directory, no permission, locked past _WAIT, ...
        raise LedgerError("TID ledger %s: %s" % (path, e)) from None


class Ledger:
    """TIDs already issued per meter PAN and base date, in a SQLite file processes share.

    Two tokens for one meter in one minute would share a TID and the second would be USED;
    the ledger moves a new token to the next free minute instead, and says so. Each claim is
    one write transaction, so two vending processes at once never issue the same TID.
    """

    def __init__(self, path, imports=()):
        """`path` None: no ledger, nothing recorded. `imports`: old JSON ledgers whose TIDs
        are taken in (and again whenever the file changes); they are left where they are."""
        self.path = path
        if not path:
            return
        if _kind(path) == "json":
            self._convert()
        with _transaction(path) as db:
            for sql in _SCHEMA:
                db.execute(sql)
            for old in imports:
                self._import(db, old)

    def _convert(self):
        """An old JSON ledger at `path` becomes a SQLite one in place, its TIDs kept.

        The new database is written beside it and moved over it with os.replace, so the path
        always holds one complete ledger or the other; the JSON is kept (backup_path). A
        SQLite lock file beside it (PATH.lock) lets one process convert while others wait:
        two converting at once could each replace the other's ledger and lose its claims.
        """
        try:
            lock = sqlite3.connect(self.path + ".lock", timeout=_WAIT, isolation_level=None)
        except sqlite3.Error as e:
            raise LedgerError("TID ledger %s: cannot convert it: %s" % (self.path, e)) from None
        try:
            try:
                lock.execute("BEGIN EXCLUSIVE")
            except sqlite3.Error as e:
                raise LedgerError(
                    "TID ledger %s: cannot convert it: %s" % (self.path, e)
                ) from None
            if _kind(self.path) != "json":
                return  # converted by another process while this one waited
            rows = _json_rows(self.path)
            tmp = "%s.%d.new" % (self.path, os.getpid())
            if os.path.exists(tmp):
                os.remove(tmp)  # left by a process of this id that died converting
            with _transaction(tmp) as db:
                for sql in _SCHEMA:
                    db.execute(sql)
                db.executemany(_INSERT, rows)
            shutil.copy2(self.path, backup_path(self.path))
            os.replace(tmp, self.path)
        finally:
            lock.close()

    def _import(self, db, old):
        try:
            st = os.stat(old)  # before reading: a write after it changes the stamp
        except FileNotFoundError:
            return
        if _kind(old) != "json":
            return  # the ledger itself, converted already
        where = os.path.abspath(old)
        stamp = "%d %d" % (st.st_size, st.st_mtime_ns)
        if db.execute(
            "SELECT 1 FROM imported WHERE path = ? AND stamp = ?", (where, stamp)
        ).fetchone():
            return
        db.executemany(_INSERT, _json_rows(old))
        db.execute("INSERT OR REPLACE INTO imported (path, stamp) VALUES (?, ?)", (where, stamp))

    def claim(self, pan, base_date, tid):
        """The first free TID at or after tid; recorded (committed) before it is returned."""
        if not self.path:
            if tid >= TID_LIMIT:
                raise TidError("no free TID left after %d for base date %d" % (tid, base_date))
            return tid
        with _transaction(self.path) as db:
            got = db.execute(_FIRST_FREE, (pan, base_date, tid)).fetchone()[0]
            if got >= TID_LIMIT:
                raise TidError("no free TID left after %d for base date %d" % (tid, base_date))
            db.execute(_INSERT, (pan, base_date, got))
        return got

    def issued(self, pan, base_date):
        """The TIDs recorded for one meter and base date, in order."""
        if not self.path:
            return []
        with _transaction(self.path) as db:
            return [
                r[0]
                for r in db.execute(
                    "SELECT tid FROM issued WHERE pan = ? AND base_date = ? ORDER BY tid",
                    (pan, base_date),
                )
            ]
