# keychange.py  the sections of a key change set, from the new key and its fields
# The one place they are assembled: the vending side (stsvend/vend.py), the classroom
# page (web/webmeter.py) and the tests make key change tokens with it; a meter never loads
# it (it only takes sets apart: meter/key_change.py). Portable: CPython and MicroPython.


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
