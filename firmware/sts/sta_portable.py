# sta_portable.py  EA07 in plain Python: the viper kernel's portable twin, and encryption
# For ports without viper (CPython, the WebAssembly page), for tests, and for the vending side,
# which encrypts: a meter with viper never imports it (sta.py). Its tables, 6 KB each as three
# limbs an entry, are made on first use: index ((pos * 2 + slot) * 16 + value) * 3 + limb.
from array import array

from sts.sta import _P, _T1, _T2, _choices


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
    """ "dec" (decryption's) or "enc" (encryption's), made on first use."""
    t = _TABLES.get(name)
    if t is None:
        if name == "enc":
            t = _spread(_T1, _T2, _P)
        else:
            t = _spread(_INV[:16], _INV[16:], _inverse(_P))
        _TABLES[name] = t
    return t


def dec_keys(ch):
    """Decryption's offsets for a key's table choices `ch`: it first puts every nibble
    through T1, so that a round of T1-inverse gives the bare inverse permutation of round 15;
    then rounds 15..1 (each round's inverse substitution folded with the previous round's
    inverse permutation); then round 0's inverse substitution alone (the second value). The
    array is sized from a range, which makes no 512-byte temporary; every entry is written."""
    dec = array("H", range(256))
    for n in range(16):
        dec[n] = n * 2 * 48
        for r in range(1, 16):
            dec[(16 - r) * 16 + n] = (n * 2 + ch[r * 16 + n]) * 48
    return dec, bytes(16 * c for c in ch[:16])


def decrypt(sta, b):
    """Decrypt limbs b in place under the key of `sta` (an Sta made with dec_keys)."""
    _sub(_FWD, _ZERO, b)
    _rounds(_table("dec"), sta._dec, b)
    _sub(_INV, sta._uk, b)


def encrypt(sta, b):
    """Encrypt limbs b in place under the key of `sta` (rounds 0..15)."""
    if sta._enc is None:
        ch = _choices(sta._key)
        enc = array("H", range(256))
        for i in range(256):
            enc[i] = ((i & 15) * 2 + ch[i]) * 48
        sta._enc = enc
    _rounds(_table("enc"), sta._enc, b)


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
