# profile.py  a meter as a utility names it: PAN, SGC, TI, KT, KRN, KEN, EA, DKGA, base date
# and the vending key (inline hex or a path), in one small JSON file. The same file
# personalises the simulator and, later, a board.
import json
import os

from sts import dates
from sts.codec import EA
from stsvend import keys

BASE_DATES = tuple(dates.BASE_DATES)  # 1993, 2014, 2035 (sts/dates.py)
_EAS = tuple(EA)  # sts/codec.py: "sta" (EA07), "misty1" (EA11)
FIELDS = ("pan", "sgc", "ti", "kt", "krn", "ken", "ea", "dkga", "base_date")


class ProfileError(ValueError):
    """A profile that names no real meter; the message says which field and why."""


def luhn_digit(digits):
    """The Luhn check digit of a string of digits."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def split_pan(pan):
    """An 18-digit meter PAN -> (IIN, IAIN), its Luhn check digit validated.

    The STS IIN 600727 is followed by an 11-digit IAIN; any other IIN is 4 digits and
    followed by a 13-digit IAIN. The last digit checks all the others.
    """
    if not (isinstance(pan, str) and len(pan) == 18 and pan.isdigit()):
        raise ProfileError("pan: an 18-digit meter PAN, got %r" % (pan,))
    want = luhn_digit(pan[:-1])
    if int(pan[-1]) != want:
        raise ProfileError(
            "pan: check digit %s is wrong, the Luhn digit of %s is %d" % (pan[-1], pan[:-1], want)
        )
    if pan.startswith("600727"):
        return pan[:6], pan[6:17]
    return pan[:4], pan[4:17]


class Profile:
    """A validated meter profile."""

    def __init__(self, data, where="."):
        missing = [f for f in FIELDS if f not in data]
        if missing:
            raise ProfileError("missing field(s): " + ", ".join(missing))
        self.name = data.get("name", "meter")
        self.pan = data["pan"]
        self.iin, self.iain = split_pan(self.pan)
        # The IAIN opens with the manufacturer code: 2 digits of an 11-digit IAIN (after IIN
        # 600727), 4 of a 13-digit one; class 1 test tokens name it (0 is any meter).
        self.mfr = int(self.iain[:2] if len(self.iain) == 11 else self.iain[:4])
        self.sgc = _digits(data, "sgc", 6)
        self.ti = _digits(data, "ti", 2)
        self.kt = _int(data, "kt", 0, 3)
        self.krn = _int(data, "krn", 1, 9)
        self.ken = _int(data, "ken", 0, 255)
        self.ea = data["ea"]
        if not isinstance(self.ea, str) or self.ea not in _EAS:
            raise ProfileError("ea: 'sta' (EA07) or 'misty1' (EA11), got %r" % (self.ea,))
        self.dkga = _int(data, "dkga", 2, 4)
        if self.dkga not in (2, 4):
            raise ProfileError("dkga: 2 or 4, got %r" % (self.dkga,))
        if self.dkga == 2 and self.ea != "sta":
            raise ProfileError("dkga 2 makes 64-bit keys: it cannot serve ea 'misty1'")
        self.base_date = data["base_date"]
        if type(self.base_date) is not int or self.base_date not in BASE_DATES:
            raise ProfileError("base_date: one of %s, got %r" % (BASE_DATES, self.base_date))
        self.vending_key = _vending_key(data, where, 8 if self.dkga == 2 else 20)

    def decoder_key(self, **change):
        """This meter's decoder key, or the one it would have with fields changed."""
        p = dict(self.as_dict(), **change)
        if p["dkga"] == 2:
            return keys.dkga02(
                self.vending_key, self.iin, self.iain, p["sgc"], p["ti"], p["kt"], p["krn"]
            )
        return keys.dkga04(
            self.vending_key,
            p["ea"],
            p["base_date"],
            self.pan,
            p["sgc"],
            p["ti"],
            p["kt"],
            p["krn"],
        )

    def as_dict(self):
        return {f: getattr(self, f) for f in FIELDS}


def _digits(data, name, n):
    v = data[name]
    if not (isinstance(v, str) and len(v) == n and v.isdigit()):
        raise ProfileError("%s: %d digits as a string, got %r" % (name, n, v))
    return v


def _int(data, name, lo, hi):
    v = data[name]
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ProfileError("%s: a whole number %d..%d, got %r" % (name, lo, hi, v))
    return v


def _vending_key(data, where, n):
    if "vending_key" in data:
        text = data["vending_key"]
    elif "vending_key_file" in data:
        if not isinstance(data["vending_key_file"], str):
            raise ProfileError(
                "vending_key_file: a path as a string, got %r" % (data["vending_key_file"],)
            )
        path = os.path.join(where, data["vending_key_file"])
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError as e:
            raise ProfileError("vending_key_file: cannot read %s: %s" % (path, e)) from None
    else:
        raise ProfileError("missing field: vending_key (hex) or vending_key_file (a path)")
    if not isinstance(text, str):
        raise ProfileError("vending_key: hex digits as a string, got %r" % (text,))
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ProfileError("vending_key: not hex") from None
    if len(key) != n:
        raise ProfileError("vending_key: %d bytes for this DKGA, got %d" % (n, len(key)))
    return key


def load(path):
    """Read and validate a profile file."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise ProfileError("cannot read profile %s: %s" % (path, e)) from None
    except ValueError as e:
        raise ProfileError("profile %s is not JSON: %s" % (path, e)) from None
    if not isinstance(data, dict):
        raise ProfileError("profile %s: a JSON object expected" % path)
    return Profile(data, os.path.dirname(os.path.abspath(path)))


def write(path, fields, dry_run=False):
    """Save a meter's new key fields (a key change's target) into its profile file.

    Every other entry stays as it was, the vending key (inline or `vending_key_file`) too;
    the file is replaced whole (written beside it, then moved over it), and only once the
    new profile is valid. Returns {field: (old, new)} for the fields that changed (with
    dry_run, what would change; nothing is written).
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ProfileError("cannot update profile %s: %s" % (path, e)) from None
    new = dict(data, **{f: fields[f] for f in FIELDS})
    Profile(new, os.path.dirname(os.path.abspath(path)))
    changed = {f: (data.get(f), new[f]) for f in FIELDS if data.get(f) != new[f]}
    if dry_run:
        return changed
    tmp = "%s.%d.new" % (path, os.getpid())
    # With the old file's permissions (a profile with the vending key inline is a secret:
    # 0600 stays 0600), on the disk before it replaces the old one (a power cut leaves one
    # or the other, never an empty profile and a lost key).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, os.stat(path).st_mode & 0o777)
    with os.fdopen(fd, "w") as f:
        json.dump(new, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    d = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(d)
    finally:
        os.close(d)
    return changed
