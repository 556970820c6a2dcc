# tools  what only makes sense in a checkout: build .mpy, deploy and provision a board, build
# the classroom page, prepare the simulator, type-check the hardware code, run the
# conformance vectors. Not in the wheel (a vending office installs `stsvend`, not these).
import os

# firmware/ beside this folder, read as files by the tools that build, deploy and simulate
# the meter.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
