# texts.py  what the display says: one small table per manufacturer's taste
# Result texts by result code (meter/results.py): two lines, with {amount} {unit} {balance}
# (the meter's, after the token) {what} {n} {m} {seconds} {register} {control} filled in.
# Short codes typed then Enter show information.
# Change these tables to copy another meter's wording; the defaults fit 16x2 whole.
from meter import results as R

RESULT = {
    R.ACCEPT: ("ACCEPT", "{what}"),
    R.KCT_STAGED: ("KEY CHANGE {n}/{m}", "ENTER NEXT TOKEN"),
    R.KEY_CHANGED: ("KEY CHANGED", "ACCEPT"),
    R.OVERFLOW: ("REJECT 4", "CREDIT OVERFLOW"),
    R.KEY_TYPE: ("REJECT 5", "KEY TYPE"),
    R.FORMAT: ("REJECT 6", "FORMAT"),
    R.RANGE: ("REJECT 7", "RANGE"),
    R.FUNCTION: ("REJECT 8", "NOT SUPPORTED"),
    R.OLD: ("REJECT 9", "OLD TOKEN"),
    R.USED: ("REJECT 10", "USED TOKEN"),
    R.KEY_EXPIRED: ("REJECT 11", "KEY EXPIRED"),
    R.DDTK: ("REJECT 12", "DDTK"),
    R.CRC: ("REJECT 13", "WRONG TOKEN"),
    R.MFR: ("REJECT 14", "MFR CODE"),
    R.LOCKED: ("LOCKED", "WAIT {seconds}s"),
    # The meter's own outcomes: no number (16 and up belong to the standard's table).
    R.KCT_TIMEOUT: ("KEY CHANGE {n}/{m}", "TIMED OUT: AGAIN"),
    R.KCT_MIXED: ("KEY CHANGE {n}/{m}", "MIXED: RESTART"),
    R.STORAGE: ("METER FAULT", "CALL SERVICE"),
    R.SAME_KEY: ("KEY CHANGE", "SAME KEY REFUSED"),
    R.LAST_BASE: ("KEY CHANGE", "ROLLOVER REFUSED"),
    R.KCT_DONE: ("KEY CHANGE", "DONE ALREADY"),  # codes 1 and 2 typed again after the change
}
ACCEPT_CREDIT = ("ACCEPT", "+{amount} {unit}")  # code 1 for a credit token
# Code 1 for management and test/display tokens: the second line shows what was set, whole
# for every value a token can carry (watts up to 18201624, registers up to 65535, test
# controls up to 11 digits).
# Keyed by the kind, class << 4 | subclass (the keys of sts/kinds.py WHAT), never by its
# words: a kind renamed keeps its screen. (Numbers, not named constants: names would cost
# a 64 KB heap some 200 bytes.)
ACCEPT_TOKEN = {
    0x20: "LIMIT {register} W",  # set max power limit
    0x21: "CREDIT CLEARED",  # clear credit
    0x22: "TARIFF {register}",  # set tariff rate
    0x25: "TAMPER CLEARED",  # clear tamper
    0x26: "UNBAL {register} W",  # set max phase power unbalance
    0x27: "WATER FAC {register}",  # set water meter factor
    0x10: "TEST {control}",  # test/display 1
    0x11: "TEST {control}",  # test/display 2
}
ACCEPT_ZERO = {0x20: "NO POWER LIMIT"}  # max power 0 W: the limit is lifted
UNITS = ("kWh", "m3", "m3", "h")  # electricity, water, gas, time (tenths of these)

# Short codes: typed digits (fewer than 20) then Enter. Name -> screen in ui.py.
CODES = {
    "873": "edition",  # the 2024 check: STS edition and key revision
    "0": "balance",
    "1": "last_result",
    "2": "last_tokens",
    "3": "tid_memory",
    "4": "krn",
    "5": "kt",
    "6": "sgc",
    "7": "ti",
    "8": "pan",
    "9": "ea",
}

# 873 as each maker shows it: ENEO's 2024 notice told customers what their meter shows for
# the edition: `2`, `02` or `2-02` for edition 2; `01` on a single-phase Hexing, `01` then `02`
# on a three-phase Hexing, `01-02` on an Inhemeter for edition 1. A meter (the board's dev
# "edition_form", the simulator's --edition-form) picks one; None keeps EDITION_SCREEN. Per
# form: the screens (one after the other) for edition 1, then for edition 2. The notice does
# not say which maker shows which edition-2 form, nor what "plain" shows for edition 1: those
# are marked (assumed).
EDITION_FORMS = {
    "plain": ((("1",),), (("2",),)),  # edition 1 (assumed)
    "hexing1": ((("01",),), (("02",),)),  # edition 2 (assumed)
    "hexing3": ((("01",), ("02",)), (("02",),)),  # edition 2 (assumed)
    "inhemeter": ((("01-02",),), (("2-02",),)),  # edition 2 (assumed)
}
EDITION_SCREEN = ("STS EDITION {edition}", "KRN {krn} BASE {base_date}")  # no form picked

IDLE_TITLE = "CREDIT"
BLANK = ("NOT PROVISIONED", "MAKE PROVISION")  # a meter with no state and no /meter.json
LOW_CREDIT = "LOW CREDIT"
NO_CREDIT = "NO CREDIT: OFF"
TRIPPED = "OVERLOAD: OFF"
SUPPLY_ON = "SUPPLY ON"
# While the keypad is locked: the supply's state (SUPPLY_WORD[relay closed]) and the time left.
LOCKED_IDLE = "{supply} LOCKED {seconds}s"
SUPPLY_WORD = {False: "OFF", True: "ON"}
KCT_HELD = "KEY CHG {n}/{m} {seconds}s"  # a held key change section, and its window's time left
LAST = "LAST "  # heads the last result's screen (short code 1) where it fits
NO_LAST = ("LAST RESULT", "NONE")
ENTER = "TOKEN:"
UNKNOWN_CODE = ("CODE {code}", "UNKNOWN")
