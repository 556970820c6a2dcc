# test_codec_micropython.py  the same codec in the real `micropython` binary: the vectors, the
# viper kernels against their portable twins, the errors, and the heap a decode takes.
import json
import os
import random
import shutil
import subprocess
from array import array

import pytest
from test_codec_cpython import (
    BAD_INPUTS,
    RFC2994,
    RFC2994_KEY,
    readme_crc,
    readme_token_value,
)

from conftest import FIRMWARE, ROOT, VECTORS, load_vectors, micropython_binary, path_env
from sts import codec, errors
from sts.codec import Decoder
from sts.misty1 import Misty1
from sts.sta import Sta

TOKENS = [c for c in load_vectors() if c["kind"] == "token"]
MP_DECODE = os.path.join(ROOT, "tools", "mp_decode.py")
M24 = 0xFFFFFF
ALLOC_LIMIT = 512  # bytes of heap one decode may take on the portable path, after warm-up

# Shared by the scripts below: limbs <-> 64-bit int, inside micropython.
MP_HELPERS = """
import json
from array import array
from binascii import unhexlify

def limbs(v):
    return array("I", [v & 0xFFFFFF, (v >> 24) & 0xFFFFFF, v >> 48])

def value(b):
    return b[0] | b[1] << 24 | b[2] << 48
"""


def limbs(v):
    return array("I", [v & M24, (v >> 24) & M24, v >> 48])


def value(b):
    return b[0] | b[1] << 24 | b[2] << 48


# --- (a) every vector decodes in micropython ------------------------------------------


@pytest.fixture(scope="module")
def mp_decoded():
    """Every vector through tools/mp_decode.py, the micropython reader the conformance
    runner uses too."""
    r = subprocess.run(
        [micropython_binary(), "-X", "heapsize=96K", MP_DECODE, VECTORS],
        capture_output=True,
        text=True,
        timeout=300,
        env=path_env(FIRMWARE),
    )
    assert r.returncode == 0, r.stderr
    return {r["id"]: r for r in map(json.loads, r.stdout.splitlines())}


@pytest.mark.parametrize("case", TOKENS, ids=[c["id"] for c in TOKENS])
def test_vector_decodes_in_micropython_to_its_fields(case, mp_decoded):
    got = mp_decoded[case["id"]]
    assert got["error"] == "OK"
    assert (got["class"], got["subclass"]) == (case["class"], case["subclass"])
    assert {k: got["fields"].get(k) for k in case["fields"]} == case["fields"]
    assert got["block"] == case["block"]


# --- (b) viper kernels and their portable twins agree ---------------------------------


def _random_cases(n=300, seed=62055):
    rnd = random.Random(seed)
    return [
        (rnd.randbytes(8).hex(), rnd.randbytes(16).hex(), rnd.getrandbits(64)) for _ in range(n)
    ]


CASES = _random_cases()

KERNELS = (
    MP_HELPERS
    + """
from sts.misty1 import Misty1
from sts.sta import Sta

CASES = %r
for ka, km, v in CASES:
    out = {}
    for name, cls, key in (("sta", Sta, unhexlify(ka)), ("misty1", Misty1, unhexlify(km))):
        fast, slow = cls(key), cls(key, portable=True)
        if fast._v is None or slow._v is not None:
            raise SystemExit("viper kernels not in use for " + name)
        for op in ("decrypt", "encrypt"):
            a, b = limbs(v), limbs(v)
            getattr(fast, op)(a)
            getattr(slow, op)(b)
            out[name + "_" + op] = value(a)
            out[name + "_" + op + "_portable"] = value(b)
        a = limbs(v)
        fast.encrypt(a)
        fast.decrypt(a)
        out[name + "_round_trip"] = value(a)
    print(json.dumps(out))
"""
    % (CASES,)
)


@pytest.fixture(scope="module")
def mp_kernels(mp):
    return [json.loads(line) for line in mp(KERNELS, heap="2M").splitlines()]


