# footprint.py  does the firmware fit a board? .mpy size per architecture, and the heap free
# after boot (meter personalised, ui made) in micropython -X heapsize=96K
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from host_tools import build_mpy  # noqa: E402

BOOT = """
import gc, sys
sys.path.insert(0, %r)
from binascii import unhexlify
from meter.meter import Meter
from meter.store import RecordStore
from ui.ui import Ui
m = Meter(RecordStore(%r))
m.personalise({"pan": "600727000000000009", "sgc": "123456", "ti": "01", "kt": 2, "krn": 1,
               "ken": 255, "ea": "sta", "base_date": 1993,
               "decoder_key": unhexlify("e653341f9d5bf36f")}, 0)
ui = Ui(m)
ui.frame(0)
gc.collect()
print(gc.mem_free(), gc.mem_alloc())
"""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for march in ("armv6m", "xtensawin", "x64"):
            out = os.path.join(tmp, march)
            files = build_mpy.build(out, march)
            sizes[march] = sum(os.path.getsize(f) for f in files)
        code = BOOT % (os.path.join(tmp, "x64"), os.path.join(tmp, "state"))
        r = subprocess.run(["micropython", "-X", "heapsize=96K", "-c", code],
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit("boot under a 96 KB heap failed:\n" + r.stdout + r.stderr)
        free, used = (int(x) for x in r.stdout.split())
    print("firmware as .mpy: %d bytes for RP2040 (armv6m), %d for ESP32 (xtensawin), %d for "
          "unix x64" % (sizes["armv6m"], sizes["xtensawin"], sizes["x64"]))
    print("after boot in micropython -X heapsize=96K (unix, 64-bit): %d bytes free, %d in use"
          % (free, used))


if __name__ == "__main__":
    main()
