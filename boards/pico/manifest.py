# manifest.py  the meter frozen into a Raspberry Pi Pico (RP2040) firmware image
# include and module come from MicroPython's makemanifest, not Python:
# Build from a micropython checkout (the README here has the steps):
#   cd ports/rp2 && make BOARD=RPI_PICO \
#       FROZEN_MANIFEST=/path/to/stsmeter/boards/pico/manifest.py
# Paths here are relative to this file. Frozen code lives in flash, not in the heap.
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (asyncio, ...)
include("../../firmware/manifest.py")  # the meter: sts, meter, hal, ui, app.py, ...
module("board.py")
