# drive_meter.py  runs in micropython: a meter in a state directory, driven by a script of
# JSON lines (read one at a time, so a long script costs no heap). First line: the setup
# {"profile": {... "decoder_key": hex}, "manufacture_tid": n, "meter": {options}}; then
# {"token": digits, "now": s}, {"consume": tenths}, {"load": watts, "now": s}, {"reboot": true} or
# {"status": true}. Prints one JSON line per step unless quiet, then a summary with the heap
# in use after a collection every 1000 steps.
# Usage: MICROPYPATH=.frozen:FIRMWARE_DIR micropython drive_meter.py STATE_DIR SCRIPT.jsonl [quiet]
import gc
import json
import sys
from binascii import unhexlify

from meter.meter import Meter
from meter.results import NAMES
from meter.store import RecordStore

STATE = sys.argv[1] + "/state"
QUIET = len(sys.argv) > 3


def main():
    f = open(sys.argv[2])
    setup = json.loads(f.readline())
    opts = setup.get("meter", {})
    m = Meter(RecordStore(STATE), **opts)
    if "profile" in setup:
        p = setup["profile"]
        p["decoder_key"] = unhexlify(p["decoder_key"])
        m.personalise(p, setup["manufacture_tid"])
    del setup
    counts = dict.fromkeys(NAMES.values(), 0)  # all keys now: it never grows
    steps = 0
    heap = []
    for line in f:
        step = json.loads(line)
        out = None
        if "token" in step:
            r = m.apply(step["token"], step["now"] * 1000)  # the meter's clock counts ms
            counts[r.name] += 1
            if not QUIET:
                out = {
                    "result": r.name,
                    "code": r.code,
                    "what": r.what,
                    "amount": r.amount,
                    "balance": r.balance,
                    "n": r.n,
                    "m": r.m,
                    "seconds": r.seconds,
                    "register": r.register,
                    "control": r.control,
                }
        elif "consume" in step:
            out = {"balance": m.consume(step["consume"], step.get("commodity", 0))}
        elif "load" in step:
            out = {"relay": m.load(step["load"], step.get("now", 0) * 1000) and m.relay_closed()}
        elif "reboot" in step:
            m = Meter(RecordStore(STATE), **opts)
            out = {"rebooted": True, "fault": m.fault, "report": m.store.report}
        elif "status" in step:
            out = m.status()
        steps += 1
        if steps % 1000 == 0:  # the heap after a collection, always measured at this spot
            gc.collect()
            heap.append(gc.mem_alloc())
        if out is not None and not QUIET:
            print(json.dumps(out))
    # The summary in small pieces, after a collection: in a 64 KB heap a long line may find
    # no free run long enough.
    gc.collect()
    print('{"done": %d,' % steps)
    print(' "heap": %s,' % json.dumps(heap))
    for name, value in (("counts", counts), ("status", m.status())):
        print(' "%s": {' % name)
        sep = ""
        for k, v in value.items():
            print('%s  "%s": %s' % (sep, k, json.dumps(v)))
            sep = ","
        print(" }" + ("}" if name == "status" else ","))


main()
