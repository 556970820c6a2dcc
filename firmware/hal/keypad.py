# keypad.py  a matrix keypad (4x4 or 4x3): debounced, one event per press, no allocation
# Wiring: rows are outputs idling high, columns are inputs with pull-ups; a pressed key
# pulls its column low while its row is driven low. The board file makes the pins, e.g.
# Pin(n, Pin.OUT, value=1) and Pin(n, Pin.IN, Pin.PULL_UP); here they only need .value().
from micropython import const

KEYS_4X4 = "123A456B789C*0#D"
KEYS_4X3 = "123456789*0#"
_QUEUE = const(8)  # events; a power of two, so the ring index wraps with a mask


class Keypad:
    """Scan a key matrix; scan() returns the next key pressed ("0".."9", "*", "#", "A".."D")."""

    def __init__(self, rows, cols, keymap, debounce=2):
        if len(keymap) != len(rows) * len(cols):
            raise ValueError("keymap needs one key per row and column")
        self.rows = rows
        self.cols = cols
        # a tuple of one-char strings: indexing a str allocates a new string on each call
        self._keys = tuple(keymap)
        self._debounce = debounce
        self._raw = 0  # the last reading, one bit per key (bit = row * ncols + col)
        self._same = 0  # how many scans in a row gave that reading
        self._state = 0  # the debounced keys held down
        self._q = bytearray(_QUEUE)
        self._head = 0
        self._tail = 0
        for p in rows:
            p.value(1)

    def _read(self):
        bits = 0
        bit = 1
        cols = self.cols
        for r in self.rows:
            # no settling delay: the interpreter takes longer between the write and the
            # read than a pulled-up column line takes to follow
            r.value(0)
            for c in cols:
                if not c.value():
                    bits |= bit
                bit <<= 1
            r.value(1)
        return bits

    def scan(self):
        """One scan pass; then the next queued key, or None."""
        raw = self._read()
        if raw == self._raw:
            if self._same < self._debounce:
                self._same += 1
        else:
            self._raw = raw
            self._same = 1
        if self._same >= self._debounce and raw != self._state:
            # only keys that went down make events: holding a key never repeats it
            new = raw & ~self._state
            self._state = raw
            i = 0
            while new:
                if new & 1:
                    self._put(i)
                new >>= 1
                i += 1
        if self._head == self._tail:
            return None
        k = self._q[self._tail & (_QUEUE - 1)]
        self._tail = (self._tail + 1) & 0xFF
        return self._keys[k]

    def _put(self, k):
        # a full queue drops the newest key: the person sees it missing and types it again
        if (self._head - self._tail) & 0xFF < _QUEUE:
            self._q[self._head & (_QUEUE - 1)] = k
            self._head = (self._head + 1) & 0xFF

    def held(self):
        """The debounced keys now down, as a bitmap (bit = row * ncols + col)."""
        return self._state
