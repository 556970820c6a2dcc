# _viper.py  the decode path's inner loops as machine code (MicroPython's viper emitter)
# Imported only where the port has viper (not under CPython, not in WebAssembly); each
# kernel has a portable twin in digits.py / crc.py / sta.py / misty1.py, and tests check the
# two agree. Viper works on machine words: 64 bits on the unix port, 32 on a board. So every
# kernel keeps every value below 2**31 (limbs of 24 bits or less, bounds in the comments):
# what passes on the PC is then what runs on a Pico, with no wrap-around on either. The one
# exception, sta_decrypt, holds the block as two 32-bit words and touches them with bitwise
# operations only, each shift right masked: bit 31 and above never reach a result (tested
# with a board's wrapping words and the PC's wide ones alike).
import micropython
from micropython import const

_NOT_DIGIT = const(2)  # errors.NOT_DIGIT
_TOO_LARGE = const(3)  # errors.TOO_LARGE


@micropython.viper
def parse(s: ptr8, b: ptr32) -> int:
    """digits.parse's twin: 20 bytes s (the caller checked the length) -> the token class,
    the encrypted block in limbs b; or minus NOT_DIGIT / TOO_LARGE, b untouched."""
    # n = n * 100 + two digits, on three 24-bit limbs (n = v0 + v1 << 24 + v2 << 48). Before
    # each step v0, v1 < 2**24, so v0 * 100 + 99 and v1 * 100 + (v0 >> 24) stay below
    # 100 * 2**24 + 100 < 2**31; v2 is n >> 48 with n < 10**20 < 2**67, below 2**19. No word
    # reaches bit 31, so the signed ints never overflow: the same on a 32-bit board as on
    # the 64-bit PC, with no mask needed beyond the limbs' own.
    v0 = 0
    v1 = 0
    v2 = 0
    i = 0
    while i < 20:
        hi = s[i] - 48  # a byte 0..255: hi, lo in -48..207, signed
        lo = s[i + 1] - 48
        if hi < 0 or hi > 9 or lo < 0 or lo > 9:  # a non-ASCII str's UTF-8 bytes too
            return -_NOT_DIGIT
        v0 = v0 * 100 + hi * 10 + lo
        v1 = v1 * 100 + (v0 >> 24)
        v0 &= 0xFFFFFF
        v2 = v2 * 100 + (v1 >> 24)
        v1 &= 0xFFFFFF
        i += 2
    if v2 >> 18:
        return -_TOO_LARGE
    # Token bits 28, 27 are the class; token bits 65, 64 are the block's bits 28, 27.
    b[0] = v0
    b[1] = (v1 & 0xFFFFE7) | (((v2 >> 16) & 3) << 3)
    b[2] = v2 & 0xFFFF
    return (v1 >> 3) & 3


@micropython.viper
def crc_field(t: ptr16, cls: int, b: ptr32) -> int:
    """crc.crc_of's twin: the CRC field of class cls and block limbs b, from table t."""
    l0 = b[0]
    l1 = b[1]
    l2 = b[2]
    c = 0xFFFF  # c stays below 2**16: table entries are 16-bit, c >> 8 below 2**8
    c = (c >> 8) ^ t[(c ^ cls) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l2 >> 8)) & 0xFF]
    c = (c >> 8) ^ t[(c ^ l2) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l1 >> 16)) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l1 >> 8)) & 0xFF]
    c = (c >> 8) ^ t[(c ^ l1) & 0xFF]
    c = (c >> 8) ^ t[(c ^ (l0 >> 16)) & 0xFF]
    return ((c & 0xFF) << 8) | (c >> 8)


