# tid.py  the token identifier: whole minutes since the base date, UTC, in 24 bits
# A 24-bit minute count lasts 2**24 minutes (about 31.9 years): edition 1's window
# (base 1993) closed on 2024-11-24, which is why meters moved to base 2014.
import datetime as dt
import json
import os

TID_LIMIT = 1 << 24
UTC = dt.timezone.utc


class TidError(ValueError):
    """A time that no TID of the base date can name."""


def window(base_date):
    """First and last minute (UTC) a TID of this base date can name."""
    start = dt.datetime(base_date, 1, 1, tzinfo=UTC)
    return start, start + dt.timedelta(minutes=TID_LIMIT - 1)


def from_time(when, base_date):
    """TID of a moment: whole minutes since 00:00 UTC on 1 January of the base date."""
    if when.tzinfo is None:
        raise TidError("give the time with a zone (e.g. 2024-11-23T10:00Z); TIDs count in UTC")
    start, last = window(base_date)
    minutes = int((when.astimezone(UTC) - start).total_seconds() // 60)
    if not 0 <= minutes < TID_LIMIT:
        raise TidError("%s is outside the TID window of base date %d: %s to %s UTC"
                       % (when.isoformat(), base_date, start.strftime("%Y-%m-%d %H:%M"),
                          last.strftime("%Y-%m-%d %H:%M")))
    return minutes


def to_time(tid, base_date):
    return window(base_date)[0] + dt.timedelta(minutes=tid)


def parse_time(text):
    """ISO 8601 time; 'Z' or an offset is required ('now' means the current minute)."""
    if text == "now":
        return dt.datetime.now(UTC)
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TidError("not an ISO 8601 time: %r (e.g. 2024-11-23T10:00Z)" % text) from None
    if when.tzinfo is None:
        raise TidError("%r has no zone: add Z for UTC or an offset like +01:00" % text)
    return when


class Ledger:
    """TIDs already issued per meter PAN and base date, kept in a JSON file.

    Two tokens for one meter in one minute would share a TID and the second would be USED;
    the ledger moves a new token to the next free minute instead, and says so.
    """

    def __init__(self, path):
        self.path = path
        self.issued = {}
        if path and os.path.exists(path):
            with open(path) as f:
                self.issued = json.load(f)

    def claim(self, pan, base_date, tid):
        """The first free TID at or after tid; recorded (written at once) when a path is set."""
        key = "%s@%d" % (pan, base_date)
        used = set(self.issued.get(key, ()))
        first = tid
        while tid in used:
            tid += 1
        if tid >= TID_LIMIT:
            raise TidError("no free TID left after %d for base date %d" % (first, base_date))
        if self.path:
            self.issued.setdefault(key, []).append(tid)
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.issued, f)
            os.replace(tmp, self.path)
        return tid
