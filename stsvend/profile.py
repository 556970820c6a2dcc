# profile.py  a meter as a utility names it: PAN, SGC, TI, KT, KRN, KEN, EA, DKGA, base date
# and the vending key (inline hex or a path), in one small JSON file. The same file
# personalises the simulator and, later, a board.
import json
import os
import re

from sts import dates
from sts.codec import EA
from stsvend import keys

BASE_DATES = tuple(dates.BASE_DATES)  # 1993, 2014, 2035 (sts/dates.py)
_EAS = tuple(EA)  # sts/codec.py: "sta" (EA07), "misty1" (EA11)
FIELDS = ("pan", "sgc", "ti", "kt", "krn", "ken", "ea", "dkga", "base_date")


class ProfileError(ValueError):
    """A profile that names no real meter; the message says which field and why."""


_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit and int() take any script's digits


def is_digits(text):
    """True for a non-empty string of ASCII digits 0-9 (not fullwidth, not Arabic-Indic,
    not `1_000`): another script's digits would be another meter to the ledger."""
    return isinstance(text, str) and _DIGITS.fullmatch(text) is not None


def whole(text, name):
    """A whole number written in ASCII digits 0-9 -> int; ValueError naming the field."""
    if not is_digits(text):
        raise ProfileError("%s: a whole number in digits 0-9, got %s" % (name, excerpt(text)))
    return int(text)


def excerpt(value, width=24):
    """repr(value), cut to a short excerpt: an error never echoes a whole bad field."""
    text = repr(value)
    if len(text) <= width:
        return text
    n = len(value) if isinstance(value, (str, bytes, list, dict)) else None
    return "%s... (%s)" % (text[:width], "%d characters" % n if n is not None else "cut")


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit doubled, its two digits added


def luhn_digit(digits):
    """The Luhn check digit of a string of digits."""
    # From the right, the first digit and every second one after it are doubled.
    total = sum(map(_DOUBLED.__getitem__, map(int, digits[-1::-2])))
    total += sum(map(int, digits[-2::-2]))
    return (10 - total % 10) % 10


def split_pan(pan):
    """An 18-digit meter PAN -> (IIN, IAIN), both check digits validated.

    The STS IIN 600727 is followed by an 11-digit IAIN; any other IIN is 4 digits and
    followed by a 13-digit IAIN. The IAIN is the meter number (DRN) printed on the meter:
    its last digit is its own Luhn digit; the PAN's last digit checks all the others.
    """
    if not (is_digits(pan) and len(pan) == 18):
        raise ProfileError("pan: an 18-digit meter PAN in digits 0-9, got %s" % excerpt(pan))
    want = luhn_digit(pan[:-1])
    if int(pan[-1]) != want:
        raise ProfileError(
            "pan: check digit %s is wrong, the Luhn digit of %s is %d" % (pan[-1], pan[:-1], want)
        )
    iin, iain = (pan[:6], pan[6:17]) if pan.startswith("600727") else (pan[:4], pan[4:17])
    want = luhn_digit(iain[:-1])
    if int(iain[-1]) != want:
        raise ProfileError(
            "pan: the meter number %s has a wrong check digit %s, the Luhn digit of %s is %d "
            "(a digit mistyped?)" % (iain, iain[-1], iain[:-1], want)
        )
    return iin, iain


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
            raise ProfileError("ea: 'sta' (EA07) or 'misty1' (EA11), got %s" % excerpt(self.ea))
        self.dkga = _int(data, "dkga", 2, 4)
        if self.dkga not in (2, 4):
            raise ProfileError("dkga: 2 or 4, got %s" % excerpt(self.dkga))
        if self.dkga == 2 and self.ea != "sta":
            raise ProfileError("dkga 2 makes 64-bit keys: it cannot serve ea 'misty1'")
        self.base_date = data["base_date"]
        if type(self.base_date) is not int or self.base_date not in BASE_DATES:
            raise ProfileError(
                "base_date: one of %s, got %s" % (BASE_DATES, excerpt(self.base_date))
            )
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
    if not (is_digits(v) and len(v) == n):
        raise ProfileError("%s: %d digits 0-9 as a string, got %s" % (name, n, excerpt(v)))
    return v


def _int(data, name, lo, hi):
    v = data[name]
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ProfileError("%s: a whole number %d..%d, got %s" % (name, lo, hi, excerpt(v)))
    return v