def _cpython(cipher, key_hex, op, v):
    b = limbs(v)
    getattr(cipher(bytes.fromhex(key_hex), portable=True), op)(b)
    return value(b)


# MISTY1 has no viper encrypt (a meter only decrypts): its encrypt is one path, checked by
# RFC 2994 and the round trip below.
@pytest.mark.parametrize("ea,op", [("sta", "decrypt"), ("sta", "encrypt"), ("misty1", "decrypt")])
def test_viper_and_portable_agree_in_micropython(mp_kernels, ea, op):
    assert len(mp_kernels) == len(CASES)
    fast, slow = ea + "_" + op, ea + "_" + op + "_portable"
    bad = [(c, r[fast], r[slow]) for c, r in zip(CASES, mp_kernels) if r[fast] != r[slow]]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(CASES), bad[:1])


@pytest.mark.parametrize("ea,cipher,key", [("sta", Sta, 0), ("misty1", Misty1, 1)])
@pytest.mark.parametrize("op", ["decrypt", "encrypt"])
def test_micropython_cipher_agrees_with_cpython(mp_kernels, ea, cipher, key, op):
    bad = [
        c
        for c, r in zip(CASES, mp_kernels)
        if r[ea + "_" + op] != _cpython(cipher, c[key], op, c[2])
    ]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(CASES), bad[:1])


@pytest.mark.parametrize("ea", ["sta", "misty1"])
def test_decrypt_inverts_encrypt_in_micropython(mp_kernels, ea):
    bad = [c for c, r in zip(CASES, mp_kernels) if r[ea + "_round_trip"] != c[2]]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(CASES), bad[:1])


# --- (c) the bad inputs give the same errors ------------------------------------------

BAD = (
    MP_HELPERS
    + """
from sts import errors
from sts.codec import Decoder, cipher
for label, token, ea, key, _want in %r:
    dec = Decoder(cipher(ea, unhexlify(key)) if ea else None)
    print(json.dumps([label, errors.NAMES[dec.decode(token)],
                      errors.NAMES[dec.decode(token.encode())]]))
"""
    % (BAD_INPUTS,)
)


@pytest.fixture(scope="module")
def mp_bad(mp):
    return {r[0]: r[1:] for r in map(json.loads, mp(BAD).splitlines())}


@pytest.mark.parametrize("label,token,ea,key,want", BAD_INPUTS, ids=[x[0] for x in BAD_INPUTS])
def test_bad_input_gives_its_error_in_micropython(mp_bad, label, token, ea, key, want):
    assert mp_bad[label][0] == want


@pytest.mark.parametrize("label,token,ea,key,want", BAD_INPUTS, ids=[x[0] for x in BAD_INPUTS])
def test_bad_input_as_bytes_gives_the_cpython_error_in_micropython(
    mp_bad, label, token, ea, key, want
):
    dec = Decoder(codec.cipher(ea, bytes.fromhex(key)) if ea else None)
    assert mp_bad[label][1] == errors.NAMES[dec.decode(token.encode())]


# --- (d) a decode allocates nothing (viper), next to nothing (portable) ---------------

ALLOC = (
    MP_HELPERS
    + """
import gc
import sts.kernels
if %r:  # the portable path: the kernels hidden before any sts module looks for them
    sts.kernels.VIPER = None
from sts import digits
from sts.codec import Decoder, cipher as cipher_of


def measure(dec, token):
    # Locals only: nothing but the decode itself can grow the heap between the two reads.
    gc.collect()
    before = gc.mem_alloc()
    err = dec.decode(token)
    return err, gc.mem_alloc() - before


cipher = cipher_of(%r, unhexlify(%r))
dec = Decoder(cipher)
token = %r
for _ in range(5):
    measure(dec, token)
print(json.dumps({"viper": [digits._PARSE is not None, cipher._v is not None],
                  "decode": measure(dec, token)}))
"""
)

