# status.py  a meter's state as the displays show it (Meter.status): the short codes, the
# classroom page and MQTT read it, a board's boot and a token never do; loaded at the first call.
from meter.sections import sections_for
from sts import amount
from sts.codec import EA


def status(m):
    """What the displays show of Meter m: balances, key data, edition, TID memory use."""
    return (
        {
            "balance": m.balance[0],
            "balances": list(m.balance),
            "krn": m.krn,
            "kt": m.kt,
            "sgc": "%06d" % m.sgc,
            "ti": "%02d" % m.ti,
            "ea": "EA%02d" % EA[m.ea],
            "ken": m.ken,
            "base_date": m.base_date,
            "edition": 1 if m.base_date == 1993 else 2,
            "pan": m.pan,
            "tids_used": m.tids.count,
            "tids_capacity": m.tids.capacity,
            "relay": m.relay_closed(),
            "tripped": bool(m.tripped),
            "tamper": bool(m.tamper),
            "max_power": amount.decode(m.max_power),
            "kct_held": m.kct.count(),
            "kct_of": len(sections_for(m.ea)),
            "last": m.last,
            "lock_left": m.lock_left(),
            "trip_left": (m.trip_ms + 999) // 1000 if m.tripped else 0,
            "kct_left": max(0, m.kct.window - m.kct.age // 1000) if m.kct.held else 0,
            "storage": m.store.report,
        }
        if m.personalised and not m.fault
        else {"fault": m.fault or "blank"}
    )
