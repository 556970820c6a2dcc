# vending.py  what a vending side builds: a token's fields for its kind, encoded under a key
# `stsvend` (stsvend/vend.py) and the classroom page's panel both make their tokens here, so
# a kind's fields are put together in one place. A meter never loads it. Portable.
from sts import amount, kinds
from sts.blocks import REGISTERS
from sts.codec import encode

COMMODITIES = {"electricity": 0, "water": 1, "gas": 2, "time": 3}  # class 0 subclasses
# Kinds whose register means nothing: the token alone says what to do (clear-credit's
# 0xFFFF is every credit register).
FIXED = {"clear-tamper": 0}
MAX_WATTS = amount.MAX_TENTHS  # watts travel like a transfer amount: the same largest value
_TEST_WIDTHS = ((8, 36), (16, 28))  # test/display subclass 0, 1: manufacturer, control bits


def carries_watts(subclass):
    """Does the register of this class 2 subclass carry watts (kinds.WATTS)?"""
    return (kinds.WATTS >> subclass) & 1


def credit_fields(tenths, tid, rnd):
    """A credit token's fields: the amount rounded up to what a token carries."""
    return {"amount": amount.encode(tenths), "tid": tid, "rnd": rnd}


def register_fields(kind, value, tid, rnd):
    """A management token's fields; `value` in watts for a limit (rounded up as an amount),
    else the 16-bit register. ValueError for a value the token cannot carry."""
    if kind not in REGISTERS:
        raise ValueError("management token: one of %s" % ", ".join(REGISTERS))
    if carries_watts(REGISTERS[kind]):
        if not 0 <= value <= MAX_WATTS:
            raise ValueError(
                "%s: %d W is outside 0..%d W, the range a token carries (0 means no "
                "limit)" % (kind, value, MAX_WATTS)
            )
        value = amount.encode(value)
    elif not 0 <= value <= 0xFFFF:
        raise ValueError("register value 0..65535, got %d" % value)
    return {"register": value, "tid": tid, "rnd": rnd}


def credit(commodity, tenths, tid, rnd, cipher):
    """(digits, fields) of a class 0 credit token."""
    if commodity not in COMMODITIES:
        raise ValueError("commodity: one of %s" % ", ".join(COMMODITIES))
    f = credit_fields(tenths, tid, rnd)
    return encode(0, COMMODITIES[commodity], f, cipher), f


def register(kind, value, tid, rnd, cipher):
    """(digits, fields) of a class 2 management token (blocks.REGISTERS names the kinds)."""
    f = register_fields(kind, value, tid, rnd)
    return encode(2, REGISTERS[kind], f, cipher), f


def test_display(control, mfr=0, subclass=0):
    """(digits, fields) of a class 1 test/display token: in the clear, no key, no TID."""
    mw, cw = _TEST_WIDTHS[subclass]
    if not 0 <= mfr < 1 << mw or not 0 <= control < 1 << cw:
        raise ValueError("subclass %d: manufacturer < 2**%d, control < 2**%d" % (subclass, mw, cw))
    f = {"mfr": mfr, "control": control}
    return encode(1, subclass, f, None), f
