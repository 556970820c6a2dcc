# kernels.py  picks the viper kernels where the port has them, else portable Python
# VIPER     the sts._viper module, or None: sts then runs the kernels' portable twins (the
#           same results, many times slower: an STA decode 18x on an emulated Cortex-M0)
# fallback  "" when the viper kernels loaded; else why not, in a few words, for the board's
#           boot screen or log: "viper kernels not loaded: incompatible .mpy arch (ValueError)"
#           (an _viper.mpy built for another -march), or "no viper in CPython"
# expected  False only when that fallback is a fault: a port with a native emitter did not
#           load _viper (wrong .mpy arch, a damaged or missing file). True when the kernels
#           loaded, and where there is no viper to be had (CPython, the WebAssembly port)
import sys

VIPER = None
fallback = ""
expected = True
try:
    from sts import _viper as VIPER  # noqa: F401  (the name is the module's answer)
except Exception as e:  # whatever it was, the portable twins still decode
    # sys.implementation._mpy holds the port's native architecture from bit 10 up: 0 when
    # the port has no native emitter, hence no viper (WebAssembly); CPython has no _mpy.
    if sys.implementation.name != "micropython":
        fallback = "no viper in %s" % sys.implementation.name
    elif not getattr(sys.implementation, "_mpy", 0) >> 10:
        fallback = "no viper on this port (%s)" % sys.platform
    else:
        fallback = "viper kernels not loaded: %s (%s)" % (e, type(e).__name__)
        expected = False
