# crc.py  CRC-16 of an STS data block (IEC 62055-41: polynomial 0xA001 reflected, init 0xFFFF)
# The CRC covers 7 bytes, most significant first: the class, then block bits 63..16. The
# result is stored with its two bytes swapped in bits 0..15 of the block.
from array import array

from sts.kernels import VIPER


def _table():
    t = array("H", bytes(512))
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t[i] = c
    return t


_T = _table()
_FIELD = VIPER.crc_field if VIPER else None  # bound once: no attribute lookup per token


def crc_of(cls, l0, l1, l2):
    """CRC field (bits 0..15, bytes swapped) for class `cls` and block limbs l0, l1, l2."""
    t = _T
    c = 0xFFFF
    c = (c >> 8) ^ t[(c ^ cls) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l2 >> 8)) & 0xFF]
    c = (c >> 8) ^ t[(c ^ l2) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l1 >> 16)) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l1 >> 8)) & 0xFF]
    c = (c >> 8) ^ t[(c ^ l1) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l0 >> 16)) & 0xFF]
    return ((c & 0xFF) << 8) | (c >> 8)


def matches(cls, b, portable=False):
    """True when bits 0..15 of the plaintext limbs b hold the CRC of class `cls` and the rest.

    Viper's kernel where the port has one; `portable=True` keeps to plain Python (for tests).
    """
    if _FIELD and not portable:
        return _FIELD(_T, cls, b) == b[0] & 0xFFFF
    return crc_of(cls, b[0], b[1], b[2]) == b[0] & 0xFFFF
