# kinds.py  the kinds of token a meter knows, by (class, subclass), and how to read a field
# What the meter's own path needs, and no more: the named field layouts (blocks.py) are for
# building and explaining tokens, and a meter never loads them (a 64 KB heap counts them).
# WHAT[class << 4 | subclass] names the token; KNOWN[class] has bit `subclass` set for each
# (a test that allocates nothing). Class 0 currency subclasses 4..7 use another CRC in the
# standard and are left out (UNKNOWN_SUBCLASS).
WHAT = {
    0x00: "electricity credit",
    0x01: "water credit",
    0x02: "gas credit",
    0x03: "time credit",
    0x10: "test/display 1",
    0x11: "test/display 2",
    0x20: "set max power limit",
    0x21: "clear credit",
    0x22: "set tariff rate",
    0x23: "key change 1st section",
    0x24: "key change 2nd section",
    0x25: "clear tamper",
    0x26: "set max phase power unbalance",
    0x27: "set water meter factor",
    0x28: "key change 3rd section",
    0x29: "key change 4th section",
}
KNOWN = [0, 0, 0, 0]
for _k in WHAT:
    KNOWN[_k >> 4] |= 1 << (_k & 15)
del _k

# Where each field sits in a data block, as first bit << 8 | width: the one home of the layout
# (blocks.LAYOUT names these for building and explaining tokens; a meter reads them with
# field()). Small ints: no allocation to read one.
AMOUNT = 16 << 8 | 16  # class 0: the amount; class 2 registers: REGISTER, the same bits
REGISTER = AMOUNT
TID = 32 << 8 | 24
RND = 56 << 8 | 4
MFR1 = 16 << 8 | 8  # test/display subclass 1's manufacturer code and control
CONTROL1 = 24 << 8 | 36
MFR2 = 16 << 8 | 16  # test/display subclass 2's
CONTROL2 = 32 << 8 | 28
NK = 16 << 8 | 32  # a key change section's part of the new key (NKHO, NKLO, NKMO2, NKMO1)
KT = 48 << 8 | 2  # section 3 (first)
RES = 50 << 8 | 1
RO = 51 << 8 | 1
KRN = 52 << 8 | 4
KENHO = 56 << 8 | 4
TI = 48 << 8 | 8  # section 4 (second)
KENLO = 56 << 8 | 4
SGC12 = 48 << 8 | 12  # sections 8 and 9 (MISTY1): the SGC's low and high 12 bits
# Class 2 subclasses whose register carries watts, coded like a transfer amount (bit per
# subclass): max power limit (0) and max phase power unbalance limit (6).
WATTS = 1 << 0 | 1 << 6
NEXT_BASE = {1993: 2014, 2014: 2035}  # a rollover's next base date (none after 2035)


def field(b, where):
    """The field at `where` (one of the positions above) of limbs b."""
    return bits(b, where >> 8, where & 255)


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
