# host_tools  the vending side in CPython: decoder keys, tokens, the conformance runner
import os
import sys

FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
if FIRMWARE not in sys.path:  # one codec for both sides: the firmware's own `sts`
    sys.path.insert(0, FIRMWARE)
