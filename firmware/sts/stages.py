# stages.py  one token through every stage of the decoder, as records, for teaching (not on
# the meter's path): `stsvend explain` (stsvend/explain.py) and the classroom page's
# explainer format them
from array import array

from sts import amount, blocks, digits, errors
from sts.crc import crc_of


class Stage:
    """One stage: its name, the number it found (None where there is none), where that
    number sits (first bit and width, in the 66-bit token or the 64-bit block; None where
    it is not one place), the decoder's words for it, and for a check the value computed."""

    def __init__(self, name, value=None, lo=None, width=None, words="", want=None):
        self.name = name
        self.value = value
        self.lo = lo
        self.width = width
        self.words = words
        self.want = want

    def as_dict(self):
        return {
            "stage": self.name,
            "value": self.value,
            "bit": self.lo,
            "width": self.width,
            "words": self.words,
        }

    def __repr__(self):
        return "Stage(%r, %r, %r, %r, %r)" % (
            self.name,
            self.value,
            self.lo,
            self.width,
            self.words,
        )


def _block(b):
    return b[0] | b[1] << 24 | b[2] << 48


def _refused(code, words=None):
    return Stage("refused", code, words=words or errors.NAMES[code])


def stages(token, cipher, ea=""):
    """[Stage] from the digits to the fields; stops where the token is refused.
    `cipher` decrypts classes 0 and 2 (an Sta or Misty1 under the meter's key)."""
    token = token.replace(" ", "").replace("-", "")
    st = [Stage("digits", words=token)]
    b = array("I", bytes(12))
    cls = digits.parse(token, b)
    if cls < 0:
        return st + [_refused(-cls)]
    n = int(token)
    st.append(Stage("66 bits", n, 0, 66, "{:066b}".format(n)))
    st.append(
        Stage("class bits", cls, 27, 2, "bits 28,27 = %d%d -> class %d" % (cls >> 1, cls & 1, cls))
    )
    st.append(
        Stage(
            "transposition",
            n >> 64,
            64,
            2,
            "bits 65,64 (%d%d) go back to block bits 28,27" % ((n >> 65) & 1, (n >> 64) & 1),
        )
    )
    if cls == 3:
        return st + [_refused(errors.UNKNOWN_CLASS)]
    st.append(Stage("cipher block", _block(b), 0, 64, "%016x" % _block(b)))
    if cls == 1:
        words = "%016x (class 1 is not encrypted)" % _block(b)
    else:
        cipher.decrypt(b)
        words = "%016x (%s under the decoder key)" % (_block(b), ea.upper())
    st.append(Stage("plaintext", _block(b), 0, 64, words))
    want = crc_of(cls, b[0], b[1], b[2])
    have = b[0] & 0xFFFF
    verdict = "match" if have == want else "MISMATCH"
    st.append(
        Stage("CRC", have, 0, 16, "stored %04x, computed %04x: %s" % (have, want, verdict), want)
    )
    if have != want:
        return st + [_refused(errors.BAD_CRC)]
    sub = b[2] >> 12
    if not (blocks.KNOWN[cls] >> sub) & 1:
        return st + [_refused(errors.UNKNOWN_SUBCLASS, "UNKNOWN_SUBCLASS %d" % sub)]
    what = blocks.LAYOUT[(cls, sub)]
    st.append(
        Stage("token", cls << 4 | sub, 60, 4, "class %d subclass %d: %s" % (cls, sub, what[0]))
    )
    f = blocks.fields(cls, b)
    for name, lo, width in what[1]:
        v = f[name]
        st.append(
            Stage("field " + name, v, lo, width, "%d (bits %d..%d)" % (v, lo, lo + width - 1))
        )
    if cls == 0:
        t = amount.decode(f["amount"])
        st.append(Stage("amount", t, 16, 16, "%s units" % amount.text(t)))
    return st
