# key_change.py  key change sections held until their set is complete (IEC 62055-41 KCT)
# A 64-bit STA key comes in 2 sections (class 2 subclasses 3 and 4), a 128-bit MISTY1 key in
# 4 (3, 4, 8 and 9). Sections may come in any order, within `window` seconds of the first;
# the key changes only when the whole set is there. A key change token carries no TID: what
# stops a replay is that, once the key has changed, the old set no longer decrypts.
# The window is measured as the age of the held set (elapsed time the meter was told of), not
# as a clock time: a clock that restarts or steps cannot stretch it.
from array import array

from sts.kinds import NK, field

_SLOTS = (3, 4, 8, 9)

STAGED = 0
COMPLETE = 1
TIMED_OUT = 2
MIXED = 3


def sections_for(ea):
    """The subclasses that make a set for an encryption algorithm ('sta' or 'misty1')."""
    return _SLOTS[:2] if ea == "sta" else _SLOTS


class KeyChange:
    def __init__(self, window=120):
        self.window = window
        self.blocks = array("I", bytes(4 * 3 * 4))  # plaintext limbs of each held section
        self.held = 0  # bit i: section _SLOTS[i] is held
        self.age = 0  # ms since the first held section, as the meter counts them

    def count(self):
        return bin(self.held).count("1")

    def drop(self):
        self.held = 0
        self.age = 0

    def offer(self, sub, block, ea):
        """Hold one section (plaintext limbs); returns STAGED, COMPLETE, TIMED_OUT or MIXED.

        TIMED_OUT and MIXED mean the sections held before were dropped and this one starts
        a new set.
        """
        i = _SLOTS.index(sub)
        outcome = STAGED
        if self.held and self.age > self.window * 1000:
            self.drop()
            outcome = TIMED_OUT
        b = self.blocks
        if self.held & (1 << i) and (
            b[3 * i] != block[0] or b[3 * i + 1] != block[1] or b[3 * i + 2] != block[2]
        ):
            self.drop()  # a second, different section of the same kind: another set
            outcome = MIXED
        b[3 * i] = block[0]
        b[3 * i + 1] = block[1]
        b[3 * i + 2] = block[2]
        self.held |= 1 << i
        want = (1 << len(sections_for(ea))) - 1
        if outcome == STAGED and self.held == want:
            return COMPLETE
        return outcome

    def field(self, sub, where):
        """The field at `where` (a position of sts.kinds) of held section `sub`."""
        i = _SLOTS.index(sub)
        return field(self.blocks[3 * i : 3 * i + 3], where)

    def new_key(self, ea):
        """The assembled key: NKHO, NKLO for STA; NKHO, NKMO2, NKMO1, NKLO for MISTY1."""
        parts = (3, 4) if ea == "sta" else (3, 8, 9, 4)
        out = bytearray()
        for sub in parts:
            w = self.field(sub, NK)
            out += bytes(((w >> 24) & 255, (w >> 16) & 255, (w >> 8) & 255, w & 255))
        return bytes(out)
