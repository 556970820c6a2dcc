# hal  drivers behind tiny interfaces; only boards/<name>/board.py names pins, and
# hal/wiring.py (which board.py calls) picks the drivers: the rest of the firmware is given
# them (boards/unix/sim.py and the classroom page give it hal/virtual.py's)
# The interfaces the rest of the firmware relies on (duck-typed, nothing to inherit):
#   keypad:  scan() -> one key character ("0".."9", "*", "#", "A".."D") per press, or None;
#            debounced; call it every few milliseconds
#   display: rows, cols; show(lines) draws a frame: a list of `rows` strings of `cols` chars
#   relay:   set(closed: bool); closed -> supply on.   led: set(on: bool)
#   clock:   now_ms() -> milliseconds of time.ticks_ms(): they wrap and restart at power-up;
#            the meter and ui use only the time between readings (meter.diff)
#   storage: a directory prefix on a mounted file system, for meter.store.RecordStore
