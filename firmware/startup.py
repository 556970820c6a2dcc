# startup.py  a board's power-up and its loop around app.Loop: the watchdog, the fail-safe,
# the self-test with * held. main.py calls boot(board); compiled to .mpy with the rest (a
# board compiles main.py from source at every start, so that stays three lines).
# The meter's modules are imported by run(), not here: the cipher's first (cipher_first), into
# a heap still in one piece, then the rest of the meter (app).
import gc
import os
import time

HOME = "/home.json"  # net/settings.py's PATH: without it, net/ is never loaded
PROFILE = "/meter.json"  # app.meter_for's provisioning file, unless the board names one
GC_EVERY = 2048  # bytes allocated between two collections, from the boot on (see run)


def cipher_ea(dev, codes):
    """The meter's encryption algorithm (a name of codes: sts.codec.EA), without loading the
    meter: the first byte of a state slot's record (every format's), else the provisioning
    file's "ea" (a first start); None when neither says. A slot that is torn or bad may name
    none: the meter then loads its cipher itself, later."""
    for slot in (0, 1):
        try:
            with open("%s.%d" % (dev["state"], slot), "rb") as f:
                head = f.read(11)  # the store's head (magic, sequence, length), then the EA
        except OSError:
            continue
        if len(head) == 11 and head[:3] == b"STM":
            for name, code in codes.items():
                if code == head[10]:
                    return name
    data = dev.get("provision")
    if data is None:
        try:
            import json

            with open(dev.get("profile", PROFILE)) as f:
                data = json.load(f)
        except (OSError, ValueError):  # none, or not JSON: app.meter_for says why
            return None
    ea = data.get("ea") if isinstance(data, dict) else None
    for name in codes:
        if name == ea:
            return name  # (sts.codec's string: the file's are all garbage now)
    return None


def cipher_first(dev):
    """The viper kernels' machine code and the meter's cipher (STA's two 2 KB table
    constants, or MISTY1's), imported before the rest of the meter: each needs a run of
    the heap in one piece, which a 64 KB heap from a file system no longer has once the
    meter's modules are in (docs/emulation.md). What reading the state or the provisioning
    file left is collected before the cipher comes in."""
    gc.collect()
    from sts import kernels  # noqa: F401  (the machine code first: the longest run)
    from sts.codec import EA, cipher_class

    ea = cipher_ea(dev, EA)
    gc.collect()
    if ea is not None:
        cipher_class(ea)
    gc.collect()


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
        from app import fit  # (loaded by run(), unless that failed too)

        from meter.results import STORAGE
        from ui.texts import RESULT

        dev["display"].show(fit(RESULT[STORAGE], dev["display"]))
    except Exception:  # noqa: BLE001, S110 - the display may be what failed
        pass


def _log(dev, text, exc=None):
    """app.log (which never raises), or nothing where app did not load."""
    try:
        from app import log
    except Exception:  # noqa: BLE001 - e.g. the MemoryError that stopped its import
        return
    log(dev, text, exc)


def run(dev, period_ms=20):
    """A board's loop. Any error that escapes it leaves the supply off and the fault shown,
    writes the traceback to the log, then is raised: the watchdog, no longer fed, restarts
    the board, which reads its state again (supply off until then)."""
    dev["relay"].set(False)
    try:
        # A collection every GC_EVERY bytes from here on, the modules' loading too: what each
        # import leaves is collected before the next one is in, whose pieces fill its holes
        # (without it the free heap after boot was in pieces of at most 512 bytes, with it
        # in one of 5 to 6 KB on the emulated Cortex-M3), and each pass's objects as the loop
        # goes, not strewn over every free run until the heap is full.
        gc.threshold(GC_EVERY)
        cipher_first(dev)
        from app import Loop

        # What loading the modules left is collected first: the meter's own objects fill its
        # holes, and the free run above the modules stays in one piece for what loads later.
        gc.collect()
        loop = Loop(dev)
        if dev.get("home") is not None:  # a home meter: the same passes, the network beside
            from net.home import serve

            serve(loop, dev["home"], period_ms, lambda text: _log(dev, text))
        while True:
            loop.step()
            time.sleep_ms(period_ms)
    except BaseException as e:  # a bug, a driver, Ctrl-C: never a closed relay left behind
        fail_safe(dev)  # (raises nothing)
        gc.threshold(-1)  # (the loop's: a test that runs the loop gets the port's back)
        if isinstance(e, KeyboardInterrupt):
            _log(dev, "stopped (Ctrl-C)")
        else:
            _log(dev, "METER FAULT", e)
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
        _log(dev, "home.json: %s: no network" % e)
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
