# fake_machine.py  a stand-in for MicroPython's `machine` module, so that the board's own code
# (hal/wiring.py, app.boot) runs in the unix port: pins that remember their level, an I2C bus
# with whatever device a test puts on it (nothing: every write fails, as with no LCD), a
# UART that records what was sent, and a watchdog that counts its feeds.
# Installed before the board's modules are imported: `mptest.py --fake-machine` (tests/mp/).


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    IRQ_FALLING = 4
    made = []  # every pin, in the order made

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.id = pin_id
        self.mode = mode
        self.pull = pull
        self.v = 1 if value is None else value
        self.handler = None
        Pin.made.append(self)

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = 1 if v else 0

    def irq(self, handler=None, trigger=0):
        self.handler = handler


class I2C:
    device = None  # what answers on the bus (e.g. hal_sim.SimPcf8574Hd44780); None: nothing

    def __init__(self, bus_id, sda=None, scl=None, freq=0):
        self.freq = freq

    def writeto(self, addr, buf):
        if I2C.device is None:
            raise OSError(19)  # ENODEV: no device acknowledged
        return I2C.device.writeto(addr, buf)


class UART:
    def __init__(self, uart_id, **settings):
        self.id = uart_id
        self.settings = settings
        self.sent = bytearray()

    def write(self, buf):
        self.sent += buf
        return len(buf)

    def any(self):
        return 0

    def readinto(self, buf, n=None):
        return None

    def read(self, n=None):
        return None


class WDT:
    made = []

    def __init__(self, wdt_id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        WDT.made.append(self)

    def feed(self):
        self.feeds += 1


def disable_irq():
    return 0


def enable_irq(state):
    pass


def reset_fakes():
    Pin.made = []
    WDT.made = []
    I2C.device = None
