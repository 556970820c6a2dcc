# fake_clock.py  a clock that moves only when told to, for the tests (not on a board: the
# firmware's is hal/clock.py's Clock)


class FakeClock:
    """now_ms() as hal.clock.Clock has it, from a number the test moves on."""

    def __init__(self, start_ms=0):
        self.ms = start_ms

    def now_ms(self):
        return self.ms

    def advance(self, ms):
        """Move the clock on by ms milliseconds."""
        self.ms += ms

    def set(self, ms):
        self.ms = ms