ALLOC_CASES = [
    next(c for c in TOKENS if c["ea"] == ea and c["class"] == 0) for ea in ("sta", "misty1")
]


def _alloc(mp, case, token, portable):
    return json.loads(mp(ALLOC % (portable, case["ea"], case["decoder_key"], token)))


@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "str"])
@pytest.mark.parametrize("case", ALLOC_CASES, ids=[c["ea"] for c in ALLOC_CASES])
def test_decode_of_a_class0_token_allocates_nothing_on_the_viper_path(mp, case, as_bytes):
    token = case["token"].encode() if as_bytes else case["token"]
    got = _alloc(mp, case, token, False)
    assert got["viper"] == [True, True], "the viper kernels are not in use"
    err, grew = got["decode"]
    assert err == 0
    assert grew == 0, "one %s decode took %d bytes of heap" % (case["ea"], grew)


@pytest.mark.parametrize("case", ALLOC_CASES, ids=[c["ea"] for c in ALLOC_CASES])
def test_decode_of_a_class0_token_allocates_under_the_limit_on_the_portable_path(mp, case):
    got = _alloc(mp, case, case["token"].encode(), True)
    assert got["viper"] == [False, False], "the portable path is not in use"
    err, grew = got["decode"]
    assert err == 0
    assert grew < ALLOC_LIMIT, "one %s decode took %d bytes of heap (limit %d)" % (
        case["ea"],
        grew,
        ALLOC_LIMIT,
    )


# --- (e) MISTY1, RFC 2994, in micropython ---------------------------------------------

RFC = (
    MP_HELPERS
    + """
from sts.misty1 import Misty1

key = unhexlify(%r)
for plain, cipher in %r:
    out = []
    for portable in (False, True):
        m = Misty1(key, portable=portable)
        b = limbs(int(plain, 16))
        m.encrypt(b)
        out.append("%%016x" %% value(b))
        b = limbs(int(cipher, 16))
        m.decrypt(b)
        out.append("%%016x" %% value(b))
    print(json.dumps([plain, cipher, out]))
"""
    % (RFC2994_KEY, RFC2994)
)


@pytest.mark.parametrize("plain,cipher", RFC2994)
def test_misty1_rfc2994_in_micropython(mp, plain, cipher):
    rows = {r[0]: r for r in map(json.loads, mp(RFC).splitlines())}
    assert rows[plain] == [plain, cipher, [cipher, plain, cipher, plain]]


# --- (f) the digit parse and the CRC: viper kernels and their portable twins -----------

M64 = (1 << 64) - 1
SENTINEL = [0xABCDEF, 0x123456, 0xFEDC]  # limbs before a parse: an error leaves them so


def _parse_inputs(seed=62055):
    rnd = random.Random(seed)
    out = ["0" * 20, "9" * 20, "", "0" * 19, "0" * 21, "9" * 19, "9" * 21]
    for v in (
        0,
        1,
        2**24 - 1,
        2**24,
        2**27,
        2**29 - 1,
        2**48 - 1,
        2**48,
        2**64 - 1,
        2**64,
        2**65,
        10**19,
        2**66 - 2**27,
        2**66 - 2,
        2**66 - 1,
        2**66,
        2**66 + 1,
        2**66 + 2**27,
        10**20 - 1,
    ):
        out.append("%020d" % v)
    for i in range(20):  # one digit at each place: 9 among 0s, 0 among 9s
        out.append("0" * i + "9" + "0" * (19 - i))
        out.append("9" * i + "0" + "9" * (19 - i))
    out += ["%020d" % rnd.getrandbits(66) for _ in range(400)]
    out += ["".join(rnd.choice("0123456789") for _ in range(20)) for _ in range(300)]
    good = "%020d" % rnd.getrandbits(65)
    for i in range(20):  # a non-digit at each place, both sides of "0".."9" and beyond ASCII
        for c in "/:a \x00\x7f":
            out.append(good[:i] + c + good[i + 1 :])
    for i in (0, 9, 18, 19):
        for c in ("\u00e9", "\u0663", "\uff11"):
            out.append(good[:i] + c + good[i + 1 :])
    out += [c["token"] for c in TOKENS]
    return out


