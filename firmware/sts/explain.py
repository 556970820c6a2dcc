# explain.py  one token through every stage of the decoder, for teaching (not on the meter's
# path): the vending CLI's `explain` and the classroom page both show these stages
from array import array

from sts import amount, blocks, digits, errors
from sts.crc import crc_of


def _hex(b):
    return "%016x" % (b[0] | b[1] << 24 | b[2] << 48)


def stages(token, cipher, ea=""):
    """(name, value) pairs from the digits to the fields; stops where the token is refused.
    `cipher` decrypts classes 0 and 2 (an Sta or Misty1 under the meter's key)."""
    token = token.replace(" ", "").replace("-", "")
    st = [("digits", token)]
    b = array("I", bytes(12))
    cls = digits.parse(token, b)
    if cls < 0:
        return st + [("refused", errors.NAMES[-cls])]
    n = int(token)
    st.append(("66 bits", "{:066b}".format(n)))
    st.append(("class bits", "bits 28,27 = %d%d -> class %d" % (cls >> 1, cls & 1, cls)))
    st.append(
        (
            "transposition",
            "bits 65,64 (%d%d) go back to block bits 28,27" % ((n >> 65) & 1, (n >> 64) & 1),
        )
    )
    if cls == 3:
        return st + [("refused", "UNKNOWN_CLASS")]
    st.append(("cipher block", _hex(b)))
    if cls == 1:
        st.append(("plaintext", _hex(b) + " (class 1 is not encrypted)"))
    else:
        cipher.decrypt(b)
        st.append(("plaintext", "%s (%s under the decoder key)" % (_hex(b), ea.upper())))
    want = crc_of(cls, b[0], b[1], b[2])
    have = b[0] & 0xFFFF
    verdict = "match" if have == want else "MISMATCH"
    st.append(("CRC", "stored %04x, computed %04x: %s" % (have, want, verdict)))
    if have != want:
        return st + [("refused", "BAD_CRC")]
    sub = b[2] >> 12
    if not (blocks.KNOWN[cls] >> sub) & 1:
        return st + [("refused", "UNKNOWN_SUBCLASS %d" % sub)]
    st.append(("token", "class %d subclass %d: %s" % (cls, sub, blocks.LAYOUT[(cls, sub)][0])))
    f = blocks.fields(cls, b)
    for name, lo, width in blocks.LAYOUT[(cls, sub)][1]:
        st.append(("field " + name, "%d (bits %d..%d)" % (f[name], lo, lo + width - 1)))
    if cls == 0:
        t = amount.decode(f["amount"])
        st.append(("amount", "%d.%d units" % (t // 10, t % 10)))
    return st
