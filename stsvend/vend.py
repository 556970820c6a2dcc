# vend.py  tokens of every class for a meter profile: credit, management, test/display,
# key change sets, and the edition-2 migration set
import random

from sts import amount, vending
from sts.blocks import REGISTERS, encode
from sts.codec import cipher  # noqa: F401 - decoding, for those who take it from here
from sts.digits import grouped
from sts.kinds import NEXT_BASE
from sts.vending import COMMODITIES, MAX_WATTS, carries_watts  # noqa: F401 - the CLI's
from stsvend import tid as tids
from stsvend.encrypt import cipher as encrypting  # tokens are made here, never decoded

MANAGEMENT = REGISTERS  # (sts/blocks.py: one table for the vending side and the page)
# The limits in words; which subclasses carry watts (coded like a transfer amount, in whole
# watts, not tenths: the largest is 18201624 W) is sts/kinds.py's WATTS.
LIMITS = {0: "max power limit", 6: "max phase power unbalance limit"}
# Clear credit (class 2 subclass 1) names the register it clears.
CREDIT_REGISTERS = {
    0: "the electricity credit",
    1: "the water credit",
    2: "the gas credit",
    3: "the time credit",
    0xFFFF: "every credit register",
}
# Kinds whose register means nothing: the token alone says what to do.
NO_VALUE = ("clear-tamper",)
# The control field of a class 1 test/display token (IEC 62055-41, InitiateMeterTest/Display):
# each set bit asks the meter for one test or display, bit 0 for all of them; the bits above
# these are reserved. A meter does what it can and shows the rest as it likes.
TEST_CONTROL = (
    "every test and display below",
    "test the load switch (relay)",
    "test the information display (every segment)",
    "display the total energy register",
    "display the key revision number (KRN)",
    "display the tariff index (TI)",
    "test the token reader (keypad)",
    "display the max power limit",
    "display the tamper status",
    "display the power consumption",
    "display the software version",
    "display the phase power unbalance limit",
)
# A rollover (RO) moves a meter to the next base date; 2035 is the last.
_NEXT_BASE = NEXT_BASE  # (the firmware's: one table of rollovers for both sides)


class Token:
    """One token as vended: digits and what it carries."""

    def __init__(self, digits, cls, subclass, fields, what, **extra):
        self.digits = digits
        self.cls = cls
        self.subclass = subclass
        self.fields = fields
        self.what = what
        self.extra = extra

    def grouped(self):
        return grouped(self.digits)

    def as_dict(self):
        d = {
            "token": self.digits,
            "class": self.cls,
            "subclass": self.subclass,
            "what": self.what,
            "fields": self.fields,
        }
        d.update(self.extra)
        return d


def _register_token(profile, make, kind, value, when, ledger, rng, what):
    """A token of sts/vending.py's `make` (credit or register) with the next free TID."""
    t = tids.from_time(when, profile.base_date)
    got = ledger.claim(profile.pan, profile.base_date, t) if ledger else t
    c = encrypting(profile.ea, profile.decoder_key())
    digits, fields = make(kind, value, got, rng.randrange(16), c)
    cls, subclass = (0, COMMODITIES[kind]) if make is vending.credit else (2, REGISTERS[kind])
    note = {}
    if got != t:
        note["tid_moved"] = "TID %d was already issued; moved to the next free minute %d" % (
            t,
            got,
        )
    return Token(
        digits,
        cls,
        subclass,
        fields,
        what,
        base_date=profile.base_date,
        tid_time=tids.to_time(got, profile.base_date).strftime("%Y-%m-%d %H:%M UTC"),
        **note,
    )


