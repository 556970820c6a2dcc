# gpio.py  a supply relay and an indicator LED on plain output pins
# Polarity is the board's business: many relay modules and some LEDs switch on when the
# pin is low, so each driver takes active_high.


class Relay:
    """The supply relay: set(True) closes it (supply on)."""

    def __init__(self, pin, active_high=True):
        self.pin = pin
        self.active_high = active_high
        self.closed = None  # unknown until set: the board chose the pin's power-on level

    def set(self, closed):
        """Close (True) or open (False) the relay."""
        self.closed = bool(closed)
        self.pin.value(1 if self.closed == self.active_high else 0)


class Led:
    """An indicator LED: set(True) lights it."""

    def __init__(self, pin, active_high=True):
        self.pin = pin
        self.active_high = active_high
        self.on = None

    def set(self, on):
        """Light (True) or darken (False) the LED."""
        self.on = bool(on)
        self.pin.value(1 if self.on == self.active_high else 0)
