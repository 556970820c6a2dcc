# sts  the STS token standard (IEC 62055-41), pure and portable: CPython and MicroPython
# A 64-bit data block is carried as three limbs, bits 0..23, 24..47 and 48..63, in an
# array("I", 3), so that no value on the decode path exceeds 2**24 (small ints on 32-bit
# boards). Bit i of a block is bit i % 24 of limb i // 24.
