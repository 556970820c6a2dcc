# test_codec_micropython.py  the same codec in the real `micropython` binary: the vectors, the
# viper kernels against their portable twins, the errors, and the heap a decode takes.
import json
import random
import sys
from array import array

import pytest

from conftest import ROOT, VECTORS, load_vectors

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from test_codec_cpython import BAD_INPUTS, RFC2994, RFC2994_KEY  # noqa: E402

from sts import errors  # noqa: E402
from sts.codec import Decoder  # noqa: E402
from sts.misty1 import Misty1  # noqa: E402
from sts.sta import Sta  # noqa: E402

TOKENS = [c for c in load_vectors() if c["kind"] == "token"]
CIPHERS = {"sta": Sta, "misty1": Misty1}
M24 = 0xFFFFFF
ALLOC_LIMIT = 512  # bytes of heap one decode may take, after warm-up

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

DECODE_ALL = MP_HELPERS + """
from sts import amount, blocks, errors
from sts.codec import Decoder
from sts.misty1 import Misty1
from sts.sta import Sta

CIPHERS = {"sta": Sta, "misty1": Misty1}
with open(%r) as f:
    for line in f:
        case = json.loads(line)
        if case.get("kind") != "token":
            continue
        ea = case.get("ea")
        dec = Decoder(CIPHERS[ea](unhexlify(case["decoder_key"])) if ea else None)
        err = dec.decode(case["token"])
        out = {"id": case["id"], "error": errors.NAMES[err]}
        if not err:
            f = blocks.fields(dec.cls, dec.block)
            if dec.cls == 0:
                f["amount_tenths"] = amount.decode(f["amount"])
            out.update({"class": dec.cls, "subclass": dec.subclass, "fields": f,
                        "block": "%%016x" %% value(dec.block)})
        print(json.dumps(out))
""" % VECTORS


@pytest.fixture(scope="module")
def mp_decoded(mp):
    return {r["id"]: r for r in map(json.loads, mp(DECODE_ALL).splitlines())}


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
    return [(rnd.randbytes(8).hex(), rnd.randbytes(16).hex(), rnd.getrandbits(64))
            for _ in range(n)]


CASES = _random_cases()

KERNELS = MP_HELPERS + """
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
""" % (CASES,)


@pytest.fixture(scope="module")
def mp_kernels(mp):
    return [json.loads(line) for line in mp(KERNELS, heap="2M").splitlines()]


def _cpython(cipher, key_hex, op, v):
    b = limbs(v)
    getattr(cipher(bytes.fromhex(key_hex), portable=True), op)(b)
    return value(b)


@pytest.mark.parametrize("ea", ["sta", "misty1"])
@pytest.mark.parametrize("op", ["decrypt", "encrypt"])
def test_viper_and_portable_agree_in_micropython(mp_kernels, ea, op):
    assert len(mp_kernels) == len(CASES)
    fast, slow = ea + "_" + op, ea + "_" + op + "_portable"
    bad = [(c, r[fast], r[slow]) for c, r in zip(CASES, mp_kernels) if r[fast] != r[slow]]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(CASES), bad[:1])


@pytest.mark.parametrize("ea,cipher,key", [("sta", Sta, 0), ("misty1", Misty1, 1)])
@pytest.mark.parametrize("op", ["decrypt", "encrypt"])
def test_micropython_cipher_agrees_with_cpython(mp_kernels, ea, cipher, key, op):
    bad = [c for c, r in zip(CASES, mp_kernels)
           if r[ea + "_" + op] != _cpython(cipher, c[key], op, c[2])]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(CASES), bad[:1])


@pytest.mark.parametrize("ea", ["sta", "misty1"])
def test_decrypt_inverts_encrypt_in_micropython(mp_kernels, ea):
    bad = [c for c, r in zip(CASES, mp_kernels) if r[ea + "_round_trip"] != c[2]]
    assert not bad, "%d of %d differ, first %r" % (len(bad), len(CASES), bad[:1])


# --- (c) the bad inputs give the same errors ------------------------------------------

BAD = MP_HELPERS + """
from sts import errors
from sts.codec import Decoder
from sts.misty1 import Misty1
from sts.sta import Sta

CIPHERS = {"sta": Sta, "misty1": Misty1}
for label, token, ea, key, _want in %r:
    dec = Decoder(CIPHERS[ea](unhexlify(key)) if ea else None)
    print(json.dumps([label, errors.NAMES[dec.decode(token)],
                      errors.NAMES[dec.decode(token.encode())]]))
""" % (BAD_INPUTS,)


@pytest.fixture(scope="module")
def mp_bad(mp):
    return {r[0]: r[1:] for r in map(json.loads, mp(BAD).splitlines())}


@pytest.mark.parametrize("label,token,ea,key,want", BAD_INPUTS, ids=[x[0] for x in BAD_INPUTS])
def test_bad_input_gives_its_error_in_micropython(mp_bad, label, token, ea, key, want):
    assert mp_bad[label][0] == want


@pytest.mark.parametrize("label,token,ea,key,want", BAD_INPUTS, ids=[x[0] for x in BAD_INPUTS])
def test_bad_input_as_bytes_gives_the_cpython_error_in_micropython(mp_bad, label, token, ea, key,
                                                                   want):
    dec = Decoder(CIPHERS[ea](bytes.fromhex(key)) if ea else None)
    assert mp_bad[label][1] == errors.NAMES[dec.decode(token.encode())]


# --- (d) a decode allocates (next to) nothing -----------------------------------------

ALLOC = MP_HELPERS + """
import gc
from sts.codec import Decoder
from sts.misty1 import Misty1
from sts.sta import Sta


def measure(dec, token):
    # Locals only: nothing but the decode itself can grow the heap between the two reads.
    gc.collect()
    before = gc.mem_alloc()
    err = dec.decode(token)
    return err, gc.mem_alloc() - before


dec = Decoder({"sta": Sta, "misty1": Misty1}[%r](unhexlify(%r)))
for _ in range(5):
    measure(dec, %r)
print(json.dumps(measure(dec, %r)))
"""

ALLOC_CASES = [next(c for c in TOKENS if c["ea"] == ea and c["class"] == 0)
               for ea in ("sta", "misty1")]


@pytest.mark.parametrize("case", ALLOC_CASES, ids=[c["ea"] for c in ALLOC_CASES])
def test_decode_of_a_class0_token_allocates_under_the_limit(mp, case):
    token = case["token"].encode()
    err, grew = json.loads(mp(ALLOC % (case["ea"], case["decoder_key"], token, token)))
    assert err == 0
    assert grew < ALLOC_LIMIT, "one %s decode took %d bytes of heap (limit %d)" % (
        case["ea"], grew, ALLOC_LIMIT)


# --- (e) MISTY1, RFC 2994, in micropython ---------------------------------------------

RFC = MP_HELPERS + """
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
""" % (RFC2994_KEY, RFC2994)


@pytest.mark.parametrize("plain,cipher", RFC2994)
def test_misty1_rfc2994_in_micropython(mp, plain, cipher):
    rows = {r[0]: r for r in map(json.loads, mp(RFC).splitlines())}
    assert rows[plain] == [plain, cipher, [cipher, plain, cipher, plain]]
