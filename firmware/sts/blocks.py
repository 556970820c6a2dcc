# blocks.py  the data block of every class and subclass: named fields, LSB-first bit layout
# Bits 0..15 are the CRC and bits 60..63 the subclass in every block; LAYOUT names the rest.
from sts.crc import crc_of

_REG = (("amount", 16, 16), ("tid", 32, 24), ("rnd", 56, 4))  # class 0 credit
_MGMT = (("register", 16, 16), ("tid", 32, 24), ("rnd", 56, 4))  # class 2 register tokens

# (class, subclass) -> (name, fields as (name, first bit, width)). Class 0 currency
# subclasses 4..7 use another CRC in the standard and are left out (UNKNOWN_SUBCLASS).
LAYOUT = {
    (0, 0): ("electricity credit", _REG),
    (0, 1): ("water credit", _REG),
    (0, 2): ("gas credit", _REG),
    (0, 3): ("time credit", _REG),
    (1, 0): ("test/display 1", (("mfr", 16, 8), ("control", 24, 36))),
    (1, 1): ("test/display 2", (("mfr", 16, 16), ("control", 32, 28))),
    (2, 0): ("set max power limit", _MGMT),
    (2, 1): ("clear credit", _MGMT),
    (2, 2): ("set tariff rate", _MGMT),
    (2, 3): ("key change 1st section", (("nkho", 16, 32), ("kt", 48, 2), ("res", 50, 1),
                                         ("ro", 51, 1), ("krn", 52, 4), ("kenho", 56, 4))),
    (2, 4): ("key change 2nd section", (("nklo", 16, 32), ("ti", 48, 8), ("kenlo", 56, 4))),
    (2, 5): ("clear tamper", _MGMT),
    (2, 6): ("set max phase power unbalance", _MGMT),
    (2, 7): ("set water meter factor", _MGMT),
    (2, 8): ("key change 3rd section", (("nkmo2", 16, 32), ("sgclo", 48, 12))),
    (2, 9): ("key change 4th section", (("nkmo1", 16, 32), ("sgcho", 48, 12))),
}

# KNOWN[class] has bit `subclass` set for every layout above: a test that allocates nothing.
# WHAT[class << 4 | subclass] names the token without building a (class, subclass) key.
KNOWN = [0, 0, 0, 0]
WHAT = {}
for _c, _s in LAYOUT:
    KNOWN[_c] |= 1 << _s
    WHAT[_c << 4 | _s] = LAYOUT[_c, _s][0]
del _c, _s


def bits(b, lo, n):
    """Field of n bits from bit lo of limbs b (allocation-free while n <= 30)."""
    v = 0
    got = 0
    while got < n:
        i = lo + got
        off = i % 24
        take = min(24 - off, n - got)
        v |= ((b[i // 24] >> off) & ((1 << take) - 1)) << got
        got += take
    return v


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
