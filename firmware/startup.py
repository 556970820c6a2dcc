# startup.py  a board's power-up and its loop around app.Loop: the watchdog, the fail-safe,
# the self-test with * held. main.py calls boot(board); compiled to .mpy with the rest (a
# board compiles main.py from source at every start, so that stays three lines).
import gc
import os
import time

from app import Loop, fit, log

from meter.results import STORAGE
from ui.texts import RESULT

HOME = "/home.json"  # net/settings.py's PATH: without it, net/ is never loaded


def fail_safe(dev):
    """Supply off and METER FAULT shown, whatever failed; each part tried on its own, and
    nothing raised (what failed is the caller's to log)."""
    for name, on in (("relay", False), ("led", True)):
        try:
            if name in dev:
                dev[name].set(on)
        except Exception:  # noqa: BLE001, S110 - the next part is tried all the same
            pass
    try:
        dev["display"].show(fit(RESULT[STORAGE], dev["display"]))
    except Exception:  # noqa: BLE001, S110 - the display may be what failed
        pass


def run(dev, period_ms=20):
    """A board's loop. Any error that escapes it leaves the supply off and the fault shown,
    writes the traceback to the log, then is raised: the watchdog, no longer fed, restarts
    the board, which reads its state again (supply off until then)."""
    dev["relay"].set(False)
    try:
        loop = Loop(dev)
        if dev.get("home") is not None:  # a home meter: the same passes, the network beside
            from net.home import serve

            serve(loop, dev["home"], period_ms, lambda text: log(dev, text))
        while True:
            loop.step()
            time.sleep_ms(period_ms)
    except BaseException as e:  # a bug, a driver, Ctrl-C: never a closed relay left behind
        fail_safe(dev)  # (raises nothing)
        if isinstance(e, KeyboardInterrupt):
            log(dev, "stopped (Ctrl-C)")
        else:
            log(dev, "METER FAULT", e)
        raise


def service_key_held(dev, key="*", scans=30):
    """True if `key` is held down at power-up (the keypad debounces over a few scans)."""
    kp = dev["keypad"]
    for _ in range(scans):
        if kp.scan() == key:
            return True
        time.sleep_ms(5)
    return False


def home_settings(dev):
    """The home meter's settings (dev["settings"] or /home.json: net/settings.py), or None:
    no file (net/ is not loaded: a keypad meter's heap), a build without net/, or a file that
    does not parse (logged: a keypad meter)."""
    path = dev.get("settings", HOME)
    try:
        os.stat(path)
    except OSError:
        return None
    try:
        from net.settings import load
    except ImportError:
        return None
    try:
        return load(path)
    except ValueError as e:  # (the message names the field, never its value)
        log(dev, "home.json: %s: no network" % e)
        return None


def boot(board):
    """A board's power-up (main.py): the drivers from board.setup(); with * held, the
    self-test (no watchdog, the relay open, the REPL free for mpremote); else the meter,
    the watchdog running from here on."""
    dev = board.setup()
    dev["relay"].set(False)
    if service_key_held(dev):
        import selftest

        selftest.run(dev)
        return
    home = home_settings(dev)
    if home is not None:
        dev["home"] = home
    wdt_ms = getattr(board, "WATCHDOG_MS", 8000)
    if wdt_ms:
        from machine import WDT

        dev["wdt"] = WDT(timeout=wdt_ms)
    gc.collect()  # what the power-up left (main.py's compilation) is not in the meter's way
    run(dev, getattr(board, "PERIOD_MS", 20))
