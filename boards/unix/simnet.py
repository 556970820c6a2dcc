# simnet.py  the simulator headless: the board's loop in real time with the network beside it
# (net/home.py: MQTT to --mqtt, the page and API on --http), as a board with WiFi runs it.
# stdout: every frame, and what the network did, one JSON line each; stdin: key, keys, type,
# load, wait (time fast-forwarded, the network running between passes), status, mem, home
# (the network's view), quit.
import asyncio
import json
import sys
import time

from net.home import Home, dumps

PERIOD_MS = 20  # a board's pass (startup.run)
STEP = 100  # ms: the passes of a fast-forward (`wait`), as sim.py's


def headless(sim, settings, check, emit):
    """The loop in real time with the network beside it; emit() writes a frame that changed
    (sim.emitter's), check(cmd, arg) says what is wrong with a script command."""
    out = sys.stdout
    home = Home(lambda: sim.loop, settings, lambda text: _say(out, sim, "net", text))
    last = [time.ticks_ms()]

    def step():
        now = time.ticks_ms()
        sim.advance(time.ticks_diff(now, last[0]))  # one pass of the loop
        last[0] = now
        emit()  # (Home.run calls home.passed() after it)

    async def commands():
        try:
            await reading()
        except Exception as e:  # (a MemoryError): the run ends, never goes on deaf to stdin
            sys.print_exception(e, sys.stderr)
            raise SystemExit(3) from None

    async def reading():
        r = asyncio.StreamReader(sys.stdin)
        while True:
            raw = await r.readline()
            if not raw:
                return  # stdin closed: the meter runs on until it is stopped
            cmd, _, arg = raw.decode().strip().partition(" ")
            arg = arg.strip()
            bad = check(cmd, arg) if cmd != "home" else None
            if bad or cmd in ("reboot", "writes", "personalise"):
                _say(out, sim, "error", bad or cmd + ": not in --headless")
            elif cmd == "quit":
                raise SystemExit(0)
            elif cmd in ("key", "keys", "type"):
                keys = arg.replace(" ", "").replace("-", "") + ("#" if cmd == "type" else "")
                for k in keys:
                    sim.press(k)
                    home.passed()  # (every pass: as a board's)
                    emit()
            elif cmd == "wait":  # fast-forward: the time passes at once, pass by pass
                left = int(arg)
                while left > 0:
                    sim.advance(min(STEP, left))
                    home.passed()
                    left -= STEP
                    emit()
                    await asyncio.sleep_ms(0)  # the network's turn between passes
            elif cmd == "load":
                sim.load(int(arg))
                home.passed()
            elif cmd in ("status", "home", "mem"):
                _answer(out, sim, home, cmd)
            emit()

    async def main():
        emit()
        asyncio.create_task(commands())
        await home.run(step, PERIOD_MS)

    try:
        asyncio.run(main())
    except SystemExit as e:
        if e.args and e.args[0]:
            raise


def _answer(out, sim, home, cmd):
    """The queries: each on a line of its own, streamed (no one string as long as the line)."""
    if cmd == "mem":
        import gc

        gc.collect()
        out.write(
            '{"t": %d, "mem_alloc": %d, "mem_free": %d}\n'
            % (sim.now, gc.mem_alloc(), gc.mem_free())
        )
        return
    out.write('{"t": %d, "%s": ' % (sim.now, cmd))
    if cmd == "status":
        json.dump(sim.loop.m.status(), out)
    else:
        s = home.status()
        s["mqtt"] = home.mqtt
        out.write(dumps(s))
    out.write("}\n")


def _say(out, sim, key, value):
    out.write(json.dumps({"t": sim.now, key: value}) + "\n")


def settings_from(opts):
    """Settings from the simulator's flags (as a board's /home.json would give them)."""
    from net.settings import parse  # (net/home.py lets it go once the meter runs)

    data = {"low_credit": float(opts["--low-credit"])}
    if opts["--mqtt"]:
        host, _, port = opts["--mqtt"].rpartition(":")
        data["mqtt"] = {"host": host, "port": int(port), "interval": int(opts["--interval"])}
    if opts["--http"]:
        host, _, port = opts["--http"].rpartition(":")
        data["http"] = {"host": host, "port": int(port), "pin": opts["--http-pin"] or ""}
    return parse(data)
