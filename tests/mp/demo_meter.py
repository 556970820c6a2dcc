# demo_meter.py  the demo meter (stsvend/profiles/demo.json) as a meter is personalised with
# it: its fields and its decoder key, for the rule modules and the benchmarks that run in
# micropython (which cannot read the profile through stsvend). One home for them.
from binascii import unhexlify

KEY = unhexlify("e653341f9d5bf36f")  # its decoder key (DKGA02, KRN 1)
PAN = "600727000000000009"  # manufacturer code 00
FIELDS = {
    "pan": PAN,
    "sgc": "123456",
    "ti": "01",
    "kt": 2,
    "krn": 1,
    "ken": 255,
    "ea": "sta",
    "base_date": 1993,
}


def profile(decoder_key=KEY, **change):
    """What Meter.personalise takes: the demo meter's fields, with `change` and a key."""
    p = dict(FIELDS, decoder_key=decoder_key)
    p.update(change)
    return p
