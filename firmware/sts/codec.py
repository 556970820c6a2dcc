# codec.py  20 digits -> a verified data block and back: the one path every token takes
from array import array

from sts import digits, errors
from sts.crc import matches
from sts.kinds import KNOWN

# The encryption algorithms by their profile names, with their EA codes (IEC 62055-41).
EA = {"sta": 7, "misty1": 11}


def cipher_class(ea):
    """The cipher class of an encryption algorithm, its module imported only now: a meter
    holds the tables of its own algorithm and never the other's (STA's 4 KB, MISTY1's 1 KB
    and code: a 64 KB heap counts them)."""
    if ea == "sta":
        from sts.sta import Sta

        return Sta
    if ea == "misty1":
        from sts.misty1 import Misty1

        return Misty1
    raise ValueError("ea: 'sta' (EA07) or 'misty1' (EA11), got %r" % (ea,))


def cipher(ea, key):
    """The cipher of an encryption algorithm under a decoder key."""
    return cipher_class(ea)(key)


class Decoder:
    """Decodes tokens for one meter: `cipher` is an Sta or Misty1 under its decoder key.

    After decode() returns errors.OK, `cls`, `subclass` and the plaintext limbs `block`
    describe the token. Where the port has viper nothing is allocated per token (bytes or
    str); the portable path allocates only to encode a str.
    """

    def __init__(self, cipher):
        self.cipher = cipher
        self.block = array("I", bytes(12))
        self.cls = 0
        self.subclass = 0

    def decode(self, token):
        b = self.block
        cls = digits.parse(token, b)
        if cls < 0:
            return -cls
        if cls == 3:
            return errors.UNKNOWN_CLASS
        if cls != 1:  # class 1 (test/display) travels in the clear
            self.cipher.decrypt(b)
        if not matches(cls, b):
            return errors.BAD_CRC
        sub = b[2] >> 12
        if not (KNOWN[cls] >> sub) & 1:
            return errors.UNKNOWN_SUBCLASS
        self.cls = cls
        self.subclass = sub
        return errors.OK
