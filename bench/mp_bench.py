# mp_bench.py  times decodes in whichever interpreter runs it (micropython or CPython)
# Usage: <python> bench/mp_bench.py TOKENS_FILE, with firmware/, bench/ and tests/mp/ (filedev:
# a block device for LittleFS) on its path (MICROPYPATH or PYTHONPATH: bench/run.py sets both)
# Prints one JSON line per variant: median us per decode, and heap bytes per decode; the
# decode's two halves too: the parse (digits to the encrypted block, and the CRC check the
# decode makes after decrypting) and the decrypt alone. The first line: which kernels ran.
import gc
import json
import sys
from array import array

from demo_meter import profile

import baseline
from sts import digits, kernels
from sts.codec import Decoder
from sts.crc import matches
from sts.misty1 import Misty1
from sts.sta import Sta

try:
    from time import ticks_diff, ticks_us
except ImportError:  # CPython
    from time import perf_counter_ns

    def ticks_us():
        return perf_counter_ns() / 1000

    def ticks_diff(a, b):
        return a - b


_MP = sys.implementation.name == "micropython"
REPEAT = 10  # decodes of each token per timing, for resolution (ticks_us)
FAST = 100  # for the variants of a microsecond or two


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure(name, tokens, fn, expect_ok, repeat=REPEAT):
    # Preallocated, so that what survives each decode does not fragment micropython's heap.
    times = array("f", bytes(4 * len(tokens)))
    allocs = array("i", bytes(4 * len(tokens)))
    gc.collect()
    for i, t in enumerate(tokens):
        if expect_ok and fn(t):
            raise SystemExit("%s refused a good token %s" % (name, t))
        t0 = ticks_us()
        for _ in range(repeat):
            fn(t)
        times[i] = ticks_diff(ticks_us(), t0) / repeat
        if _MP:
            a = gc.mem_alloc()
            fn(t)
            allocs[i] = gc.mem_alloc() - a
    out = {
        "variant": name,
        "interp": sys.implementation.name,
        "tokens": len(tokens),
        "median_us": median(times),
    }
    if _MP:
        out["alloc_median"] = median(allocs)
        out["alloc_max"] = max(allocs)
    print(json.dumps(out))


def parse_step(portable):
    """The decode's work besides the cipher: digits to limbs, and the CRC check."""
    b = array("I", bytes(12))

    def step(t):
        cls = digits.parse(t, b, portable)
        matches(cls, b, portable)
        return cls < 0

    return step


def decrypt_step(cipher):
    """The decode's cipher alone, on a block parsed once (a decrypt's time is the same
    whatever the block)."""
    b = array("I", bytes(12))

    def step(t):
        cipher.decrypt(b)

    return step


def main(path):
    with open(path) as f:
        spec = json.load(f)
    sta_key = bytes(int(spec["sta_key"][i : i + 2], 16) for i in range(0, 16, 2))
    m1_key = bytes(int(spec["misty1_key"][i : i + 2], 16) for i in range(0, 32, 2))
    sta_tokens = [t.encode() for t in spec["sta_tokens"]]
    m1_tokens = [t.encode() for t in spec["misty1_tokens"]]
    variants = [
        ("sta", sta_tokens, Decoder(Sta(sta_key)).decode, FAST),
        ("sta-portable", sta_tokens, Decoder(Sta(sta_key, portable=True)).decode, REPEAT),
        ("misty1", m1_tokens, Decoder(Misty1(m1_key)).decode, FAST),
        ("misty1-portable", m1_tokens, Decoder(Misty1(m1_key, portable=True)).decode, REPEAT),
        ("parse", sta_tokens, parse_step(False), FAST),
        ("parse-portable", sta_tokens, parse_step(True), FAST),
        ("sta-decrypt", sta_tokens, decrypt_step(Sta(sta_key)), FAST),
        ("sta-decrypt-portable", sta_tokens, decrypt_step(Sta(sta_key, portable=True)), REPEAT),
        ("misty1-decrypt", m1_tokens, decrypt_step(Misty1(m1_key)), FAST),
        (
            "misty1-decrypt-portable",
            m1_tokens,
            decrypt_step(Misty1(m1_key, portable=True)),
            REPEAT,
        ),
    ]
    k = int(spec["sta_key"], 16)
    text = [t.decode() for t in sta_tokens]

    def base(t):
        return baseline.decode(t, k) is None

    print(
        json.dumps(
            {
                "kernels": kernels.fallback,
                "expected": kernels.expected,
                "interp": sys.implementation.name,
            }
        )
    )
    gc.collect()
    for name, toks, fn, repeat in variants:
        measure(name, toks, fn, True, repeat)
    measure("sta-bitwise-baseline", text, base, True)
    if _MP:
        measure_apply(sta_key, [t.encode() for t in spec["meter_tokens"]])


def measure_apply(key, tokens):
    """Meter.apply of credit tokens, persistence included, on LittleFS (as a board) over a
    block device that allocates nothing (a file: as a board's flash driver, written in C);
    the heap of each apply measured alone, after a collection."""
    import os

    import vfs
    from filedev import FileDev

    from meter.meter import Meter
    from meter.store import RecordStore

    img = sys.argv[1] + ".img"
    dev = FileDev(img, blocks=128)
    vfs.VfsLfs2.mkfs(dev)
    vfs.mount(vfs.VfsLfs2(dev), "/bench")
    m = Meter(RecordStore("/bench/state"))
    m.personalise(
        profile(decoder_key=key),
        0,
    )
    times = array("f", bytes(4 * len(tokens)))
    allocs = array("i", bytes(4 * len(tokens)))
    gc.collect()
    for i, t in enumerate(tokens):
        gc.collect()
        a = gc.mem_alloc()
        t0 = ticks_us()
        r = m.apply(t, 1000 + i)
        times[i] = ticks_diff(ticks_us(), t0)
        allocs[i] = gc.mem_alloc() - a
        if r.code != 1:
            raise SystemExit("apply refused a good token: %r" % r)
    print(
        json.dumps(
            {
                "variant": "meter-apply-credit",
                "interp": sys.implementation.name,
                "tokens": len(tokens),
                "median_us": median(times),
                "alloc_median": median(allocs),
                "alloc_max": max(allocs),
            }
        )
    )
    measure_keypad(key, tokens)
    vfs.umount("/bench")
    os.remove(img)


def measure_keypad(key, tokens):
    """Keypad to display: from the Enter key of a typed credit token to its result frame."""
    from meter.meter import Meter
    from meter.store import RecordStore
    from ui.ui import Ui

    m = Meter(RecordStore("/bench/state2"))
    m.personalise(
        profile(decoder_key=key),
        0,
    )
    ui = Ui(m)
    times = array("f", bytes(4 * len(tokens)))
    now = 0
    for i, t in enumerate(tokens):
        for c in t:
            ui.key(chr(c), now)
        t0 = ticks_us()
        ui.key("#", now)
        frame = ui.frame(now)
        times[i] = ticks_diff(ticks_us(), t0)
        if frame[0].strip() != "ACCEPT":
            raise SystemExit("the keypad refused a good token: %r" % frame)
        now += 10000  # past the result screen
    print(
        json.dumps(
            {
                "variant": "keypad-to-display",
                "interp": sys.implementation.name,
                "tokens": len(tokens),
                "median_us": median(times),
            }
        )
    )


main(sys.argv[1])
