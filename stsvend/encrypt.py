# encrypt.py  the vending side's encryption on CPython: STA (EA07) as byte tables over a
# 64-bit int, the same results as sts/sta.py's Sta.encrypt at a tenth of its time
# sts/sta.py is written for a board (no int above 2**24, one 6 KB table, limbs); a vending
# office encrypts three blocks a meter for a fleet of 650,000, and CPython has big ints. One
# STA round puts each nibble through T1 or T2 (the key's bit chooses) and moves its bits by
# the permutation; both fold into one table per byte position and pair of choices: 8 lookups
# a round, 128 a block. The tables are sts/sta.py's own (_T1, _T2, _P), not a second copy;
# tests/stsvend/test_batch_parts.py holds this encryption to Sta.encrypt's on random keys and
# blocks. MISTY1 keys get sts's own cipher.
from sts import sta
from sts.codec import cipher as _cipher


def _spread(table, pos, v):
    """Where the bits of nibble `pos` land, as a 64-bit int, after `table` substitutes v."""
    s = table[v]
    out = 0
    for bit in range(4):
        if (s >> bit) & 1:
            out |= 1 << sta._P[4 * pos + bit]
    return out


def _byte_tables():
    """[byte position j][choice c0 + 2 * c1][value]: nibble 2j through table c0 (0: T1,
    1: T2), nibble 2j + 1 through table c1, both permuted."""
    subs = (sta._T1, sta._T2)
    out = []
    for j in range(8):
        lo = [[_spread(subs[c], 2 * j, v) for v in range(16)] for c in range(2)]
        hi = [[_spread(subs[c], 2 * j + 1, v) for v in range(16)] for c in range(2)]
        out.append(
            [
                tuple(lo[c0][v & 15] | hi[c1][v >> 4] for v in range(256))
                for c1 in range(2)
                for c0 in range(2)
            ]
        )
    return out


_BYTES = _byte_tables()
# The same tables by any byte v of the working key whose bits 0 and 4 choose them.
_BY_KEY = [[t[(v & 1) | (v >> 3 & 2)] for v in range(256)] for t in _BYTES]
_MASK = (1 << 64) - 1


class Sta:
    """EA07 encryption under one 8-byte decoder key, on limbs as sts.sta.Sta takes them
    ([bits 0..23, 24..47, 48..63], changed in place)."""

    def __init__(self, key):
        if len(key) != 8:
            raise ValueError("STA key is 8 bytes")
        # Round r's working key is rotl(rotr(~K, 12), r): nibble n takes T2 where bit
        # (4n + 3 + 12 - r) % 64 of K is 0 (sts/sta.py's _choices). Three copies of ~K side
        # by side make that rotation a shift: bit 8j of y below chooses the table of byte j's
        # low nibble, bit 8j + 4 its high nibble's.
        k = ~int.from_bytes(key, "big") & _MASK
        k3 = k | k << 64 | k << 128
        rounds = [
            tuple(map(list.__getitem__, _BY_KEY, (k3 >> (79 - r) & _MASK).to_bytes(8, "little")))
            for r in range(16)
        ]
        self._rounds = tuple(rounds)

    def encrypt(self, b):
        """Encrypt limbs b in place."""
        x = b[0] | b[1] << 24 | b[2] << 48
        for t0, t1, t2, t3, t4, t5, t6, t7 in self._rounds:
            c0, c1, c2, c3, c4, c5, c6, c7 = x.to_bytes(8, "little")  # (one call, not 14 ops)
            x = t0[c0] | t1[c1] | t2[c2] | t3[c3] | t4[c4] | t5[c5] | t6[c6] | t7[c7]
        b[0] = x & 0xFFFFFF
        b[1] = x >> 24 & 0xFFFFFF
        b[2] = x >> 48


def cipher(ea, key):
    """A cipher that encrypts (only) under a decoder key: this module's STA, sts's MISTY1."""
    if ea == "sta":
        return Sta(key)
    return _cipher(ea, key)