PARSE_INPUTS = _parse_inputs()

PARSE = """
import json
from array import array
from sts import digits, errors

if digits._PARSE is None:
    raise SystemExit("viper kernels not in use for digits.parse")
SENTINEL = %r
for s in %r:
    row = []
    for t in (s, s.encode()):
        for portable in (False, True):
            b = array("I", SENTINEL)
            r = digits.parse(t, b, portable)
            row.append([r, list(b)])
    print(json.dumps(row))
""" % (SENTINEL, PARSE_INPUTS)


def _expected_parse(s):
    """(result, limbs) from the README's rules with big ints: the twin of neither kernel."""
    if len(s) != 20:
        return -errors.BAD_LENGTH, SENTINEL
    if not all("0" <= c <= "9" for c in s):
        return -errors.NOT_DIGIT, SENTINEL
    n = int(s)
    if n >> 66:
        return -errors.TOO_LARGE, SENTINEL
    cls = (n >> 27) & 3
    e = (n & M64 & ~(3 << 27)) | (((n >> 64) & 3) << 27)
    assert readme_token_value(cls, e) == n
    return cls, [e & M24, (e >> 24) & M24, e >> 48]


@pytest.fixture(scope="module")
def mp_parse(mp):
    rows = [json.loads(line) for line in mp(PARSE, heap="2M").splitlines()]
    assert len(rows) == len(PARSE_INPUTS)
    return rows


def test_viper_parse_and_its_portable_twin_agree_in_micropython(mp_parse):
    bad = [(s, r) for s, r in zip(PARSE_INPUTS, mp_parse) if r[0] != r[1] or r[2] != r[3]]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(PARSE_INPUTS), bad[:1])


def test_viper_parse_of_str_and_bytes_agree_in_micropython(mp_parse):
    # A non-ASCII str is 20 characters but more than 20 bytes: NOT_DIGIT as str, BAD_LENGTH
    # as bytes; otherwise the two are one input.
    bad = [(s, r) for s, r in zip(PARSE_INPUTS, mp_parse) if s.isascii() and r[0] != r[2]]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(PARSE_INPUTS), bad[:1])


@pytest.mark.parametrize("form", ["str", "bytes"])
@pytest.mark.parametrize("path", ["viper", "portable"])
def test_micropython_parse_gives_the_readme_token_number(mp_parse, path, form):
    col = {"str": 0, "bytes": 2}[form] + {"viper": 0, "portable": 1}[path]
    bad = []
    for s, r in zip(PARSE_INPUTS, mp_parse):
        t = s if form == "str" else s.encode()
        if len(t) != len(s):  # non-ASCII as bytes
            want = (-errors.BAD_LENGTH, SENTINEL)
        else:
            want = _expected_parse(s)
        if tuple(r[col]) != want:
            bad.append((s, r[col], want))
    assert not bad, "%d of %d wrong, first %r" % (len(bad), len(PARSE_INPUTS), bad[:1])


def _crc_cases(seed=62055):
    rnd = random.Random(seed)
    cases = [(cls, v) for cls in range(4) for v in (0, M64, 0xFFFF, M64 ^ 0xFFFF)]
    cases += [(c["class"], int(c["block"], 16)) for c in TOKENS]
    for _ in range(500):
        cls, v = rnd.randrange(4), rnd.getrandbits(64)
        if rnd.randrange(2):  # half of them with their right CRC in place
            v = (v & ~0xFFFF) | readme_crc(cls, v)
        cases.append((cls, v))
    return cases


CRC_CASES = _crc_cases()

