# amount.py  the 16-bit transfer amount: 2-bit exponent (bits 15..14), 14-bit mantissa
# Value in tenths of a unit: m * 10**e plus the sum of 2**14 * 10**(i - 1) for i in 1..e, so
# the four ranges join without a gap or an overlap. The largest value is 18201624.
MAX_TENTHS = 18201624
_SCALE = (1, 10, 100, 1000)
_OFFSET = (0, 16384, 180224, 1818624)


def text(tenths):
    """Tenths as a person reads them: "12.5"."""
    return "%d.%d" % (tenths // 10, tenths % 10)


def decode(raw):
    """Tenths of a unit encoded by the raw 16-bit amount."""
    e = raw >> 14
    return (raw & 0x3FFF) * _SCALE[e] + _OFFSET[e]


def encode(tenths):
    """Raw amount for a request in tenths, rounded up (in the customer's favour)."""
    if tenths < 0 or tenths > MAX_TENTHS:
        raise ValueError("amount out of range 0..%d tenths" % MAX_TENTHS)
    for e in range(4):
        top = 0x3FFF * _SCALE[e] + _OFFSET[e]
        if tenths <= top:
            m = (tenths - _OFFSET[e] + _SCALE[e] - 1) // _SCALE[e]
            return (e << 14) | m
