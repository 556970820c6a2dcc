# web.py  the meter's page and JSON API on the home network, a small asyncio HTTP/1.0 server
#   GET  /            the page, page.html (the same for every meter: it holds nothing until a PIN
#                     is typed)
#   GET  /api/status  the LCD lines, balance, supply, ... (JSON)
#   POST /api/token   {"token": "..."} -> {"result": NAME, "code": N, "lines": [...], ...}
# Every /api/ request needs the PIN: `Authorization: Bearer PIN`. A wrong PIN is refused and
# counted as a refused guess, with the keypad's (the same lock); while the keypad is locked
# no PIN is even compared. A client gets a few seconds for its whole request, a few at once.
import asyncio
import json
import os

from net.home import pieces
from ui.texts import CODES

_MAX_CLIENTS = 3  # at once; more are closed as they come
_REQUEST_MS = 5000  # for a whole request and its answer
_MAX_HEAD = 1024
_MAX_BODY = 256
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
}


class _State:
    clients = 0


def same(a, b):
    """a == b for bytes, in a time that does not tell where they differ."""
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


async def serve(home):
    h = home.settings.http
    try:
        await asyncio.start_server(
            lambda r, w: _client(home, r, w), h["host"], h["port"], backlog=_MAX_CLIENTS
        )
    except OSError as e:
        home.log("http: cannot serve on port %d: %s" % (h["port"], e))
        return
    home.log("http: serving on %s:%d" % (h["host"], h["port"]))


async def _client(home, r, w):
    if _State.clients >= _MAX_CLIENTS:  # a flood: the meter's passes come first
        await _close(w)
        return
    _State.clients += 1
    try:
        await asyncio.wait_for_ms(_handle(home, r, w), _REQUEST_MS)
    except MemoryError:  # (the meter's passes go on: this request is dropped, and said)
        home.log("http: out of memory for a request")
    except Exception:  # noqa: BLE001, S110 - a client too slow, gone, or malformed: closed
        pass
    finally:
        _State.clients -= 1
        await _close(w)


async def _close(w):
    try:
        w.close()
        await w.wait_closed()
    except Exception:  # noqa: BLE001, S110
        pass


def _head(w, code, n, ctype="application/json"):
    head = (
        "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    ) % (code, _REASONS[code], ctype, n)
    w.write(head.encode())  # (bytes: what the socket does not take at once is kept as bytes)


async def _send(w, code, body):
    """body: a dict, sent as JSON a piece at a time (the meter's texts are ASCII)."""
    n = 0
    for p in pieces(body):
        n += len(p)
    _head(w, code, n)
    for p in pieces(body):
        w.write(p.encode())
    await w.drain()


_MARK = b"<!--codes-->\n"  # the line of page.html where the short codes go


def _codes():
    """The short codes as list items, the ui's own (ui/texts.py), one at a time."""
    for k in sorted(CODES, key=lambda k: (len(k), k)):
        yield b"<li><b>%s</b> %s</li>" % (k.encode(), CODES[k].replace("_", " ").encode())


async def _page(w):
    """GET /: page.html, the file beside this module, sent a line at a time (none longer
    than about 100 bytes), the short codes at its marker: a few hundred bytes of heap while
    it is sent, nothing resident. (Frozen firmware: copy net/page.html to the file system.)"""
    path = __file__.rsplit("/", 1)[0] + "/page.html"
    try:
        n = os.stat(path)[6] - len(_MARK)
        f = open(path, "rb")
    except OSError:
        return await _send(w, 404, {"error": "no net/page.html on this board"})
    with f:
        for b in _codes():
            n += len(b)
        _head(w, 200, n, "text/html; charset=utf-8")
        while True:
            line = f.readline()
            if not line:
                return
            if line == _MARK:
                for b in _codes():
                    w.write(b)
            else:
                w.write(line)
            await w.drain()


def _headers(lines):
    """(the Authorization value or None, the body's length; -1 past _MAX_BODY)."""
    auth = None
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"authorization":
            auth = v.strip()
        elif k == b"content-length":
            v = v.strip()
            if not v.isdigit() or int(v) > _MAX_BODY:
                return auth, -1
            length = int(v)
    return auth, length


async def _token(home, w, body):
    """POST /api/token: the digits typed through the ui, as on the keypad."""
    try:
        t = json.loads(body)["token"]
        t = t.replace(" ", "").replace("-", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return await _send(w, 400, {"error": 'send {"token": "digits"}'})
    if not t or len(t) > 20 or not t.isdigit():
        return await _send(w, 400, {"error": "a token is 20 digits, a short code 1 to 4"})
    return await _send(w, 200, home.type(t))


async def _handle(home, r, w):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = await r.read(256)
        if not chunk:
            return
        buf += chunk
        if len(buf) > _MAX_HEAD:
            return await _send(w, 413, {"error": "request too long"})
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    first = lines[0].split(b" ")
    if len(first) != 3:
        return await _send(w, 400, {"error": "not HTTP"})
    method, path = first[0], first[1]
    auth, length = _headers(lines)
    if length < 0:
        return await _send(w, 413, {"error": "body too long"})
    while len(body) < length:
        chunk = await r.read(length - len(body))
        if not chunk:
            return
        body += chunk
    if path == b"/" and method == b"GET":
        return await _page(w)
    if not path.startswith(b"/api/"):
        return await _send(w, 404, {"error": "no such page"})
    left = home.locked()
    if left:  # no PIN compared while locked: the lock holds PIN guesses back as well
        return await _send(w, 429, {"result": "LOCKED", "code": 15, "locked": left})
    if auth is None or not auth.startswith(b"Bearer "):
        return await _send(w, 401, {"error": "PIN needed"})
    if not same(auth[7:], home.settings.http["pin"].encode()):
        home.guess()
        home.log("http: wrong PIN")
        return await _send(w, 401, {"error": "wrong PIN", "locked": home.locked()})
    if path == b"/api/status":
        if method != b"GET":
            return await _send(w, 405, {"error": "GET"})
        return await _send(w, 200, home.status())
    if path == b"/api/token":
        if method != b"POST":
            return await _send(w, 405, {"error": "POST"})
        return await _token(home, w, body)
    return await _send(w, 404, {"error": "no such API"})
