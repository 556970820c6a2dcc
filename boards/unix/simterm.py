# simterm.py  the simulator's interactive face: the LCD drawn in the terminal, keys typed
# Loaded by sim.py only when it runs in a terminal (not with --script).
import sys
import time

FAST_FORWARD_MS = 600000  # the f key: 10 minutes of supply (and of every wait) at once


def waits(s):
    """What the meter is waiting out, in words, each with the seconds left (status())."""
    out = []
    if s.get("lock_left"):
        out.append("keypad locked: %d s left" % s["lock_left"])
    if s.get("trip_left"):
        out.append("overload trip: supply back in %d s" % s["trip_left"])
    if s.get("kct_left"):
        out.append(
            "key change %d of %d held: %d s left for the rest"
            % (s["kct_held"], s["kct_of"], s["kct_left"])
        )
    return out


def draw(sim):
    f = sim.frame()
    bar = "+" + "-" * (sim.cols + 2) + "+"
    s = sim.loop.m.status()
    supply = "ON " if sim.relay.closed else "OFF"
    out = ["\x1b[H\x1b[2J", "  stsmeter simulator (%s)\r\n\r\n" % sim.state, "  " + bar + "\r\n"]
    for line in f:
        out.append("  | " + line + " |\r\n")
    out.append("  " + bar + "\r\n\r\n")
    trip = "  TRIPPED: load over the max power limit" if s.get("tripped") else ""
    out.append("  supply %s  load %d W%s\r\n" % (supply, sim.watts, trip))
    out.extend("  " + w + "\r\n" for w in waits(s))  # live: redrawn 5 times a second
    out.append(
        "\r\n  keys: 0-9, Enter = #, Backspace = *, c = clear, l = load 0/1/2 kW,\r\n"
        "        f = 10 minutes on, r = reread the tokens, q = quit\r\n"
    )
    if sim.tokens:
        out.append("\r\n  tokens to try (`make sim-tokens` makes new ones for this meter):\r\n")
        out.extend("    " + t + "\r\n" for t in sim.tokens)
    sys.stdout.write("".join(out))


def interactive(sim):
    import select
    import termios

    fd = 0
    try:
        old = termios.tcgetattr(fd)
    except OSError:  # stdin is a pipe or a file, not a terminal
        sys.stderr.write(
            "sim.py: the interactive simulator needs a terminal; "
            "for commands on stdin use --script (see the README)\n"
        )
        sys.exit(2)
    termios.setraw(fd)
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    loads = (0, 1000, 2000)
    last = time.ticks_ms()
    try:
        while True:
            draw(sim)
            ready = poll.poll(200)
            now = time.ticks_ms()
            sim.advance(time.ticks_diff(now, last))
            last = now
            if not ready:
                continue
            c = sys.stdin.read(1)
            if c in "0123456789#*":
                sim.press(c)
            elif c in "\r\n":
                sim.press("#")
            elif c in "\x7f\x08":
                sim.press("*")
            elif c in "cC":
                sim.press("C")
            elif c == "l":
                sim.load(loads[(loads.index(sim.watts) + 1) % 3] if sim.watts in loads else 0)
            elif c == "f":
                sim.advance(FAST_FORWARD_MS)
            elif c == "r":
                sim.read_tokens()
            elif c in "q\x03":
                break
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)
        sys.stdout.write("\r\n")