CRC = (
    MP_HELPERS
    + """
from sts import crc
from sts.kernels import VIPER

if crc._FIELD is None:
    raise SystemExit("viper kernels not in use for crc.matches")
for cls, v in %r:
    b = limbs(v)
    print(json.dumps([VIPER.crc_field(crc._T, cls, b), crc.crc_of(cls, b[0], b[1], b[2]),
                      crc.matches(cls, b), crc.matches(cls, b, True), value(b) == v]))
"""
    % (CRC_CASES,)
)


@pytest.fixture(scope="module")
def mp_crc(mp):
    rows = [json.loads(line) for line in mp(CRC, heap="1M").splitlines()]
    assert len(rows) == len(CRC_CASES)
    return rows


def test_viper_crc_and_its_portable_twin_agree_in_micropython(mp_crc):
    bad = [(c, r) for c, r in zip(CRC_CASES, mp_crc) if r[0] != r[1] or r[2] != r[3]]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(CRC_CASES), bad[:1])


def test_micropython_crc_is_the_readme_crc(mp_crc):
    bad = [
        (c, r)
        for c, r in zip(CRC_CASES, mp_crc)
        if r[0] != readme_crc(*c) or r[2] != (c[1] & 0xFFFF == readme_crc(*c)) or not r[4]
    ]
    assert not bad, "%d of %d wrong, first %r" % (len(bad), len(CRC_CASES), bad[:1])
    assert sum(r[2] for r in mp_crc) > len(CRC_CASES) // 3, "right CRCs were tried too"


# --- (g) kernels.fallback: why the portable path, and whether that is a fault -----------

KERNELS_STATE = """
import json
from sts import kernels
print(json.dumps([kernels.VIPER is not None, kernels.fallback, kernels.expected]))
"""


def test_kernels_load_in_micropython_with_no_fallback(mp):
    assert json.loads(mp(KERNELS_STATE)) == [True, "", True]


WASM_PACKAGE = os.path.join(
    ROOT,
    "web",
    "node_modules",
    "@micropython",
    "micropython-webassembly-pyscript",
    "micropython.mjs",
)
WASM = r"""
import { loadMicroPython } from %s;
import fs from "fs";
import path from "path";
const [firmware, script] = process.argv.slice(2);
const mp = await loadMicroPython({ stdout: (line) => console.log(line) });
// /lib is on the port's sys.path, as in the page (web/app.js)
mp.FS.mkdir("/lib");
mp.FS.mkdir("/lib/sts");
for (const name of fs.readdirSync(path.join(firmware, "sts"))) {
  if (name.endsWith(".py")) {
    mp.FS.writeFile("/lib/sts/" + name, fs.readFileSync(path.join(firmware, "sts", name)));
  }
}
mp.runPython(fs.readFileSync(script, "utf8"));
"""


def test_kernels_fallback_is_expected_in_the_webassembly_port(tmp_path):
    node = shutil.which("node")
    if not node or not os.path.exists(WASM_PACKAGE):
        if os.environ.get("CI"):
            pytest.fail("no node or web/node_modules (npm ci in web/)")
        pytest.skip("no node, or no web/node_modules (npm ci in web/)")
    runner = tmp_path / "run.mjs"
    runner.write_text(WASM % json.dumps("file://" + WASM_PACKAGE))
    case = ALLOC_CASES[0]
    script = tmp_path / "script.py"
    script.write_text(
        KERNELS_STATE
        + (
            "from binascii import unhexlify\nfrom sts.codec import Decoder\n"
            "from sts.sta import Sta\n"
            "print(Decoder(Sta(unhexlify(%r))).decode(%r))\n"
            % (case["decoder_key"], case["token"])
        )
    )
    r = subprocess.run(
        [node, str(runner), FIRMWARE, str(script)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert json.loads(lines[0]) == [False, "no viper on this port (webassembly)", True]
    assert lines[1] == "0", "the portable path decodes"
