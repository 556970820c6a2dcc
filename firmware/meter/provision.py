# provision.py  provisioning data (a board's /meter.json) checked whole, and made a profile
# Loaded at a first start only (Meter.provision, the simulator's personalise) and unloaded
# after: its checks and their words stay off the heap of the meter that runs.
import gc
from binascii import unhexlify

from sts.codec import EA, cipher_class


def _whole(v, top):
    """v as an int in 0..top, from an int or a string of ASCII digits; else None."""
    if isinstance(v, str) and v and len(v) <= 10 and all("0" <= c <= "9" for c in v):
        v = int(v)
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top:
        return v
    return None


def error(data):
    """Why provisioning data (a /meter.json) cannot personalise a meter, or "": checked
    whole before anything is touched, so bad data never costs a stored byte."""
    if not isinstance(data, dict):
        return "provisioning data is not an object"
    for name, top in (
        ("sgc", 999999),
        ("ti", 99),
        ("kt", 3),
        ("krn", 9),
        ("ken", 255),
        ("manufacture_tid", 0xFFFFFF),
    ):
        if _whole(data.get(name), top) is None:
            return "%s: a whole number 0..%d, not %r" % (name, top, data.get(name))
    pan = data.get("pan")
    if (
        not (isinstance(pan, str) and len(pan) == 18)
        or None
        in (
            _whole(pan[:9], 999999999),  # (two halves: each below 2**30)
            _whole(pan[9:], 999999999),
        )
    ):
        return "pan: 18 digits, not %r" % (pan,)
    ea = data.get("ea")
    if ea not in EA:
        return "ea: sta or misty1, not %r" % (ea,)
    if data.get("base_date") not in (1993, 2014, 2035):
        return "base_date: 1993, 2014 or 2035, not %r" % (data.get("base_date"),)
    key = data.get("decoder_key")
    n = 16 if ea == "sta" else 32
    if not (
        isinstance(key, str) and len(key) == n and all(c in "0123456789abcdefABCDEF" for c in key)
    ):
        return "decoder_key: %d hex digits for %s" % (n, ea)
    return ""


def profile(data):
    """What Meter.personalise takes, from provisioning data that error() passed: the
    numbers as ints, the decoder key as bytes."""
    # The cipher's module now, before the copies below: at a first start the heap holds
    # the provisioning file's garbage, and the module's tables want runs of 1 to 2 KB.
    gc.collect()
    cipher_class(data["ea"])
    p = dict(data)
    for name in ("sgc", "ti", "kt", "krn", "ken", "manufacture_tid"):
        p[name] = int(p[name])
    p["decoder_key"] = unhexlify(p["decoder_key"])
    return p
