# texts.py  what the display says: one small table per manufacturer's taste
# Result texts by result code (meter/results.py): two lines, with {amount} {balance} {n}
# {m} {seconds} {register} filled in. Short codes typed then Enter show information.
# Change these tables to copy another meter's wording; the defaults fit 16x2.

RESULT = {
    1: ("ACCEPT", "{what}"),
    2: ("KEY CHANGE {n}/{m}", "ENTER NEXT TOKEN"),
    3: ("KEY CHANGED", "ACCEPT"),
    4: ("REJECT 4", "CREDIT OVERFLOW"),
    5: ("REJECT 5", "KEY TYPE"),
    6: ("REJECT 6", "FORMAT"),
    7: ("REJECT 7", "RANGE"),
    8: ("REJECT 8", "NOT SUPPORTED"),
    9: ("REJECT 9", "OLD TOKEN"),
    10: ("REJECT 10", "USED TOKEN"),
    11: ("REJECT 11", "KEY EXPIRED"),
    12: ("REJECT 12", "DDTK"),
    13: ("REJECT 13", "WRONG TOKEN"),
    14: ("REJECT 14", "MFR CODE"),
    15: ("LOCKED", "WAIT {seconds}s"),
    16: ("KEY CHANGE {n}/{m}", "TIMED OUT: AGAIN"),
    17: ("KEY CHANGE {n}/{m}", "MIXED: RESTART"),
    18: ("METER FAULT", "CALL SERVICE"),
}
ACCEPT_CREDIT = ("ACCEPT", "+{amount} {unit}")  # code 1 for a credit token
# Code 1 for management and test/display tokens: the second line shows what was set.
ACCEPT_TOKEN = {
    "set max power limit": "MAX POWER {register}W",
    "clear credit": "CREDIT CLEARED",
    "set tariff rate": "TARIFF {register}",
    "clear tamper": "TAMPER CLEARED",
    "set max phase power unbalance": "UNBALANCE {register}W",
    "set water meter factor": "WATER FACTOR {register}",
    "test/display 1": "TEST {control}",
    "test/display 2": "TEST {control}",
}
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

IDLE_TITLE = "CREDIT"
LOW_CREDIT = "LOW CREDIT"
NO_CREDIT = "NO CREDIT: OFF"
TRIPPED = "OVERLOAD: OFF"
SUPPLY_ON = "SUPPLY ON"
ENTER = "TOKEN:"
UNKNOWN_CODE = ("CODE {code}", "UNKNOWN")
