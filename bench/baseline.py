# baseline.py  a straightforward decode: one big int, STA bit by bit (sta_bitwise.py)
# The yardstick for bench/run.py: the codec's figures are reported as ratios to this one.
import sta_bitwise

M64 = (1 << 64) - 1


def crc16(data):
    c = 0xFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def decode(digits, key):
    """Digits -> (class, subclass, tid, amount) or None, the plain way."""
    n = int(digits)
    if len(digits) != 20 or n >> 66:
        return None
    cls = (n >> 27) & 3
    e = n & M64 & ~(3 << 27)
    e |= ((n >> 64) & 3) << 27
    p = sta_bitwise.decrypt(e, key)
    data = ((cls << 48) | (p >> 16)).to_bytes(7, "big")
    c = crc16(data)
    if ((c & 0xFF) << 8 | c >> 8) != p & 0xFFFF:
        return None
    return cls, p >> 60, (p >> 32) & 0xFFFFFF, (p >> 16) & 0xFFFF
