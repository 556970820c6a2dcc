# blocks.py  the data block of every class and subclass: named fields, LSB-first bit layout
# Bits 0..15 are the CRC and bits 60..63 the subclass in every block; LAYOUT names the rest.
# For building (encode) and explaining tokens (the vending side, the page, the conformance
# runner): a meter reads its fields with kinds.field() and never loads this module.
from array import array

from sts import digits
from sts import kinds as K
from sts.crc import crc_of
from sts.kinds import KNOWN, WHAT, bits  # noqa: F401 - KNOWN, WHAT: here as before


def _f(name, where):
    return (name, where >> 8, where & 255)


_REG = (_f("amount", K.AMOUNT), _f("tid", K.TID), _f("rnd", K.RND))  # class 0 credit
_MGMT = (_f("register", K.REGISTER), _f("tid", K.TID), _f("rnd", K.RND))  # class 2 registers

# (class, subclass) -> (name, fields as (name, first bit, width)); the names, which kinds
# exist, and where each field sits, are kinds.py's (what a meter loads).
_FIELDS = {
    (0, 0): _REG,
    (0, 1): _REG,
    (0, 2): _REG,
    (0, 3): _REG,
    (1, 0): (_f("mfr", K.MFR1), _f("control", K.CONTROL1)),
    (1, 1): (_f("mfr", K.MFR2), _f("control", K.CONTROL2)),
    (2, 0): _MGMT,
    (2, 1): _MGMT,
    (2, 2): _MGMT,
    (2, 3): (
        _f("nkho", K.NK),
        _f("kt", K.KT),
        _f("res", K.RES),
        _f("ro", K.RO),
        _f("krn", K.KRN),
        _f("kenho", K.KENHO),
    ),
    (2, 4): (_f("nklo", K.NK), _f("ti", K.TI), _f("kenlo", K.KENLO)),
    (2, 5): _MGMT,
    (2, 6): _MGMT,
    (2, 7): _MGMT,
    (2, 8): (_f("nkmo2", K.NK), _f("sgclo", K.SGC12)),
    (2, 9): (_f("nkmo1", K.NK), _f("sgcho", K.SGC12)),
}
# The management tokens (class 2 register subclasses) by the name both vending sides use.
REGISTERS = {
    "max-power": 0,
    "clear-credit": 1,
    "tariff-rate": 2,
    "clear-tamper": 5,
    "phase-unbalance": 6,
    "water-factor": 7,
}
LAYOUT = {k: (WHAT[k[0] << 4 | k[1]], f) for k, f in _FIELDS.items()}
del _FIELDS


def put(b, lo, n, v):
    """Store v in the n bits from bit lo of limbs b."""
    if v < 0 or v >> n:
        raise ValueError("%d does not fit in %d bits" % (v, n))
    got = 0
    while got < n:
        i = lo + got
        off = i % 24
        take = min(24 - off, n - got)
        m = ((1 << take) - 1) << off
        b[i // 24] = (b[i // 24] & ~m & 0xFFFFFF) | (((v >> got) << off) & m)
        got += take


def build(cls, subclass, fields, b):
    """Fill limbs b with the block of (cls, subclass) from the dict `fields`, CRC included."""
    layout = LAYOUT.get((cls, subclass))
    if layout is None:
        raise ValueError("no class %d subclass %d token" % (cls, subclass))
    b[0] = b[1] = b[2] = 0
    for name, lo, n in layout[1]:
        put(b, lo, n, fields.get(name, 0))
    put(b, 60, 4, subclass)
    b[0] |= crc_of(cls, b[0], b[1], b[2])


def fields(cls, b):
    """The named fields of a plaintext block as a dict (subclass and crc included)."""
    sub = b[2] >> 12
    out = {"subclass": sub, "crc": b[0] & 0xFFFF}
    for name, lo, n in LAYOUT[(cls, sub)][1]:
        out[name] = bits(b, lo, n)
    return out


def encode(cls, subclass, fields, cipher):
    """The 20 digits of a token built from named fields, encrypted under `cipher` (class 1
    travels in the clear: None will do)."""
    b = array("I", bytes(12))
    build(cls, subclass, fields, b)
    if cls != 1:
        cipher.encrypt(b)
    return digits.format(cls, b)
