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
