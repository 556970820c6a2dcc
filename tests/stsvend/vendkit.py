# vendkit.py  the vending tests' meters and helpers (tests/stsvend/): the demo meter and a
# MISTY1 meter, times inside and after the 1993 window, and a token decoded by the firmware's
# own codec under the meter's key
import csv
import datetime as dt
import json
import os
import re
import sqlite3

from conftest import DEMO_KEY as DEMO_KEY  # (re-exported: the tests take it from here)
from conftest import MISTY1, ROOT
from sts import blocks, errors
from sts.codec import Decoder
from stsvend import profile as profiles
from stsvend import vend
from stsvend.profile import Profile

DEMO_PATH = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
with open(DEMO_PATH) as _f:
    DEMO = json.load(_f)
DEMO_KEY_KRN2 = "f469dc6937c04441"  # vectors: the same meter at KRN 2

MISTY = MISTY1  # (conftest: the MISTY1 test meter)
DKGA04_VK = MISTY["vending_key"]
MISTY_KEY = "f94b6ed353c3bfdb113e2d3a7ea3c41d"  # vectors: CTSA05's old key
MISTY_KEY_KRN2 = "9ca924e05d4d647026b55a4bbba54bdf"  # vectors: CTSA19's new key

UTC = dt.timezone.utc
AT = dt.datetime(2024, 11, 23, 10, 0, tzinfo=UTC)  # inside the 1993 window
AT_TEXT = "2024-11-23T10:00Z"
AFTER = dt.datetime(2024, 11, 25, 8, 0, tzinfo=UTC)  # after the 1993 window closed
AFTER_TEXT = "2024-11-25T08:00Z"
GROUPED = re.compile(r"\b\d{4} \d{4} \d{4} \d{4} \d{4}\b")
VECTOR_TOKEN = "23716100501183194197"  # CTSA01 step 1: demo meter, 0.1 units, TID 5871715


def demo(**change):
    return Profile(dict(DEMO, **change))


def misty(**change):
    return Profile(dict(MISTY, **change))


def decode(token, ea=None, key=None):
    """(result, class, subclass, fields) of a token decoded by the firmware's codec."""
    dec = Decoder(vend.cipher(ea, key) if key is not None else None)
    rc = dec.decode(token)
    if rc != errors.OK:
        return rc, None, None, None
    return rc, dec.cls, dec.subclass, blocks.fields(dec.cls, dec.block)


def write_profile(tmp_path, data, name="meter.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def pan_of(body):
    """An 18-digit PAN: 17 digits and their Luhn check digit."""
    return body + str(profiles.luhn_digit(body))


def stages(out):
    """{stage: text} of `stsvend explain`'s output."""
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\S+(?: \S+)?)\s{2,}(.*)$", out, re.M)}


def read_out(path):
    """The rows of a batch's output CSV, as dicts."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def issued(ledger):
    """(pan, base date, TID) of every TID a ledger holds, by PAN."""
    db = sqlite3.connect(ledger)
    try:
        return db.execute("SELECT pan, base_date, tid FROM issued ORDER BY pan").fetchall()
    finally:
        db.close()
