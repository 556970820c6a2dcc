# test_sta_tables.py  STA's viper tables, kept as bytes constants in sta.py, made again here from
# the cipher's own definition (T1, T2, P): the one place that says how they are derived
from sts import sta
from sts.sta_portable import _inverse


def _half(first):
    """Half the kernel's table: entry ((pos * 2 + slot) * 16 + value), 4 bytes, the
    little-endian 32-bit word of block bits first..first + 31 where that nibble's bits land
    after the inverse substitution (slot 0: T1 inverse, 1: T2 inverse) and the inverse
    permutation."""
    subs = (_inverse(sta._T1), _inverse(sta._T2))
    perm = _inverse(sta._P)
    out = bytearray(16 * 2 * 16 * 4)
    for pos in range(16):
        for slot in range(2):
            for v in range(16):
                s = subs[slot][v]
                i = ((pos * 2 + slot) * 16 + v) * 4
                for bit in range(4):
                    if (s >> bit) & 1:
                        d = perm[4 * pos + bit] - first
                        if 0 <= d < 32:
                            out[i + (d >> 3)] |= 1 << (d & 7)
    return bytes(out)


def test_the_viper_tables_are_the_inverse_round_of_t1_t2_and_p():
    assert sta._LO[:2048] == _half(0)
    assert sta._HI == _half(32)


def test_the_low_half_carries_the_kernels_nibble_tables_after_its_2_kb():
    # sta_decrypt reads T1, T1 inverse and T2 inverse at tl + 2048
    assert sta._LO[2048:] == sta._T1 + _inverse(sta._T1) + _inverse(sta._T2)


def test_the_tables_are_bytes_constants_a_board_keeps_in_flash():
    assert type(sta._LO) is bytes and type(sta._HI) is bytes
