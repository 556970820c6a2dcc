# vending.py  what a vending side builds: a token's fields for its kind, encoded under a key,
# and the sections of a key change set. `stsvend` (stsvend/vend.py), the classroom page's
# panel and the tests make their tokens here, so a kind's fields are put together in one
# place. A meter never loads it (it only takes key change sets apart: meter/key_change.py).
# Portable: CPython and MicroPython.
from sts import amount, kinds
from sts.blocks import REGISTERS, encode

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


def _word(key, i):
    return (key[i] << 24) | (key[i + 1] << 16) | (key[i + 2] << 8) | key[i + 3]


def sections(new_key, kt, krn, ken, ti, ro=0, sgc=0):
    """[(subclass, fields)] of the set moving a meter to `new_key`, in typing order.

    Subclass 3 (NKHO, KT, RO, KRN, KENHO), 4 (NKLO, TI, KENLO), and for a MISTY1 key
    (16 bytes; the key is NKHO, NKMO2, NKMO1, NKLO) 8 (NKMO2, SGC low 12 bits) and 9 (NKMO1,
    SGC high 12 bits). Each is encrypted under the meter's current key by the caller.
    """
    if len(new_key) not in (8, 16):
        raise ValueError("a new key is 8 bytes (STA) or 16 (MISTY1), not %d" % len(new_key))
    out = [
        (
            3,
            {
                "nkho": _word(new_key, 0),
                "kt": kt,
                "res": 0,
                "ro": ro,
                "krn": krn,
                "kenho": ken >> 4,
            },
        ),
        (4, {"nklo": _word(new_key, len(new_key) - 4), "ti": ti, "kenlo": ken & 15}),
    ]
    if len(new_key) == 16:
        out.append((8, {"nkmo2": _word(new_key, 4), "sgclo": sgc & 0xFFF}))
        out.append((9, {"nkmo1": _word(new_key, 8), "sgcho": sgc >> 12}))
    return out
