# sta.py  EA07, the Standard Transfer Algorithm (IEC 62055-41, the classic STS cipher)
# A block travels as three limbs (bits 0..23, 24..47, 48..63) so that no int exceeds 2**24
# and a decrypt allocates nothing, on 32-bit boards too. One round is a key-selected nibble
# substitution and a bit permutation; both are folded into one table per nibble position:
# entry (position, table, value) holds where that nibble's bits land: as three limbs for the
# portable path, as two 32-bit words for the viper kernel (two tables of 2 KB, not one of
# 6 KB: two halves find room where one block may not). A meter with viper builds only those,
# at import; the portable path's on first use.
from array import array

from sts.kernels import VIPER

_T1 = b"\x0e\x0a\x07\x09\x0c\x03\x02\x05\x0d\x00\x0f\x01\x04\x08\x06\x0b"
_T2 = b"\x0c\x08\x02\x0d\x07\x06\x01\x03\x0b\x05\x09\x0f\x00\x04\x0a\x0e"
# P[i]: where bit i goes. These are the tables vending systems use (see vectors/README.md),
# not the "sample" tables printed in the standard's text.
# (a table: 64 numbers on 3 lines, not 64 lines, so the formatter leaves it)
# fmt: off
_P = bytes((55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50, 6, 36, 12, 61, 37,
            38, 53, 16, 62, 3, 7, 4, 32, 20, 63, 25, 51, 52, 54, 33, 49, 19, 46, 29, 48, 31,
            23, 30, 41, 28, 13, 5, 40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26))
# fmt: on


def _inverse(t):
    r = bytearray(len(t))
    for i, v in enumerate(t):
        r[v] = i
    return bytes(r)


_FWD = _T1 + _T2  # nibble tables side by side: offset 0 for T1, 16 for T2
_INV = _inverse(_T1) + _inverse(_T2)
_ZERO = bytes(16)  # every nibble through T1


