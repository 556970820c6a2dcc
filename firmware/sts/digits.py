# digits.py  20 decimal digits <-> the 66-bit token number, and the class-bit transposition
# Before the decimal conversion the two class bits are swapped with bits 28 and 27 of the
# encrypted block; those block bits ride in bits 65 and 64 of the token number.
from sts import errors
from sts.kernels import VIPER

_PARSE = VIPER.parse if VIPER else None  # bound once: no attribute lookup per token


def parse(s, b, portable=False):
    """Digits (bytes or str) -> the token class 0..3, with the encrypted block in limbs b.

    A negative result is minus the errors code saying why the digits are not a token (an
    int, not a tuple, so that the meter's decode path allocates nothing). Viper's kernel
    where the port has one (a str read as its UTF-8 bytes, not encoded: no allocation);
    `portable=True` keeps to plain Python (for tests).
    """
    if len(s) != 20:
        return -errors.BAD_LENGTH
    if _PARSE and not portable:
        return _PARSE(s, b)
    if isinstance(s, str):
        # 20 characters checked above; a non-ASCII one makes more than 20 bytes: NOT_DIGIT.
        try:
            s = s.encode()
        except UnicodeError:  # a lone surrogate (CPython)
            return -errors.NOT_DIGIT
        if len(s) != 20:
            return -errors.NOT_DIGIT
    v0 = v1 = v2 = 0
    for c in s:
        d = c - 48
        if d < 0 or d > 9:
            return -errors.NOT_DIGIT
        v0 = v0 * 10 + d
        v1 = v1 * 10 + (v0 >> 24)
        v0 &= 0xFFFFFF
        v2 = v2 * 10 + (v1 >> 24)
        v1 &= 0xFFFFFF
    if v2 >> 18:
        return -errors.TOO_LARGE
    cls = (v1 >> 3) & 3
    b[0] = v0
    b[1] = (v1 & 0xFFFFE7) | (((v2 >> 16) & 3) << 3)
    b[2] = v2 & 0xFFFF
    return cls


def format(cls, b):
    """The 20 digits of class `cls` and encrypted block limbs b (not on the meter's path)."""
    v1 = (b[1] & 0xFFFFE7) | (cls << 3)
    v2 = b[2] | (((b[1] >> 3) & 3) << 16)
    n = b[0] + (v1 << 24) + (v2 << 48)
    s = str(n)
    return "0" * (20 - len(s)) + s


def grouped(s):
    """Digits in groups of four, as a token is printed and typed: "0000 0000 0087 ..."."""
    return " ".join(s[i : i + 4] for i in range(0, len(s), 4))
