# results.py  what the meter says about a typed token: a closed set of outcomes
# 1..15 are numbered as meter manuals number them, so that the display and the last-result
# short code can show the number. Those manuals give 16 to "token status not ready" and
# reserve 17..255, so the meter's own outcomes (256 and above, past LOCKED) have names,
# never a number to show.

ACCEPT = 1  # credit, management, test/display accepted
KCT_STAGED = 2  # a key change section held, waiting for the rest of its set
KEY_CHANGED = 3  # the last section of a key change set: the new key is in use
OVERFLOW = 4  # the credit would pass the register's limit
KEY_TYPE = 5  # a key change to a key type the rules do not allow
FORMAT = 6  # not 20 digits, not digits, >= 2**66, or token class 3
RANGE = 7  # a register value outside what the meter accepts
FUNCTION = 8  # a subclass this meter does not support
OLD = 9  # older than the oldest remembered TID, with the memory full
USED = 10  # this TID has been accepted before
KEY_EXPIRED = 11  # the TID is past the key's expiry number (KEN)
DDTK = 12  # credit refused: the meter holds a default or initialisation key
CRC = 13  # the block does not check: a typo, or another key (another meter, an old key)
MFR = 14  # a test/display token for another manufacturer
LOCKED = 15  # too many refused tokens: entry is locked for a while
KCT_TIMEOUT = 256  # the held sections were older than the window and were dropped
KCT_MIXED = 257  # a section that does not belong with the held ones: they were dropped
STORAGE = 258  # the stored state is unreadable or a write failed: nothing is accepted
SAME_KEY = 259  # a complete key change set whose new key is the key in use: refused
LAST_BASE = 260  # a rollover (RO) on a meter already at the last base date: refused
KCT_DONE = 261  # a section of the key change set last completed, typed again: nothing to do

NAMES = {
    ACCEPT: "ACCEPT",
    KCT_STAGED: "KCT STAGED",
    KEY_CHANGED: "KEY CHANGED",
    OVERFLOW: "OVERFLOW",
    KEY_TYPE: "KEY TYPE",
    FORMAT: "FORMAT",
    RANGE: "RANGE",
    FUNCTION: "FUNCTION",
    OLD: "OLD",
    USED: "USED",
    KEY_EXPIRED: "KEY EXPIRED",
    DDTK: "DDTK",
    CRC: "CRC",
    MFR: "MFR CODE",
    LOCKED: "LOCKED",
    KCT_TIMEOUT: "KCT TIMEOUT",
    KCT_MIXED: "KCT MIXED",
    STORAGE: "STORAGE",
    SAME_KEY: "KEY UNCHANGED",
    LAST_BASE: "LAST BASE DATE",
    KCT_DONE: "KEY CHANGE DONE",
}

# Refusals of a token that may be a guess: they count towards the keypad lockout. OLD, USED
# and KEY_EXPIRED are real tokens typed again or late, not guesses.
GUESSES = (FORMAT, CRC, FUNCTION, MFR, RANGE)


class Result:
    """One outcome. `what` names the token (e.g. "electricity credit"); the numbers that
    apply are set: amount and balance (tenths), register (watts for the power limits),
    section n of m, seconds left. What does not apply is None (the class's value): an
    instance holds only what was given, the smaller on the heap of a meter that makes one
    per token. `sub` is a credit's register when not electricity: None means 0."""

    amount = balance = register = n = m = seconds = control = sub = kind = None

    def __init__(
        self,
        code,
        what="",
        amount=None,
        balance=None,
        register=None,
        n=None,
        m=None,
        seconds=None,
        control=None,
        sub=None,
        kind=None,
    ):
        self.code = code
        self.what = what
        if amount is not None:  # a credit: its register (subclass: electricity 0, water 1, ...)
            self.amount = amount
            self.balance = balance
            if sub:  # electricity (0) is the class's None: a fifth attribute would grow the
                self.sub = sub  # instance's table from 4 entries to 6 (32 B on 64-bit)
        elif balance is not None:
            self.balance = balance
        if register is not None:
            self.register = register
        if n is not None:
            self.n = n
            self.m = m
        if seconds is not None:
            self.seconds = seconds
        if control is not None:
            self.control = control
        if kind is not None:  # an accepted management or test token: class << 4 | subclass
            self.kind = kind

    @property
    def name(self):
        return NAMES[self.code]

    def __repr__(self):
        extra = [
            "%s=%r" % (k, getattr(self, k))
            for k in ("amount", "balance", "register", "n", "m", "seconds", "control", "sub")
            if getattr(self, k) is not None
        ]
        return "<Result %s %s>" % (self.name, " ".join([self.what] + extra))
