# errors.py  why a token was refused by the codec: a small closed set the UI can render
OK = 0
BAD_LENGTH = 1  # not 20 characters
NOT_DIGIT = 2  # a character other than 0..9
TOO_LARGE = 3  # the number is 2**66 or more: no token has it
UNKNOWN_CLASS = 4  # token class 3 is reserved
BAD_CRC = 5  # the block's CRC does not match (a typo, or another meter's key)
UNKNOWN_SUBCLASS = 6  # a subclass this codec does not define

NAMES = (
    "OK",
    "BAD_LENGTH",
    "NOT_DIGIT",
    "TOO_LARGE",
    "UNKNOWN_CLASS",
    "BAD_CRC",
    "UNKNOWN_SUBCLASS",
)