def _vending_key(data, where, n):
    if "vending_key" in data:
        text = data["vending_key"]
    elif "vending_key_file" in data:
        if not isinstance(data["vending_key_file"], str):
            raise ProfileError(
                "vending_key_file: a path as a string, got %s" % excerpt(data["vending_key_file"])
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
        raise ProfileError("vending_key: hex digits as a string, got a %s" % type(text).__name__)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ProfileError("vending_key: not hex") from None
    if len(key) != n:
        raise ProfileError("vending_key: %d bytes for this DKGA, got %d" % (n, len(key)))
    return key


def load(path):
    """Read and validate a profile file."""
    _sweep(path)
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


def _tmp_name(path, pid):
    return "%s.%d.new" % (path, pid)


def _sweep(path):
    """Remove new profiles that a `--write` killed at its last step left beside `path` (each
    may hold the vending key): PATH.PID.new whose process is gone."""
    folder, name = os.path.split(os.path.abspath(path))
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for other in names:
        pid = other[len(name) + 1 : -4]
        if not (other.startswith(name + ".") and other.endswith(".new") and is_digits(pid)):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # (its writer is still at work)
        except ProcessLookupError:
            pass
        except OSError:  # another user's process: not ours to judge
            continue
        try:
            os.remove(os.path.join(folder, other))
        except OSError:
            pass


def _open_unnamed(folder, mode):
    """A new file in `folder` with no name (Linux O_TMPFILE): a kill before it is named leaves
    nothing behind. None where the system or file system has none."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.exists("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, mode)
    except OSError:  # (EOPNOTSUPP, EISDIR on a kernel without it, ...)
        return None


def write(path, fields, dry_run=False):
    """Save a meter's new key fields (a key change's target) into its profile file.

    Every other entry stays as it was, the vending key (inline or `vending_key_file`) too;
    the file is replaced whole (written beside it, then moved over it), and only once the
    new profile is valid. Returns {field: (old, new)} for the fields that changed (with
    dry_run, what would change; nothing is written).
    """
    if is_packaged(path):
        name = os.path.splitext(os.path.basename(path))[0]
        raise ProfileError(
            "%s is a packaged profile, the same for everyone: make your own copy "
            "(stsvend profiles --copy %s meter.json) and --write that one" % (name, name)
        )
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
    _sweep(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = _tmp_name(path, os.getpid())
    # With the old file's permissions (a profile with the vending key inline is a secret:
    # 0600 stays 0600), on the disk before it replaces the old one (a power cut leaves one
    # or the other, never an empty profile and a lost key). Written unnamed, then named: a
    # process killed while writing leaves no copy of the key; one killed between naming it
    # and the move leaves PATH.PID.new, which the next use of the profile removes.
    mode = os.stat(path).st_mode & 0o777
    fd = _open_unnamed(folder, mode)
    named = fd is None
    if named:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    d = os.open(folder, os.O_RDONLY)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(new, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
            if not named:
                # (a directory fd makes os.link call linkat, which can follow /proc's link)
                os.link(
                    "/proc/self/fd/%d" % f.fileno(),
                    os.path.basename(tmp),
                    dst_dir_fd=d,
                    follow_symlinks=True,
                )
        os.replace(tmp, path)
        os.fsync(d)
    finally:
        os.close(d)
    return changed


# -- the profiles that ship with stsvend (package data, stsvend/profiles/) -------------------
# `--profile demo` names one by its file's stem; a fleet CSV goes by its file name
# (`fleet-demo.csv`). A path that exists always wins over a packaged name.
PACKAGED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles")


def _packaged_files():
    """{name: path} of the packaged profiles (by stem) and fleets (by file name)."""
    out = {}
    for f in sorted(os.listdir(PACKAGED)):
        if f.endswith(".json"):
            out[f[: -len(".json")]] = os.path.join(PACKAGED, f)
        elif f.endswith(".csv"):
            out[f] = os.path.join(PACKAGED, f)
    return out


def packaged():
    """[(name, meter, what)] for each packaged profile and fleet, as `stsvend profiles` lists
    them."""
    out = []
    for name, path in _packaged_files().items():
        if path.endswith(".json"):
            p = load(path)
            meter = "PAN %s, %s, DKGA%02d, KRN %d" % (p.pan, p.ea.upper(), p.dkga, p.krn)
            out.append((name, meter, p.name))
        else:
            with open(path) as f:
                n = sum(1 for line in f if line.strip()) - 1  # the header
            out.append((name, "%d meters" % n, "a fleet for stsvend batch (FLEET.csv)"))
    return out


def find(spec, what="profile"):
    """The file `spec` names: itself when it exists, else the packaged profile (what="fleet":
    fleet) of that name; a ProfileError that lists the packaged names otherwise."""
    if os.path.exists(spec):
        return spec
    ext = ".csv" if what == "fleet" else ".json"
    named = {n: p for n, p in _packaged_files().items() if p.endswith(ext)}
    if spec in named:
        return named[spec]
    raise ProfileError(
        "no %s %s: not a file, nor a packaged name (packaged: %s; `stsvend profiles` "
        "says what each is)" % (what, spec, ", ".join(named))
    )


def is_packaged(path):
    return os.path.dirname(os.path.abspath(path)) == PACKAGED


def ledger_path(path):
    """The default issued-TID ledger of a profile file: PROFILE.tids.db beside it; for a
    packaged profile NAME.tids.db in the current directory (the package is no place to
    write, and one installation serves many offices)."""
    if is_packaged(path):
        return os.path.splitext(os.path.basename(path))[0] + ".tids.db"
    return path + ".tids.db"
