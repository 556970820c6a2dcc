# emulate_board.py  board.py of the emulated Cortex-M3 (tools/emulate.py): keys from a file
# The board's drivers stand in for pins: the keypad presses the keys of /keys.txt (one entry
# a line, "#" included; "idle N": N scans with no key held, as at power-up, where
# startup.service_key_held looks for "*"; "mem LABEL" prints the heap there), the display
# prints the frame that follows each "#" (the result), the relay is a bit; "modules" prints
# the modules loaded. tools/emulate.py compiles this to board.mpy at the image's root (the
# working directory: the paths are relative, so the unix port runs it too, in a directory).
import gc
import sys

import micropython

from hal.clock import Clock

KEYS = "keys.txt"
STATE_DIR = "state"
WATCHDOG_MS = 0  # the qemu port has no machine.WDT
PERIOD_MS = 0  # no pause between passes: the emulated keypad needs no debouncing


def mem(label):
    """The heap after a collection, as tools/emulate.py reads it: "MEM label" then mem_info."""
    gc.collect()
    print("MEM %s alloc=%d free=%d" % (label, gc.mem_alloc(), gc.mem_free()))
    micropython.mem_info()


class Keys:
    """The keypad: the keys of KEYS, one a pass; KeyboardInterrupt at the end of the file
    (the loop's fail-safe runs, as for Ctrl-C)."""

    def __init__(self, path=KEYS):
        self.f = open(path)
        self.line = ""
        self.i = 0
        self.idle = 0
        self.entered = False  # "#" was the last key: the next frame is a result

    def scan(self):
        while not self.idle and self.i >= len(self.line):
            line = self.f.readline()
            if not line:
                mem("end")
                print("END")
                raise KeyboardInterrupt
            if line.startswith("mem "):
                mem(line[4:].strip())
            elif line.startswith("modules"):
                print("MODULES " + " ".join(sorted(sys.modules)))
            elif line.startswith("idle "):
                self.idle = int(line[5:])
            else:
                self.line = line.strip()
                self.i = 0
        if self.idle:
            self.idle -= 1
            return None
        k = self.line[self.i]
        self.i += 1
        self.entered = k == "#"
        return k


class Screen:
    """The display: prints the frame shown after "#" ("SHOW top|bottom")."""

    rows = 2
    cols = 16

    def __init__(self, keys):
        self.keys = keys

    def show(self, lines):
        if self.keys.entered:
            self.keys.entered = False
            print("SHOW %s|%s" % (lines[0], lines[1]))


class Relay:
    closed = False

    def set(self, closed):
        self.closed = closed


def setup():
    """The drivers main.py runs the meter with (no energy source: nothing draws)."""
    keys = Keys()
    return {
        "keypad": keys,
        "display": Screen(keys),
        "relay": Relay(),
        "clock": Clock(),
        "state": STATE_DIR + "/meter",
        "profile": "meter.json",
        "log": "meter.log",
    }
