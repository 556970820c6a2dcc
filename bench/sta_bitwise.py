# sta_bitwise.py  EA07 written bit by bit from the vectors README: the benchmark's baseline
# Deliberately naive (one 64-bit int, one bit at a time); never imported by the firmware.

T1 = (14, 10, 7, 9, 12, 3, 2, 5, 13, 0, 15, 1, 4, 8, 6, 11)
T2 = (12, 8, 2, 13, 7, 6, 1, 3, 11, 5, 9, 15, 0, 4, 10, 14)
# (a table: 64 numbers on 3 lines, not 64 lines, so the formatter leaves it)
# fmt: off
P = (55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50, 6, 36, 12, 61, 37, 38, 53,
     16, 62, 3, 7, 4, 32, 20, 63, 25, 51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28,
     13, 5, 40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26)
# fmt: on
M64 = (1 << 64) - 1


def _inv(t):
    r = [0] * len(t)
    for i, v in enumerate(t):
        r[v] = i
    return r


T1I = _inv(T1)
T2I = _inv(T2)


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & M64


def _rotl(x, n):
    return ((x << n) | (x >> (64 - n))) & M64


def encrypt(block, key):
    k = _rotr(key ^ M64, 12)
    for _ in range(16):
        s = 0
        for n in range(16):
            v = (block >> (4 * n)) & 15
            t = T2 if (k >> (4 * n + 3)) & 1 else T1
            s |= t[v] << (4 * n)
        block = 0
        for i in range(64):
            if (s >> i) & 1:
                block |= 1 << P[i]
        k = _rotl(k, 1)
    return block


def decrypt(block, key):
    k = _rotl(_rotr(key ^ M64, 12), 16)
    for _ in range(16):
        k = _rotr(k, 1)
        s = 0
        for i in range(64):
            if (block >> P[i]) & 1:
                s |= 1 << i
        block = 0
        for n in range(16):
            v = (s >> (4 * n)) & 15
            t = T2I if (k >> (4 * n + 3)) & 1 else T1I
            block |= t[v] << (4 * n)
    return block
