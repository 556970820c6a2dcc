# simterm.py  the simulator's interactive face: the LCD drawn in the terminal, keys typed
# Loaded by sim.py only when it runs in a terminal (not with --script). Drawn on the
# terminal's alternate screen, and only when something on it changed: no scrollback flood.
import sys
import time

from meter import results as R

FAST_FORWARD_MS = 600000  # the f key: 10 minutes of supply (and of every wait) at once
# f walks its 10 minutes a second a pass, as a board's loop would: the energy of each second
# is measured with the relay as it was then (a trip that ends on the way lets the rest count).
FAST_FORWARD_STEP = 1000
# A token the meter has taken (a section held or a key change it completed counts; typed
# again, it is still used): marked in the list, and remembered in the state directory.
TAKEN = (R.ACCEPT, R.KCT_STAGED, R.KEY_CHANGED, R.USED, R.KCT_DONE)
_drawn = [None]  # the text on the terminal


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


def fast_forward(sim, ms=FAST_FORWARD_MS):
    """Let `ms` pass, a pass of the loop every FAST_FORWARD_STEP."""
    while ms > 0:
        step = min(FAST_FORWARD_STEP, ms)
        sim.advance(step)
        ms -= step


def used_tokens(sim):
    """The tokens (digits only) this meter has taken, as the simulator saw them typed."""
    try:
        with open(sim.state + "/used.txt") as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return []


def enter(sim):
    """Enter (#); a token the meter takes is noted as used."""
    typed = bytes(sim.loop.ui.digits)
    sim.press("#")
    if len(typed) == 20 and sim.loop.m.last in TAKEN:
        t = typed.decode()
        if t not in sim.used:
            sim.used.append(t)
            with open(sim.state + "/used.txt", "a") as f:
                f.write(t + "\n")


def token_lines(sim):
    """The token list, each marked `used` once the meter has taken it."""
    out = []
    for line in sim.tokens:
        digits = line[:26].replace(" ", "")
        out.append(("  used " if digits in sim.used else "       ") + line + "\r\n")
    return out


def draw(sim):
    """Draw the screen if anything on it changed; True if it was drawn."""
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
        out.extend(token_lines(sim))
    text = "".join(out)
    if text == _drawn[0]:
        return False
    _drawn[0] = text
    sys.stdout.write(text)
    return True


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
    sys.stdout.write("\x1b[?1049h")  # the alternate screen: the shell's scrollback stays clean
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    loads = (0, 1000, 2000)
    sim.used = used_tokens(sim)
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
            if c in "0123456789*":
                sim.press(c)
            elif c in "\r\n#":
                enter(sim)
            elif c in "\x7f\x08":
                sim.press("*")
            elif c in "cC":
                sim.press("C")
            elif c == "l":
                sim.load(loads[(loads.index(sim.watts) + 1) % 3] if sim.watts in loads else 0)
            elif c == "f":
                fast_forward(sim)
            elif c == "r":
                sim.read_tokens()
            elif c in "q\x03":
                break
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)
        sys.stdout.write("\x1b[?1049l")