class KeyExpired(ValueError):
    """Credit the meter would refuse as KEY EXPIRED: its TID is past the key's KEN."""

    def __init__(self, profile, tid):
        self.ken = profile.ken
        ends = tids.to_time((profile.ken + 1) << 16, profile.base_date)
        super().__init__(
            "KEN %d has passed: this key's credit tokens ran to %s UTC, and this one (TID %d, "
            "period %d) the meter would refuse as KEY EXPIRED; nothing was issued. Give the "
            "meter a key with a later KEN first (a key change, KEN 255 never expires), "
            "then sell the credit under it"
            % (profile.ken, ends.strftime("%Y-%m-%d %H:%M"), tid, tid >> 16)
        )


def _expired(profile, tid):
    # IEC 62055-41: a meter refuses credit whose TID's top 8 bits exceed KEN (255: never).
    return profile.ken != 255 and tid >> 16 > profile.ken


def credit(profile, commodity, tenths, when, ledger=None, rng=random):
    """A class 0 credit token; the amount rounds up to the next encodable value. A key whose
    KEN has passed sells nothing (KeyExpired): the meter would refuse the token."""
    if commodity not in COMMODITIES:
        raise ValueError("commodity: one of %s" % ", ".join(COMMODITIES))
    if tenths > amount.MAX_TENTHS:
        raise ValueError(
            "%s is above the largest amount a token carries, %s"
            % (amount.text(tenths), amount.text(amount.MAX_TENTHS))
        )
    if tenths <= 0:
        raise ValueError("the amount must be above zero")
    t = tids.from_time(when, profile.base_date)
    if _expired(profile, t):
        raise KeyExpired(profile, t)
    tok = _register_token(
        profile, vending.credit, commodity, tenths, when, ledger, rng, "%s credit" % commodity
    )
    if _expired(profile, tok.fields["tid"]):  # the ledger moved it past the key's last minute
        raise KeyExpired(profile, tok.fields["tid"])
    tok.extra["requested_tenths"] = tenths
    tok.extra["encoded_tenths"] = amount.decode(tok.fields["amount"])
    return tok


def management(profile, kind, value, when, ledger=None, rng=random):
    """A class 2 register token (max power, clear credit, tariff, tamper, unbalance, water).

    Max power and phase unbalance take watts, rounded up to the next encodable value; the
    other kinds take the raw 16-bit register.
    """
    if kind not in MANAGEMENT:
        raise ValueError("management token: one of %s" % ", ".join(MANAGEMENT))
    vending.register_fields(kind, value, 0, 0)  # a value it cannot carry claims no TID
    tok = _register_token(profile, vending.register, kind, value, when, ledger, rng, kind)
    raw = tok.fields["register"]
    if carries_watts(MANAGEMENT[kind]):
        tok.extra["requested_watts"] = value
        tok.extra["encoded_watts"] = amount.decode(raw)
    tok.extra["carries"] = register_text(kind, raw)
    return tok


def test_display(control, mfr=0, subclass=0):
    """A class 1 test/display token (sent in the clear, no key, no TID)."""
    digits, fields = vending.test_display(control, mfr, subclass)
    asks = [
        {"bit": b if isinstance(b, int) else list(b), "asks": t} for b, t in control_bits(control)
    ]
    return Token(digits, 1, subclass, fields, "test/display", control_bits=asks)


def control_bits(control):
    """What a test/display control asks for: [(bit or (first, last) of reserved bits, text)]."""
    out = []
    reserved = [i for i in range(len(TEST_CONTROL), control.bit_length()) if control >> i & 1]
    for i, text in enumerate(TEST_CONTROL):
        if control >> i & 1:
            out.append((i, text))
    if reserved:
        out.append(((reserved[0], reserved[-1]), "reserved: no test or display is defined"))
    return out


def register_text(kind, value):
    """What the register of a management token carries, in words."""
    if kind in ("max-power", "phase-unbalance"):
        w = amount.decode(value)
        return "limit %d W%s" % (w, " (no limit: the limit is lifted)" if w == 0 else "")
    if kind == "clear-credit":
        return "register %d: clears %s" % (
            value,
            CREDIT_REGISTERS.get(
                value, "currency register %d" % value if 4 <= value <= 7 else "no register"
            ),
        )
    if kind == "tariff-rate":
        return "tariff rate %d (the register as the meter stores it)" % value
    if kind == "water-factor":
        return "water meter factor %d (the register as the meter stores it)" % value
    return "register %d (unused: the token alone clears the tamper flag)" % value


