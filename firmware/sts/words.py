# words.py  the words for people: each field of a data block by name, and why the decoder
# refused a token. One glossary for `stsvend explain` and the classroom page; a meter never
# loads it (its display has its own short texts, ui/texts.py). Portable.
from sts import errors

# Field name (blocks.LAYOUT) -> (its name in words, one sentence on what it is for).
FIELDS = {
    "amount": (
        "Transfer amount",
        "How much credit the token carries, in tenths of a unit: a 2-bit exponent and a "
        "14-bit mantissa.",
    ),
    "tid": (
        "TID = token identifier",
        "The minute the token was made, counted from the base date; the meter takes each "
        "TID once.",
    ),
    "rnd": (
        "RND = random number",
        "Four random bits, so that two tokens made in the same minute still differ.",
    ),
    "register": (
        "Register value",
        "The value this management token sets (watts, for a max power limit).",
    ),
    "mfr": ("Manufacturer code", "Which maker's meters should obey; 0 means every meter."),
    "control": ("Control", "Which test or display the meter is asked to run."),
    "nkho": ("NKHO = new key high part", "The upper 32 bits of the new decoder key."),
    "nklo": ("NKLO = new key low part", "The lower 32 bits of the new decoder key."),
    "nkmo1": ("NKMO1 = new key middle part 1", "32 more bits of a 128-bit new key."),
    "nkmo2": ("NKMO2 = new key middle part 2", "32 more bits of a 128-bit new key."),
    "kt": ("KT = key type", "What kind of key the new one is (2: a credit key for one meter)."),
    "res": ("Reserved", "A bit kept for later use: always 0."),
    "ro": (
        "RO = rollover",
        "1 tells the meter to empty its TID memory: how a meter moves to a new base date.",
    ),
    "krn": (
        "KRN = key revision number",
        "The number of the new key; each key change counts it up.",
    ),
    "kenho": (
        "KENHO = key expiry number, high 4 bits",
        "The upper 4 bits of the KEN: tokens with TIDs past it are refused.",
    ),
    "kenlo": ("KENLO = key expiry number, low 4 bits", "The lower 4 bits of the KEN."),
    "ti": (
        "TI = tariff index",
        "Which tariff the meter's customer is on; part of the key's identity.",
    ),
    "sgclo": (
        "SGC = supply group code, low 12 bits",
        "The lower 12 bits of the supply group the meter belongs to.",
    ),
    "sgcho": (
        "SGC = supply group code, high 12 bits",
        "The upper 12 bits of the supply group the meter belongs to.",
    ),
}

# The key types a key change token names (its KT field).
KEY_TYPES = (
    "DITK, initialisation key",
    "DDTK, default key",
    "DUTK, unique key",
    "DCTK, common key",
)

# Why the decoder refused a token (sts/errors.py), for a person at the keypad.
REFUSED = {
    errors.BAD_LENGTH: "not 20 digits: a digit missing or one too many?",
    errors.NOT_DIGIT: "a character other than the digits 0 to 9",
    errors.TOO_LARGE: "above 2**66 - 1, the largest token: a typo?",
    errors.UNKNOWN_CLASS: "token class 3 is reserved: no token has it, a typo?",
    errors.BAD_CRC: "the CRC does not match: another meter's token, a typo, or an old key?",
    errors.UNKNOWN_SUBCLASS: "a kind of token this meter does not know: a typo?",
}
REFUSED_CLEAR = "the CRC does not match: a typo?"  # class 1 has no key to be wrong


def refused(code, cls=None):
    """Why the decoder refused a token (a class 1 token's bad CRC cannot be a key's)."""
    if code == errors.BAD_CRC and cls == 1:
        return REFUSED_CLEAR
    return REFUSED.get(code, errors.NAMES[code])
