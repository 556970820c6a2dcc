# _viper.py  the ciphers' inner loops as machine code (MicroPython's viper emitter)
# Imported only where the port has viper (not under CPython, not in WebAssembly); each
# kernel has a portable twin in sta.py / misty1.py and tests check the two agree.
import micropython


@micropython.viper
def sta_rounds(t: ptr32, ks: ptr16, b: ptr32):
    """16 STA rounds over the limbs b, reading the 256 table offsets ks in order."""
    k = 0
    while k < 256:
        p = 0
        q = 0
        s = 0
        limb = 0
        while limb < 3:
            x = b[limb]
            n = 4 if limb == 2 else 6
            while n > 0:
                i = ks[k] + (x & 15) * 3
                p |= t[i]
                q |= t[i + 1]
                s |= t[i + 2]
                x >>= 4
                k += 1
                n -= 1
            limb += 1
        b[0] = p
        b[1] = q
        b[2] = s


@micropython.viper
def sta_sub(table: ptr8, uk: ptr8, b: ptr32):
    """Nibble n of the limbs b through table[uk[n]:uk[n] + 16]."""
    k = 0
    limb = 0
    while limb < 3:
        x = b[limb]
        out = 0
        sh = 0
        n = 4 if limb == 2 else 6
        while n > 0:
            out |= table[uk[k] + ((x >> sh) & 15)] << sh
            sh += 4
            k += 1
            n -= 1
        b[limb] = out
        limb += 1


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