def next_base_date(base_date):
    """The base date a rollover moves to; ValueError after the last."""
    if base_date not in _NEXT_BASE:
        raise ValueError(
            "base date %d has no successor: it is the last, so no rollover can "
            "leave it" % base_date
        )
    return _NEXT_BASE[base_date]


def key_change(profile, new, ro=0):
    """The key change set moving `profile` to the key of `new` (a dict of changed fields).

    With ro=1 the meter also moves to the next base date, and so does the new profile.
    Returns (tokens, new profile fields). STA keys take 2 sections, MISTY1 keys 4 (the 3rd
    and 4th carry the SGC). Every section is encrypted under the current key.
    """
    out, target, _ = _key_change(profile, new, ro)
    return out, target


def _key_change(profile, new, ro):
    """key_change's (tokens, new profile fields) and the new profile (named "meter")."""
    base = next_base_date(profile.base_date) if ro else profile.base_date
    if new.get("base_date", base) != base:
        raise ValueError(
            "the base date moves only by a rollover (RO), from %d to %s"
            % (profile.base_date, _NEXT_BASE.get(profile.base_date, "none"))
        )
    target = dict(profile.as_dict(), **new)
    target["base_date"] = base
    if target["ea"] != profile.ea:
        raise ValueError("a key change keeps the encryption algorithm (%s)" % profile.ea)
    moved = profile.__class__(dict(target, vending_key=profile.vending_key.hex()))
    nk = moved.decoder_key()
    ok = profile.decoder_key()
    if nk == ok:
        # With RO set the meter would clear its TID memory under the same key: every old
        # credit token would be accepted again.
        raise ValueError(
            "the new decoder key equals the current one: change --krn, --kt, "
            "--ti or --sgc (with DKGA04 --rollover changes it too)"
        )
    old = encrypting(profile.ea, ok)
    secs = vending.sections(
        nk, target["kt"], target["krn"], target["ken"], int(target["ti"]), ro, int(target["sgc"])
    )
    n = len(secs)
    out = [
        Token(
            encode(2, sub, f, old),
            2,
            sub,
            f,
            "key change section %d of %d" % (i + 1, n),
            new_decoder_key=nk.hex(),
        )
        for i, (sub, f) in enumerate(secs)
    ]
    return out, target, moved


class AlreadyMoved(ValueError):
    """A migration asked of a meter already at the base date of its time."""


def migration(profile, tenths, when, ledger=None, rng=random, commodity="electricity"):
    """The edition-2 set: key change with rollover to the next base date and KRN + 1, then
    a credit token under the new key (none when tenths is None or 0: the key change codes
    alone, as ENEO sent them). Returns (tokens in typing order, new profile fields)."""
    nxt = next_base_date(profile.base_date)
    if when.tzinfo is not None and tids.window(nxt)[0] > when:
        # The next base date starts after `when`: this meter is already on the base date
        # of its time (migrated before); another rollover would move it decades ahead.
        raise AlreadyMoved(
            "this meter is already at base date %d (KRN %d), the base date of %s: its "
            "migration is done (the next rollover, to %d, is not due before %d); sell credit "
            "under its key with `credit`"
            % (profile.base_date, profile.krn, when.strftime("%Y-%m-%d"), nxt, nxt)
        )
    if profile.krn >= 9:
        raise ValueError("KRN %d is the last: a migration needs KRN + 1" % profile.krn)
    kcts, target, moved = _key_change(profile, {"krn": profile.krn + 1}, ro=1)
    if not tenths:
        return kcts, target
    moved.name = profile.name  # (the profile under the new key, validated once)
    last = credit(moved, commodity, tenths, when, ledger, rng)
    return kcts + [last], target