@micropython.viper
def sta_decrypt(tl: ptr32, th: ptr32, ks: ptr8, b: ptr32):
    """EA07 decryption of the limbs b, all in one call (sta.py's Sta.decrypt is its twin).

    tl, th: sta.py's viper tables, entry (position, slot, value) the low and the high 32-bit
    word of the block (2 KB each: two halves find room where one 4 KB block may not);
    ks: the key's 256 rows the rounds read, in order, as half their word offsets (bytes),
    then the final substitution's 16 offsets into sb, which follows tl's 2 KB: T1, then
    T1 and T2 inverted (16 bytes each).

    Inside, the block is two 32-bit words: on a board bit 31 makes them negative, so
    every shift right is followed by a mask below bit 4 and only bitwise operations
    (|, &, <<, >>) touch them; what reaches b is masked to its limb. The same words on
    the 64-bit unix port, with the bits above 31 zero (loads are zero-extended there).
    Fully unrolled over the nibbles: on a Cortex-M0 a loop's counters and the int
    arithmetic of table indices cost more than the lookups themselves."""
    l1 = b[1]
    lo = b[0] | ((l1 & 0xFF) << 24)
    hi = (l1 >> 8) | (b[2] << 16)
    k = uint(ks)
    sb = ptr8(uint(tl) + 2048)
    # round 15: every nibble through T1 first, so that the T1-inverse row gives P^-1 alone
    p = 0
    q = 0
    o = (ks[0] << 1) + sb[lo & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[1] << 1) + sb[(lo >> 4) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[2] << 1) + sb[(lo >> 8) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[3] << 1) + sb[(lo >> 12) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[4] << 1) + sb[(lo >> 16) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[5] << 1) + sb[(lo >> 20) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[6] << 1) + sb[(lo >> 24) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[7] << 1) + sb[(lo >> 28) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[8] << 1) + sb[hi & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[9] << 1) + sb[(hi >> 4) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[10] << 1) + sb[(hi >> 8) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[11] << 1) + sb[(hi >> 12) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[12] << 1) + sb[(hi >> 16) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[13] << 1) + sb[(hi >> 20) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[14] << 1) + sb[(hi >> 24) & 15]
    p |= tl[o]
    q |= th[o]
    o = (ks[15] << 1) + sb[(hi >> 28) & 15]
    p |= tl[o]
    q |= th[o]
    lo = p
    hi = q
    r = 1
    while r < 16:  # rounds 14..0: inverse substitution, then inverse permutation
        ks = ptr8(k + (r << 4))
        p = 0
        q = 0
        o = (ks[0] << 1) + (lo & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[1] << 1) + ((lo >> 4) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[2] << 1) + ((lo >> 8) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[3] << 1) + ((lo >> 12) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[4] << 1) + ((lo >> 16) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[5] << 1) + ((lo >> 20) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[6] << 1) + ((lo >> 24) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[7] << 1) + ((lo >> 28) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[8] << 1) + (hi & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[9] << 1) + ((hi >> 4) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[10] << 1) + ((hi >> 8) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[11] << 1) + ((hi >> 12) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[12] << 1) + ((hi >> 16) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[13] << 1) + ((hi >> 20) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[14] << 1) + ((hi >> 24) & 15)
        p |= tl[o]
        q |= th[o]
        o = (ks[15] << 1) + ((hi >> 28) & 15)
        p |= tl[o]
        q |= th[o]
        lo = p
        hi = q
        r += 1
    ks = ptr8(k + 256)
    p = 0
    q = 0
    p |= sb[ks[0] + (lo & 15)]
    p |= sb[ks[1] + ((lo >> 4) & 15)] << 4
    p |= sb[ks[2] + ((lo >> 8) & 15)] << 8
    p |= sb[ks[3] + ((lo >> 12) & 15)] << 12
    p |= sb[ks[4] + ((lo >> 16) & 15)] << 16
    p |= sb[ks[5] + ((lo >> 20) & 15)] << 20
    p |= sb[ks[6] + ((lo >> 24) & 15)] << 24
    p |= sb[ks[7] + ((lo >> 28) & 15)] << 28
    q |= sb[ks[8] + (hi & 15)]
    q |= sb[ks[9] + ((hi >> 4) & 15)] << 4
    q |= sb[ks[10] + ((hi >> 8) & 15)] << 8
    q |= sb[ks[11] + ((hi >> 12) & 15)] << 12
    q |= sb[ks[12] + ((hi >> 16) & 15)] << 16
    q |= sb[ks[13] + ((hi >> 20) & 15)] << 20
    q |= sb[ks[14] + ((hi >> 24) & 15)] << 24
    q |= sb[ks[15] + ((hi >> 28) & 15)] << 28
    b[0] = p & 0xFFFFFF
    b[1] = ((p >> 24) & 0xFF) | ((q & 0xFFFF) << 8)
    b[2] = (q >> 16) & 0xFFFF


@micropython.viper
def misty1_decrypt(s9: ptr16, s7: ptr8, s: ptr16, b: ptr32):
    """MISTY1 decryption of the limbs b with the decryption-ordered schedule s."""
    l0 = b[0]
    l1 = b[1]
    c0 = b[2]
    c1 = l1 >> 8
    a0 = ((l1 & 0xFF) << 8) | (l0 >> 16)
    a1 = l0 & 0xFFFF
    o = 0
    r = 0
    while True:
        a0 ^= a1 | s[o + 1]  # FLINV on both halves
        a1 ^= a0 & s[o]
        c0 ^= c1 | s[o + 3]
        c1 ^= c0 & s[o + 2]
        o += 4
        if r == 4:
            break
        j = 0
        while j < 2:  # FO of one half into the other
            if j == 0:
                u = c0
                v = c1
            else:
                u = a0
                v = a1
            m = 0
            while m < 3:
                x = u ^ s[o]
                k = s[o + 1]
                d9 = s9[x >> 7] ^ (x & 0x7F)
                d7 = ((s7[x & 0x7F] ^ d9) & 0x7F) ^ (k >> 9)
                d9 = s9[d9 ^ (k & 0x1FF)] ^ d7
                x = ((d7 << 9) | d9) ^ v
                u = v
                v = x
                o += 2
                m += 1
            u ^= s[o]
            o += 1
            if j == 0:
                a0 ^= u
                a1 ^= v
            else:
                c0 ^= u
                c1 ^= v
            j += 1
        r += 1
    b[0] = ((c0 & 0xFF) << 16) | c1
    b[1] = (a1 << 8) | (c0 >> 8)
    b[2] = a0
