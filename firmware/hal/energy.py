# energy.py  the energy source interface, and the ticks_diff every source measures with
# Every source (hal.s0.S0 for a meter's pulse output, hal.pzem.Pzem for a PZEM-004T, and
# hal.virtual.SimLoad, the simulator's and the page's load, which no board ships) has,
# duck-typed:
#   read(now_ms) -> int  whole joules (watt-seconds) measured since the previous read, >= 0;
#                        now_ms is the board's time.ticks_ms(): it wraps, so only the
#                        ticks_diff() of two readings means anything
#   watts                the last measured power in whole W, or None when unknown
#   error                "" when the last reading was good, else a short reason
#   errors               how many readings failed
# and optionally:
#   noise                impulses too fast to be energy, never charged (hal.s0.S0)
#   fault                "" or why the readings stopped until a restart (hal.pzem.Pzem): the
#                        loop opens the relay at once
# Joules, because every unit meets in them as a whole number far below 2**30 (where ints
# start to allocate on 32-bit ports): 0.1 kWh = 360,000 J, an S0 impulse at 1000 imp/kWh
# = 3600 J and at 3200 imp/kWh = 1125 J, a PZEM Wh = 3600 J.
# time.ticks_diff on a board; in CPython (whose clocks, and the tests' fake ones, do not wrap)
# the one fallback, meter.diff. hal.s0, hal.pzem and hal.virtual take it from here.
from meter import diff as ticks_diff  # noqa: F401
