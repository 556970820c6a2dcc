# sections.py  the key change sections a meter holds, as its state record keeps them
# The state alone (what the record, the idle screen and the short codes read): the rules that
# take a section, assemble the key and recognise a set typed again are meter/key_change.py's,
# which a meter loads at its first key change section (or with a completed set in its record):
# a meter given only credit never holds them (docs/emulation.md).
from array import array

SLOTS = (3, 4, 8, 9)  # the subclasses of the sections; bit i of `held`: SLOTS[i]
DONE = 0x80  # in the stored `held` byte: the words hold the set last completed, as typed


def sections_for(ea):
    """The subclasses that make a set for an encryption algorithm ('sta' or 'misty1')."""
    return SLOTS[:2] if ea == "sta" else SLOTS


class KeyChange:
    def __init__(self, window=120):
        self.window = window
        self.blocks = array("I", bytes(4 * 3 * 4))  # plaintext limbs of each held section
        self.held = 0  # bit i: section SLOTS[i] is held
        self.done = 0  # DONE: `blocks` hold the set last completed, encrypted (never with held)
        self.age = 0  # ms since the first held section, as the meter counts them
        self._t = array("I", bytes(12))  # one section: to encrypt again, or as typed

    def count(self):
        return bin(self.held).count("1")

    def drop(self):
        self.held = self.done = 0
        self.age = 0
