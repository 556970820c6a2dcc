# manifest.py  the meter frozen into an ESP32 (DevKitC) firmware image
# include, package and module come from MicroPython's makemanifest, not Python:
# ruff: noqa: F821
# Build from a micropython checkout (the README here has the steps):
#   cd ports/esp32 && make BOARD=ESP32_GENERIC \
#       FROZEN_MANIFEST=/path/to/stsmeter/boards/esp32/manifest.py
# Paths here are relative to this file. Frozen code lives in flash, not in the heap.
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (asyncio, ...)
package("sts", base_path="../../firmware")
package("meter", base_path="../../firmware")
package("hal", base_path="../../firmware")
package("ui", base_path="../../firmware")
module("app.py", base_path="../../firmware")
module("selftest.py", base_path="../../firmware")
module("startup.py", base_path="../../firmware")
module("main.py", base_path="../../firmware")
module("board.py")
