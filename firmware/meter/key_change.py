# key_change.py  key change sections held until their set is complete (IEC 62055-41 KCT)
# A 64-bit STA key comes in 2 sections (class 2 subclasses 3 and 4), a 128-bit MISTY1 key in
# 4 (3, 4, 8 and 9). Sections may come in any order, within `window` seconds of the first;
# the key changes only when the whole set is there. A key change token carries no TID: what
# stops a replay is that, once the key has changed, the old set no longer decrypts.
# The window is measured as the age of the held set (elapsed time the meter was told of), not
# as a clock time: a clock that restarts or steps cannot stretch it.
# Once a set is complete its sections are kept as they were typed, until the next set begins:
# a customer who types codes 1 and 2 again is told the change is done, and is not counted a
# guess (a section typed again after the change no longer decrypts). A retype is recognised by
# comparing what was typed, never by decrypting under the old key, which the meter no longer
# has. An STA section is kept as typed from the start, in the words a MISTY1 set's third and
# fourth sections use (encrypting it again would cost STA's 6 KB encryption table); MISTY1's
# four fill the words, and are encrypted again at completion (its cipher holds the keys).
from array import array

from sts.digits import parse
from sts.kinds import NK, field

_SLOTS = (3, 4, 8, 9)

STAGED = 0
COMPLETE = 1
TIMED_OUT = 2
MIXED = 3
DONE = 0x80  # in the stored `held` byte: the words hold the set last completed, as typed


def sections_for(ea):
    """The subclasses that make a set for an encryption algorithm ('sta' or 'misty1')."""
    return _SLOTS[:2] if ea == "sta" else _SLOTS


class KeyChange:
    def __init__(self, window=120):
        self.window = window
        self.blocks = array("I", bytes(4 * 3 * 4))  # plaintext limbs of each held section
        self.held = 0  # bit i: section _SLOTS[i] is held
        self.done = 0  # DONE: `blocks` hold the set last completed, encrypted (never with held)
        self.age = 0  # ms since the first held section, as the meter counts them
        self._t = array("I", bytes(12))  # one section: to encrypt again, or as typed

    def count(self):
        return bin(self.held).count("1")

    def drop(self):
        self.held = self.done = 0
        self.age = 0

    def offer(self, sub, block, ea, typed=None):
        """Hold one section (plaintext limbs; `typed`: its digits); returns STAGED,
        COMPLETE, TIMED_OUT or MIXED.

        TIMED_OUT and MIXED mean the sections held before were dropped and this one starts
        a new set.
        """
        i = _SLOTS.index(sub)
        outcome = STAGED
        self.done = 0  # a new set begins: the one completed before is forgotten
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
        if typed is not None and ea == "sta":
            t = self._t
            parse(typed, t)
            b[3 * i + 6] = t[0]
            b[3 * i + 7] = t[1]
            b[3 * i + 8] = t[2]
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

    def keep_done(self, ea, cipher):
        """Keep the set just completed as it was typed: STA's as offer() kept them, MISTY1's
        encrypted again under the old key (`cipher`, the meter's until now). The held
        sections are dropped."""
        b = self.blocks
        if ea == "sta":
            for j in range(6):
                b[j] = b[j + 6]
        else:
            t = self._t
            for j in range(0, 12, 3):
                t[0] = b[j]
                t[1] = b[j + 1]
                t[2] = b[j + 2]
                cipher.encrypt(t)
                b[j] = t[0]
                b[j + 1] = t[1]
                b[j + 2] = t[2]
        self.held = 0
        self.age = 0
        self.done = DONE

    def typed_again(self, digits, ea):
        """The subclass of the completed set's section that `digits` are (as typed), or 0."""
        if not self.done:
            return 0
        t = self._t
        if parse(digits, t) != 2:  # key change sections are class 2
            return 0
        b = self.blocks
        for i in range(2 if ea == "sta" else 4):
            j = 3 * i
            if b[j] == t[0] and b[j + 1] == t[1] and b[j + 2] == t[2]:
                return _SLOTS[i]
        return 0
