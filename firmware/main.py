# main.py  a board's power-up: the board's drivers, then the meter's loop (startup.py, app.py)
# Copied to the board's root with board.py (boards/<name>/board.py), which alone names pins.
# MicroPython runs this file from source at every start: it stays this small, and the rest
# is compiled to .mpy.
import board
import startup

startup.boot(board)