def _spread(sub1, sub2, perm):
    """Index ((pos * 2 + slot) * 16 + value) * 3 + limb; slot 0: table sub1, 1: sub2."""
    n = 16 * 2 * 16 * 3
    out = array("I", range(n))  # sized from range's len: one 6 KB block, no 6 KB of bytes
    for i in range(n):  # to copy from first (that doubled the peak at import)
        out[i] = 0
    for pos in range(16):
        for slot in range(2):
            for v in range(16):
                s = (sub1[v], sub2[v])[slot]
                i = ((pos * 2 + slot) * 16 + v) * 3
                for bit in range(4):
                    if (s >> bit) & 1:
                        d = perm[4 * pos + bit]
                        out[i + d // 24] |= 1 << (d % 24)
    return out


_TABLES = {}


def _table(name):
    # The viper kernel's two halves are made at import (below), while a board's heap is
    # still unfragmented: made at personalisation, after a provisioning file was parsed,
    # even 2 KB found no room in the soak's heap. The rest on first use: a meter with viper
    # never builds the portable path's 6 KB, nor encryption's.
    t = _TABLES.get(name)
    if t is None:
        if name == "enc":
            t = _spread(_T1, _T2, _P)
        elif name == "dec":
            t = _spread(_INV[:16], _INV[16:], _inverse(_P))
        else:  # "lo", "hi": the viper kernel's
            t = _half(_INV[:16], _INV[16:], _inverse(_P), 32 if name == "hi" else 0)
        _TABLES[name] = t
    return t


def _half(sub1, sub2, perm, first):
    """Half the viper kernel's table: entry ((pos * 2 + slot) * 16 + value) as 4 bytes, a
    little-endian 32-bit word of block bits first..first + 31; 2 KB, the low half followed
    by _SB. Built a byte at a time, so that no int passes 2**30 on a 32-bit board."""
    out = bytearray(16 * 2 * 16 * 4 + (48 if first == 0 else 0))
    out[2048:] = _SB
    for pos in range(16):
        for slot in range(2):
            for v in range(16):
                s = (sub1[v], sub2[v])[slot]
                i = ((pos * 2 + slot) * 16 + v) * 4
                for bit in range(4):
                    if (s >> bit) & 1:
                        d = perm[4 * pos + bit] - first
                        if 0 <= d < 32:
                            out[i + (d >> 3)] |= 1 << (d & 7)
    return out


_SB = _T1 + _INV  # the viper kernel's nibble tables: T1, T1 inverse, T2 inverse
if VIPER:
    _table("lo")
    _table("hi")


def _choices(key):
    """For rounds 0..15 and nibbles 0..15: 1 where table T2 is used, else 0."""
    # Working key of round r is rotl(rotr(~K, 12), r): its bit i is bit (i + 12 - r) % 64 of ~K.
    ch = bytearray(256)
    for r in range(16):
        for n in range(16):
            j = (4 * n + 3 + 12 - r) % 64
            ch[r * 16 + n] = 1 - ((key[7 - (j >> 3)] >> (j & 7)) & 1)
    return ch


def _offsets(ch):
    """The viper kernel's offsets, as bytes (272: the key's only allocation): half the word
    offset of each table row that round 15 (T1 inverse, after the kernel put every nibble
    through T1), rounds 14..1 read, then where in _SB round 0's inverse substitution of
    each nibble is."""
    ks = bytearray(272)
    for n in range(16):
        ks[n] = n * 2 * 8
        for r in range(1, 16):
            ks[(16 - r) * 16 + n] = (n * 2 + ch[r * 16 + n]) * 8
        ks[256 + n] = 16 + 16 * ch[n]
    return ks


class Sta:
    """EA07 under one 8-byte decoder key (big-endian, as DKGA02/DKGA04 produce it).

    Blocks are limbs b = [bits 0..23, 24..47, 48..63] (a list or an array('I')), changed in
    place. `portable=True` keeps to plain Python where viper is available too (for tests).
    """

    def __init__(self, key, portable=False):
        if len(key) != 8:
            raise ValueError("STA key is 8 bytes")
        self._key = bytes(key)
        ch = _choices(key)
        # Table offsets in the order the rounds read them, premultiplied, for the viper
        # kernel or the portable path (only the one that runs). Encryption reads rounds
        # 0..15 (`_enc`, made on the first encrypt: a meter only decrypts). Decryption folds
        # each round's inverse substitution with the previous round's inverse permutation:
        # it first puts every nibble through T1, so that a round of T1-inverse gives the bare
        # inverse permutation of round 15; then rounds 15..1; then round 0's inverse
        # substitution alone (`_uk`). Arrays are sized from a range, which makes no 512-byte
        # temporary; every entry is written.
        self._v = v = None if portable else VIPER
        self._enc = None
        if v:
            self._ks = _offsets(ch)
            _table("lo")
            _table("hi")
            return
        dec = array("H", range(256))
        for n in range(16):
            dec[n] = n * 2 * 48
            for r in range(1, 16):
                dec[(16 - r) * 16 + n] = (n * 2 + ch[r * 16 + n]) * 48
        self._dec = dec
        self._uk = bytes(16 * c for c in ch[:16])

    def encrypt(self, b):
        """Encrypt limbs b in place."""
        if self._enc is None:
            ch = _choices(self._key)
            enc = array("H", range(256))
            for i in range(256):
                enc[i] = ((i & 15) * 2 + ch[i]) * 48
            self._enc = enc
        _rounds(_table("enc"), self._enc, b)  # the vending side's: no viper twin

    def decrypt(self, b):
        """Decrypt limbs b in place."""
        v = self._v
        if v:
            v.sta_decrypt(_TABLES["lo"], _TABLES["hi"], self._ks, b)
            return
        _sub(_FWD, _ZERO, b)
        _rounds(_table("dec"), self._dec, b)
        _sub(_INV, self._uk, b)


def _rounds(t, ks, b):
    k = 0
    for _ in range(16):
        p = q = s = 0
        for limb in range(3):
            x = b[limb]
            for _ in range(4 if limb == 2 else 6):
                i = ks[k] + (x & 15) * 3
                p |= t[i]
                q |= t[i + 1]
                s |= t[i + 2]
                x >>= 4
                k += 1
        b[0] = p
        b[1] = q
        b[2] = s


def _sub(table, uk, b):
    """Nibble n of the limbs b through table[uk[n]:uk[n] + 16]."""
    k = 0
    for limb in range(3):
        x = b[limb]
        out = 0
        for sh in range(0, 16 if limb == 2 else 24, 4):
            out |= table[uk[k] + ((x >> sh) & 15)] << sh
            k += 1
        b[limb] = out
