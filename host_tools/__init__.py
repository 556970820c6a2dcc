# host_tools  the vending side in CPython: decoder keys, tokens, the conformance runner
# One codec for both sides: `sts` is the firmware's own, packaged from firmware/sts.
import os

# firmware/ in a checkout, read as files by the tools that build, deploy and simulate the
# meter (and put on sys.path by those that run its code); a wheel has no firmware/.
FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
