# homenet.py  the home meter's test rig: a real mosquitto on a free 127.0.0.1 port (a temp
# config, never a system service), the simulator --headless on a demo meter, and a real MQTT
# client (paho-mqtt) that sees what Home Assistant would (test_home_meter, test_home_page).
import json
import os
import queue
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import FIRMWARE, ROOT, micropython_binary, path_env
from tools import simprep

SIM = os.path.join(ROOT, "boards", "unix", "sim.py")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
WAIT = 30  # s: the most any event here is waited for (a deadline, not a measurement)
PIN = "482193"


def missing(what):
    if os.environ.get("CI"):
        pytest.fail("%s: the home meter's tests must run in CI (.ci/run installs it)" % what)
    pytest.skip(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(what, pred, timeout=WAIT):
    """Wait for pred() to be true (polled); fail saying `what` if it never is."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("never happened: " + what)
        time.sleep(0.05)


class Broker:
    """mosquitto on 127.0.0.1:port, no persistence: a restart forgets every retained message."""

    def __init__(self, tmp, keep=False):
        """keep: sessions and their queued messages (QoS 0 too) kept across a restart, in a
        file under tmp: a subscriber with a persistent session misses nothing meanwhile."""
        if not os.path.exists(MOSQUITTO):
            missing("no mosquitto (apt-get install mosquitto)")
        self.port = free_port()
        self.conf = os.path.join(str(tmp), "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % self.port)
            if keep:
                f.write("persistence true\npersistence_location %s/\n" % tmp)
                f.write("queue_qos0_messages true\n")
                if os.geteuid() == 0:  # (else it becomes user mosquitto: no access to tmp)
                    f.write("user root\n")
            else:
                f.write("persistence false\n")
        self.p = None

    def start(self):
        self.p = subprocess.Popen(
            [MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return True
            except OSError:
                return False

        until("mosquitto listening", up)

    def stop(self):
        if self.p is not None:
            self.p.terminate()
            self.p.wait(10)
            self.p = None


class Observer:
    """Home Assistant's side: every message on the broker, the last one of each topic kept."""

    def __init__(self, port, session=None):
        """session: a client id whose session the broker keeps (QoS 1 subscription): the
        messages published while this client is away are sent to it when it is back."""
        import paho.mqtt.client as mqtt

        self.last = {}
        self.log = []
        self.lock = threading.Lock()
        if session:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, session, clean_session=False)
        else:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.c = c
        # (a session the broker kept is subscribed already: no retained copies again)
        c.on_connect = lambda c, u, f, rc, p: (
            None if session and f.session_present else c.subscribe("#", qos=1 if session else 0)
        )
        c.on_message = self._message
        c.reconnect_delay_set(0.2, 1)
        c.connect("127.0.0.1", port)
        c.loop_start()

    def _message(self, c, u, m):
        with self.lock:
            self.last[m.topic] = m.payload.decode()
            self.log.append((m.topic, m.payload.decode(), m.retain))

    def topic(self, t):
        with self.lock:
            return self.last.get(t)

    def state(self, pan):
        s = self.topic("stsmeter/%s/state" % pan)
        return json.loads(s) if s else {}

    def forget(self):
        with self.lock:
            self.last.clear()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def demo(tmp):
    """A fresh demo meter's state dir, and its tokens by label."""
    state = os.path.join(str(tmp), "s")
    simprep.main(["--state", state, "--seed", "1"])
    tokens = {}
    with open(os.path.join(state, "tokens.txt")) as f:
        for line in f:
            if line.strip():
                tokens[line[26:].strip()] = line[:26].strip().replace(" ", "")
    return state, tokens


def tok(tokens, label):
    found = [t for k, t in tokens.items() if k.startswith(label)]
    assert len(found) == 1, (label, sorted(tokens))
    return found[0]


class Meter:
    """boards/unix/sim.py --headless: commands to stdin, its JSON lines read as they come."""

    def __init__(self, state, mqtt_port=None, http_port=None, extra=()):
        cmd = [micropython_binary(), SIM, "--headless", "--state", state]
        cmd += ["--profile", os.path.join(state, "meter.json")]
        if mqtt_port:
            cmd += ["--mqtt", "127.0.0.1:%d" % mqtt_port]
        self.http_port = http_port
        if http_port:
            cmd += ["--http", "127.0.0.1:%d" % http_port, "--http-pin", PIN]
        cmd += list(extra)
        self.p = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=path_env(FIRMWARE),
        )
        self.lines = []
        self.raw = []
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        if http_port:
            self.wait("the page served", lambda o: "http: serving" in o.get("net", ""))

    def _read(self):
        for line in self.p.stdout:
            self.raw.append(line)
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                self.lines.append({"stray": line})

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait(self, what, pred, start=0):
        """The first line from index `start` on that pred() accepts (waited for)."""

        def find():
            for o in self.lines[start:]:
                if pred(o):
                    return o
            assert self.p.poll() is None, "the simulator ended: %s" % self.p.stderr.read()
            return None

        return until(what, find)

    def frames(self, start=0):
        return [o["lines"] for o in self.lines[start:] if "lines" in o and "t" in o]

    def home(self):
        n = len(self.lines)
        self.send("home")
        return self.wait("home status", lambda o: "home" in o, n)["home"]

    def http(self, method, path, body=None, pin=PIN, raw=False):
        """(status, JSON answer) of a request to the meter's API."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.http_port, path), data=data, method=method
        )
        if pin is not None:
            req.add_header("Authorization", "Bearer " + pin)
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as r:
                b = r.read()
                return r.status, (b if raw else json.loads(b))
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stop(self):
        if self.p.poll() is None:
            try:
                self.send("quit")
                self.p.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.t.join(5)
        err = self.p.stderr.read()
        self.p.stdin.close()
        self.p.stdout.close()
        self.p.stderr.close()
        return err
