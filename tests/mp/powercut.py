# powercut.py  runs in micropython: a meter on real LittleFS, power cut at every write of one
# token, then a reboot from what the flash holds. Prints one JSON line per cut point.
# Usage: MICROPYPATH=.frozen:FIRMWARE_DIR micropython powercut.py SCENARIO.json
import gc
import json
import sys
from binascii import unhexlify

import vfs

from flakydev import FlakyDev, PowerCut
from meter.meter import Meter
from meter.store import RecordStore

MNT = "/pc"


_current = []


def boot(data, cut_at=-1):
    """Power the meter up on flash holding `data`; the previous device is off for good."""
    for old in _current:
        old.dead = True
    gc.collect()
    try:
        vfs.umount(MNT)
    except OSError:
        pass
    dev = FlakyDev(data)
    _current[:] = [dev]
    dev.cut_at = cut_at
    vfs.mount(vfs.VfsLfs2(dev), MNT)
    return dev, Meter(RecordStore(MNT + "/state"), **SC.get("meter", {}))


def summary(m, r=None):
    s = m.status()
    out = {"fault": m.fault, "report": m.store.report}
    if "fault" not in s:
        out.update(
            balances=s["balances"],
            tids=list(m.tids.tids[: m.tids.count]),
            krn=s["krn"],
            ti=s["ti"],
            key=m.key.hex(),
            held=s["kct_held"],
            base_date=s["base_date"],
            max_power=s["max_power"],
            fails=m.fails,
        )
    if r is not None:
        out["result"] = r.name
    return out


def personalising():
    """A power cut at every block write of the personalisation itself, on an empty file
    system; then a reboot, and personalisation again if the meter came up blank."""
    p = SC["profile"]
    empty = FlakyDev()
    vfs.VfsLfs2.mkfs(empty)
    dev, m = boot(empty.data)
    w0 = dev.writes
    m.personalise(p, SC["manufacture_tid"])
    writes = dev.writes - w0
    print(json.dumps({"writes": writes}))
    for k in range(writes):
        dev, m = boot(empty.data)
        dev.cut_at = dev.writes + k
        try:
            m.personalise(p, SC["manufacture_tid"])
        except (PowerCut, OSError):
            pass
        _, m2 = boot(bytearray(dev.data))
        out = {
            "cut": k,
            "was_cut": dev.dead,
            "fault": m2.fault,
            "personalised": m2.personalised,
            "report": m2.store.report,
        }
        if not m2.personalised and not m2.fault:
            m2.personalise(p, SC["manufacture_tid"])  # what a board's main.make does
        out["result"] = m2.apply(SC["token"], SC["now"]).name if not m2.fault else None
        print(json.dumps(out))


def main():
    dev = FlakyDev()
    vfs.VfsLfs2.mkfs(dev)
    dev, m = boot(dev.data)
    p = SC["profile"]
    m.personalise(p, SC["manufacture_tid"])
    now = SC["now"]
    for t in SC["before"]:
        m.apply(t, now)
        now += 10
    base = bytearray(dev.data)
    print(json.dumps({"before": summary(m)}))
    # Dry run: how many writes does this token take, and where does it end?
    dev, m = boot(base)
    w0 = dev.writes
    r = m.apply(SC["token"], now)
    writes = dev.writes - w0
    print(json.dumps({"after": summary(m, r), "writes": writes}))
    for k in range(writes):
        dev, m = boot(base)
        dev.cut_at = dev.writes + k
        try:
            m.apply(SC["token"], now)
        except (PowerCut, OSError):
            pass  # MicroPython's LittleFS may turn the device's exception into an OSError
        cut = dev.dead
        _, m2 = boot(bytearray(dev.data))
        state = summary(m2)
        # Typed again after the reboot: USED if the cut came after the commit, else ACCEPT.
        again = m2.apply(SC["token"], now + 5) if not m2.fault else None
        print(
            json.dumps(
                {
                    "cut": k,
                    "was_cut": cut,
                    "state": state,
                    "again": summary(m2, again) if again else None,
                }
            )
        )


with open(sys.argv[1]) as f:
    SC = json.load(f)
SC["profile"]["decoder_key"] = unhexlify(SC["profile"]["decoder_key"])
personalising() if SC.get("personalising") else main()
