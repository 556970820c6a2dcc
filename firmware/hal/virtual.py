# virtual.py  the drivers of a meter with no hardware: the simulator's and the classroom page's
# They meet app.Loop's interfaces (hal/__init__.py) with what the terminal or the page gives:
# keys pressed, the frame last shown, the relay's state, and a clock moved on by the caller.


class Keys:
    """The keypad: keys pressed (push), taken one a pass of the loop."""

    def __init__(self):
        self.queue = []

    def push(self, k):
        self.queue.append(k)

    def scan(self):
        return self.queue.pop(0) if self.queue else None


class Screen:
    """The display: keeps the frame last shown."""

    def __init__(self, rows=2, cols=16):
        self.rows = rows
        self.cols = cols
        self.lines = [" " * cols] * rows

    def show(self, lines):
        self.lines = list(lines)


class Switch:
    """The relay: `closed` is what the loop set last (open until it sets it)."""

    closed = False

    def set(self, closed):
        self.closed = bool(closed)


class Ticks:
    """A board's time.ticks_ms(): `ms`, moved on by the caller (time.ticks_add, so it wraps
    as a board's does)."""

    ms = 0

    def now_ms(self):
        return self.ms
