# test_codec_cpython.py  the codec under CPython, checked against the published vectors, RFC 2994
# and the rules of vectors/README.md (re-computed here with plain big ints).
import ast
import bisect
import os
import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIRMWARE, load_vectors
from sts import amount, blocks, codec, crc, digits, errors, kernels
from sts import sta as sta_module
from sts.crc import crc_of
from sts.misty1 import S7, S9, Misty1
from sts.sta import Sta
from stsvend import keys

VECTORS = load_vectors()
TOKENS = [c for c in VECTORS if c["kind"] == "token"]
M24 = 0xFFFFFF

# RFC 2994, appendix: key, then (plaintext, ciphertext) pairs.
RFC2994_KEY = "00112233445566778899aabbccddeeff"
RFC2994 = [("0123456789abcdef", "8b1da5f56ab3d07c"), ("fedcba9876543210", "04b68240b13be95d")]

SLOW = settings(deadline=None, max_examples=100)


def ids(cases):
    return [c["id"] for c in cases]


def limbs(v):
    return array("I", [v & M24, (v >> 24) & M24, v >> 48])


def value(b):
    return b[0] | b[1] << 24 | b[2] << 48


def cipher_of(case, key="decoder_key"):
    return codec.cipher(case["ea"], bytes.fromhex(case[key])) if case["ea"] else None


def first(pred):
    return next(c for c in TOKENS if pred(c))


# --- the rules of the README, re-computed independently ---------------------------------


def readme_amount(raw):
    e, m = raw >> 14, raw & 0x3FFF
    return m * 10**e + sum(2**14 * 10 ** (i - 1) for i in range(1, e + 1))


ENCODABLE = sorted(readme_amount(raw) for raw in range(65536))


def readme_crc(cls, block):
    data = ((cls << 48) | (block >> 16)).to_bytes(7, "big")
    c = 0xFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return ((c & 0xFF) << 8) | (c >> 8)


def readme_token_value(cls, e):
    """E with bits 28, 27 replaced by the class bits, and E's bits 28, 27 moved to 65, 64."""
    return (e & ~(3 << 27)) | (cls << 27) | (((e >> 27) & 3) << 64)


def field_values(draw, cls, sub):
    return {name: draw(st.integers(0, 2**n - 1)) for name, _lo, n in blocks.LAYOUT[(cls, sub)][1]}


layouts = st.sampled_from(sorted(blocks.LAYOUT))
blocks64 = st.integers(0, 2**64 - 1)
sta_keys = st.binary(min_size=8, max_size=8)
misty1_keys = st.binary(min_size=16, max_size=16)


# --- every vector ---------------------------------------------------------------------


@pytest.mark.parametrize("case", TOKENS, ids=ids(TOKENS))
def test_vector_decodes_to_its_class_subclass_and_fields(case):
    dec = codec.Decoder(cipher_of(case))
    assert errors.NAMES[dec.decode(case["token"])] == "OK"
    assert (dec.cls, dec.subclass) == (case["class"], case["subclass"])
    got = blocks.fields(dec.cls, dec.block)
    want = {k: v for k, v in case["fields"].items() if k != "amount_tenths"}
    assert {k: got[k] for k in want} == want
    assert "%016x" % value(dec.block) == case["block"]


@pytest.mark.parametrize("case", TOKENS, ids=ids(TOKENS))
def test_vector_block_is_built_from_its_fields(case):
    b = array("I", bytes(12))
    blocks.build(case["class"], case["subclass"], case["fields"], b)
    assert "%016x" % value(b) == case["block"]


@pytest.mark.parametrize("case", TOKENS, ids=ids(TOKENS))
def test_vector_token_is_encoded_from_its_fields(case):
    assert (
        blocks.encode(case["class"], case["subclass"], case["fields"], cipher_of(case))
        == case["token"]
    )


AMOUNTS = [c for c in TOKENS if "amount_tenths" in c["fields"]]


@pytest.mark.parametrize("case", AMOUNTS, ids=ids(AMOUNTS))
def test_vector_amount_decodes_to_its_tenths(case):
    assert amount.decode(case["fields"]["amount"]) == case["fields"]["amount_tenths"]


@pytest.mark.parametrize("case", AMOUNTS, ids=ids(AMOUNTS))
def test_vector_tenths_encode_to_its_amount(case):
    assert amount.encode(case["fields"]["amount_tenths"]) == case["fields"]["amount"]


@pytest.mark.parametrize("case", TOKENS, ids=ids(TOKENS))
def test_vector_token_carries_its_class_in_bits_28_27(case):
    assert (int(case["token"]) >> 27) & 3 == case["class"]


@pytest.mark.parametrize("case", TOKENS, ids=ids(TOKENS))
def test_vector_block_crc_is_the_modbus_crc_of_class_and_block(case):
    block = int(case["block"], 16)
    assert block & 0xFFFF == readme_crc(case["class"], block)
    assert crc_of(case["class"], *limbs(block)) == block & 0xFFFF


# --- key derivation -------------------------------------------------------------------

DERIVATIONS = [
    (c, spec, want)
    for c in VECTORS
    for spec, want in (("key", "decoder_key"), ("new_key", "new_decoder_key"))
    if spec in c
]


@pytest.mark.parametrize(
    "case,spec,want", DERIVATIONS, ids=["%s-%s" % (c["id"], s) for c, s, _ in DERIVATIONS]
)
def test_dkga_derives_the_decoder_key(case, spec, want):
    assert keys.derive(case[spec], case["ea"]).hex() == case[want]


def test_dkga02_refuses_misty1():
    spec = first(lambda c: c.get("key", {}).get("dkga") == 2)["key"]
    with pytest.raises(ValueError):
        keys.derive(spec, "misty1")


# --- MISTY1, RFC 2994 -----------------------------------------------------------------


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("plain,cipher", RFC2994)
def test_misty1_encrypts_rfc2994(plain, cipher, portable):
    b = limbs(int(plain, 16))
    Misty1(bytes.fromhex(RFC2994_KEY), portable=portable).encrypt(b)
    assert "%016x" % value(b) == cipher


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("plain,cipher", RFC2994)
def test_misty1_decrypts_rfc2994(plain, cipher, portable):
    b = limbs(int(cipher, 16))
    Misty1(bytes.fromhex(RFC2994_KEY), portable=portable).decrypt(b)
    assert "%016x" % value(b) == plain


# --- transposition and the 20 digits --------------------------------------------------


@SLOW
@given(st.integers(0, 3), blocks64)
def test_digits_format_moves_class_into_bits_28_27(cls, e):
    assert int(digits.format(cls, limbs(e))) == readme_token_value(cls, e)


@SLOW
@given(st.integers(0, 3), blocks64)
def test_digits_format_is_20_digits(cls, e):
    s = digits.format(cls, limbs(e))
    assert len(s) == 20 and s.isdigit() and s.isascii()


@SLOW
@given(st.integers(0, 3), blocks64)
def test_digits_parse_inverts_format(cls, e):
    b = array("I", bytes(12))
    assert digits.parse(digits.format(cls, limbs(e)), b) == cls
    assert value(b) == e


@SLOW
@given(st.integers(0, 3), blocks64)
def test_digits_parse_accepts_bytes_as_str(cls, e):
    s = digits.format(cls, limbs(e))
    b1, b2 = array("I", bytes(12)), array("I", bytes(12))
    assert digits.parse(s, b1) == digits.parse(s.encode(), b2)
    assert b1 == b2


CLASS1 = [c for c in TOKENS if c["class"] == 1]


@pytest.mark.parametrize("case", CLASS1, ids=ids(CLASS1))
def test_class1_token_is_its_block_transposed(case):
    assert int(case["token"]) == readme_token_value(1, int(case["block"], 16))


# --- CRC ------------------------------------------------------------------------------


@SLOW
@given(st.data())
def test_crc_of_built_block_is_the_modbus_crc(data):
    cls, sub = data.draw(layouts)
    b = array("I", bytes(12))
    blocks.build(cls, sub, field_values(data.draw, cls, sub), b)
    assert b[0] & 0xFFFF == readme_crc(cls, value(b))
    assert crc_of(cls, b[0], b[1], b[2]) == b[0] & 0xFFFF


@pytest.mark.parametrize("bit", range(64))
def test_single_bit_flip_in_plaintext_block_is_bad_crc(bit):
    dec = codec.Decoder(None)
    for case in CLASS1:
        b = limbs(int(case["block"], 16) ^ (1 << bit))
        assert errors.NAMES[dec.decode(digits.format(1, b))] == "BAD_CRC", case["id"]


# --- amount ---------------------------------------------------------------------------


def smallest_encodable_at_least(x):
    return ENCODABLE[bisect.bisect_left(ENCODABLE, x)]


def test_amount_max_tenths_is_the_largest_encodable():
    assert amount.MAX_TENTHS == ENCODABLE[-1]


def test_amount_decode_is_the_readme_formula():
    assert [amount.decode(raw) for raw in range(65536)] == [readme_amount(r) for r in range(65536)]


def test_amount_encode_inverts_decode_for_every_raw():
    bad = [raw for raw in range(65536) if amount.encode(amount.decode(raw)) != raw]
    assert not bad, bad[:10]


def _boundaries():
    out = set()
    for e in range(4):
        low = readme_amount(e << 14)
        top = readme_amount((e << 14) | 0x3FFF)
        mid = readme_amount((e << 14) | 5000)
        for v in (low - 1, low, low + 1, top - 1, top, top + 1, mid - 1, mid, mid + 1):
            if 0 <= v <= ENCODABLE[-1]:
                out.add(v)
    return sorted(out)


@pytest.mark.parametrize("tenths", _boundaries())
def test_amount_encode_rounds_up_to_the_next_encodable_at_boundaries(tenths):
    assert amount.decode(amount.encode(tenths)) == smallest_encodable_at_least(tenths)


@SLOW
@given(st.integers(0, amount.MAX_TENTHS))
def test_amount_encode_never_gives_less_than_requested(tenths):
    assert amount.decode(amount.encode(tenths)) >= tenths


@SLOW
@given(st.integers(0, amount.MAX_TENTHS))
def test_amount_encode_gives_the_smallest_encodable_at_least_requested(tenths):
    assert amount.decode(amount.encode(tenths)) == smallest_encodable_at_least(tenths)


def test_amount_max_tenths_encodes():
    assert amount.decode(amount.encode(amount.MAX_TENTHS)) == amount.MAX_TENTHS


@pytest.mark.parametrize("tenths", [amount.MAX_TENTHS + 1, -1])
def test_amount_out_of_range_raises(tenths):
    with pytest.raises(ValueError):
        amount.encode(tenths)


# --- errors ---------------------------------------------------------------------------

STA_CASE = first(lambda c: c["ea"] == "sta" and c["class"] == 0)
OTHER_STA_KEY = first(lambda c: c["ea"] == "sta" and c["decoder_key"] != STA_CASE["decoder_key"])
MISTY1_CASE = first(lambda c: c["ea"] == "misty1" and c["class"] == 2)


def class1_subclass5_token():
    b = array("I", bytes(12))
    blocks.put(b, 16, 16, 0x1234)
    blocks.put(b, 60, 4, 5)
    b[0] |= crc_of(1, b[0], b[1], b[2])
    return digits.format(1, b)


def encrypted_token(cls, sub, key_hex, ea):
    """A block of an undefined (cls, sub) with a right CRC, encrypted under a real key."""
    b = array("I", bytes(12))
    blocks.put(b, 16, 16, 100)  # amount
    blocks.put(b, 32, 24, 12345)  # TID
    blocks.put(b, 60, 4, sub)
    b[0] |= crc_of(cls, b[0], b[1], b[2])
    codec.cipher(ea, bytes.fromhex(key_hex)).encrypt(b)
    return digits.format(cls, b)


# (label, token, ea, decoder key hex, expected error name): shared with the micropython tests.
BAD_INPUTS = [
    ("19_digits", STA_CASE["token"][:19], None, None, "BAD_LENGTH"),
    ("21_digits", STA_CASE["token"] + "0", None, None, "BAD_LENGTH"),
    ("empty", "", None, None, "BAD_LENGTH"),
    ("letter", "2371610050118319419a", None, None, "NOT_DIGIT"),
    ("colon_after_9", STA_CASE["token"][:19] + ":", None, None, "NOT_DIGIT"),
    ("slash_before_0", "/" + STA_CASE["token"][1:], None, None, "NOT_DIGIT"),
    (
        "space_inside",
        STA_CASE["token"][:10] + " " + STA_CASE["token"][11:],
        None,
        None,
        "NOT_DIGIT",
    ),
    ("e_acute", STA_CASE["token"][:19] + "\u00e9", None, None, "NOT_DIGIT"),
    ("arabic_indic_3", STA_CASE["token"][:19] + "\u0663", None, None, "NOT_DIGIT"),
    ("fullwidth_1", "\uff11" + STA_CASE["token"][1:], None, None, "NOT_DIGIT"),
    ("spaces_around", " " + STA_CASE["token"][1:19] + " ", None, None, "NOT_DIGIT"),
    ("all_nines", "9" * 20, None, None, "TOO_LARGE"),
    ("2_to_66", "%020d" % 2**66, None, None, "TOO_LARGE"),
    ("class_3", digits.format(3, limbs(int(STA_CASE["block"], 16))), None, None, "UNKNOWN_CLASS"),
    ("wrong_key", STA_CASE["token"], "sta", OTHER_STA_KEY["decoder_key"], "BAD_CRC"),
    ("class1_subclass5", class1_subclass5_token(), None, None, "UNKNOWN_SUBCLASS"),
    (
        "class0_subclass4_sta",
        encrypted_token(0, 4, STA_CASE["decoder_key"], "sta"),
        "sta",
        STA_CASE["decoder_key"],
        "UNKNOWN_SUBCLASS",
    ),
    (
        "class2_subclass10_misty1",
        encrypted_token(2, 10, MISTY1_CASE["decoder_key"], "misty1"),
        "misty1",
        MISTY1_CASE["decoder_key"],
        "UNKNOWN_SUBCLASS",
    ),
]


@pytest.mark.parametrize("label,token,ea,key,want", BAD_INPUTS, ids=[x[0] for x in BAD_INPUTS])
def test_bad_input_gives_its_error(label, token, ea, key, want):
    dec = codec.Decoder(codec.cipher(ea, bytes.fromhex(key)) if ea else None)
    assert errors.NAMES[dec.decode(token)] == want


ASCII_BAD_INPUTS = [x for x in BAD_INPUTS if x[1].isascii()]


@pytest.mark.parametrize(
    "label,token,ea,key,want", ASCII_BAD_INPUTS, ids=[x[0] for x in ASCII_BAD_INPUTS]
)
def test_bad_input_as_bytes_gives_the_same_error(label, token, ea, key, want):
    dec = codec.Decoder(codec.cipher(ea, bytes.fromhex(key)) if ea else None)
    assert errors.NAMES[dec.decode(token.encode())] == want


def test_error_codes_are_distinct_and_named():
    codes = [getattr(errors, n) for n in errors.NAMES]
    assert codes == list(range(len(errors.NAMES)))


def test_largest_66_bit_value_is_not_too_large():
    dec = codec.Decoder(None)
    assert errors.NAMES[dec.decode("%020d" % (2**66 - 1))] != "TOO_LARGE"


@SLOW
@given(st.text(alphabet="0123456789", min_size=20, max_size=20))
def test_any_20_digits_decode_to_an_error_code_without_raising(s):
    dec = codec.Decoder(Sta(bytes.fromhex(STA_CASE["decoder_key"])))
    assert 0 <= dec.decode(s) < len(errors.NAMES)


@SLOW
@given(
    st.lists(st.characters(min_codepoint=0, max_codepoint=127), min_size=20, max_size=20).filter(
        lambda cs: not all("0" <= c <= "9" for c in cs)
    )
)
def test_20_ascii_characters_not_all_digits_are_not_digit(cs):
    dec = codec.Decoder(None)
    assert errors.NAMES[dec.decode("".join(cs))] == "NOT_DIGIT"


@SLOW
@given(st.text(max_size=30))
def test_any_text_decodes_to_an_error_code_without_raising(s):
    dec = codec.Decoder(Sta(bytes.fromhex(STA_CASE["decoder_key"])))
    assert 0 <= dec.decode(s) < len(errors.NAMES)


@SLOW
@given(st.binary(max_size=30))
def test_any_bytes_decode_to_an_error_code_without_raising(s):
    dec = codec.Decoder(Sta(bytes.fromhex(STA_CASE["decoder_key"])))
    assert 0 <= dec.decode(s) < len(errors.NAMES)


# --- round trips under random keys ----------------------------------------------------


def _round_trip(data, cipher):
    cls, sub = data.draw(layouts)
    fields = field_values(data.draw, cls, sub)
    dec = codec.Decoder(cipher)
    assert errors.NAMES[dec.decode(blocks.encode(cls, sub, fields, cipher))] == "OK"
    assert (dec.cls, dec.subclass) == (cls, sub)
    got = blocks.fields(cls, dec.block)
    assert {k: got[k] for k in fields} == fields


@SLOW
@given(st.data(), sta_keys)
def test_every_layout_round_trips_under_a_random_sta_key(data, key):
    _round_trip(data, Sta(key))


@SLOW
@given(st.data(), misty1_keys)
def test_every_layout_round_trips_under_a_random_misty1_key(data, key):
    _round_trip(data, Misty1(key))


@SLOW
@given(sta_keys, blocks64)
def test_sta_decrypt_inverts_encrypt(key, v):
    b = limbs(v)
    c = Sta(key)
    c.encrypt(b)
    c.decrypt(b)
    assert value(b) == v


@SLOW
@given(misty1_keys, blocks64)
def test_misty1_decrypt_inverts_encrypt(key, v):
    b = limbs(v)
    c = Misty1(key)
    c.encrypt(b)
    c.decrypt(b)
    assert value(b) == v


# The viper ciphers against their portable twins: in micropython, where viper exists
# (test_codec_micropython.test_viper_and_portable_agree_in_micropython), and here on 32-bit
# words (the test_viper_*_32_bit_words_* tests below). Under CPython VIPER is None, so
# Sta(key) is Sta(key, portable=True): the portable path is checked by the vectors and RFC 2994.


@pytest.mark.parametrize("cipher,n", [(Sta, 7), (Sta, 9), (Misty1, 15), (Misty1, 17)])
def test_cipher_refuses_a_key_of_the_wrong_length(cipher, n):
    with pytest.raises(ValueError):
        cipher(bytes(n))


def test_a_str_with_a_lone_surrogate_is_not_digit():
    dec = codec.Decoder(None)
    assert errors.NAMES[dec.decode(STA_CASE["token"][:19] + "\ud800")] == "NOT_DIGIT"


# --- kernels.py under CPython: no viper, and that is no fault --------------------------


def test_kernels_fallback_under_cpython_says_there_is_no_viper_and_that_it_is_expected():
    assert kernels.VIPER is None
    assert kernels.fallback == "no viper in cpython"
    assert kernels.expected is True


# --- the viper kernels on 32-bit words --------------------------------------------------
# Viper computes in machine words: 64 bits on the unix port the other tests run, 32 on a
# board. A kernel that lets a value pass 2**31 agrees with its twin here and is wrong on a
# Pico. So each kernel's own source runs here, in CPython, on ints that fail the moment an
# operation leaves a signed 32-bit word, and on memory that fails a store wider than its
# pointer (viper would truncate it).

VIPER_PY = os.path.join(FIRMWARE, "sts", "_viper.py")


class Word(int):
    """A machine word of a 32-bit board: every operation's result must fit, signed."""


def _checked(op):
    def f(a, b):
        r = op(int(a), int(b))
        if not -(1 << 31) <= r < 1 << 31:
            raise OverflowError("%d leaves a 32-bit word" % r)
        return Word(r)

    return f


for _name, _op in (
    ("add", int.__add__),
    ("sub", int.__sub__),
    ("mul", int.__mul__),
    ("lshift", int.__lshift__),
    ("rshift", int.__rshift__),
    ("and", int.__and__),
    ("or", int.__or__),
    ("xor", int.__xor__),
):
    setattr(Word, "__%s__" % _name, _checked(_op))
    setattr(Word, "__r%s__" % _name, _checked(lambda a, b, op=_op: op(b, a)))
Word.__neg__ = lambda a: Word(-int(a))


class Memory:
    """What a ptr8 / ptr16 / ptr32 points at: loads give Words, stores must fit the width."""

    def __init__(self, buf, bits):
        self.buf, self.bits = buf, bits

    def __getitem__(self, i):
        return Word(self.buf[i])

    def __setitem__(self, i, v):
        if not 0 <= v < 1 << self.bits:
            raise OverflowError("%d stored through a %d-bit pointer" % (v, self.bits))
        self.buf[i] = int(v)


def viper_kernel(name):
    """The kernel `name` of _viper.py as plain Python (no decorator, no annotations)."""
    with open(VIPER_PY) as f:
        tree = ast.parse(f.read())
    ns = {}
    for node in tree.body:  # the module's const()s
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "const"
        ):
            ns[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    fn.decorator_list = []
    fn.returns = None
    for a in fn.args.args:
        a.annotation = None
    exec(compile(ast.fix_missing_locations(ast.Module([fn], [])), VIPER_PY, "exec"), ns)
    return ns[name]


def _token_inputs(seed=62055):
    rnd = random.Random(seed)
    out = ["0" * 20, "9" * 20] + ["%020d" % v for v in (2**66 - 1, 2**66, 2**66 + 1, 10**20 - 1)]
    out += ["%020d" % rnd.getrandbits(66) for _ in range(300)]
    out += ["".join(rnd.choice("0123456789") for _ in range(20)) for _ in range(100)]
    out += ["".join(rnd.choice("0123456789/:a\x00\xff") for _ in range(20)) for _ in range(50)]
    out += [c["token"] for c in TOKENS]
    return [t.encode("latin-1") for t in out]


def test_viper_parse_keeps_to_32_bit_words_and_agrees_with_its_twin():
    kernel = viper_kernel("parse")
    for t in _token_inputs():
        a, b = array("I", [1, 2, 3]), array("I", [1, 2, 3])
        got = kernel(Memory([Word(c) for c in t], 8), Memory(a, 32))
        assert (got, a) == (digits.parse(t, b, portable=True), b), t


def test_viper_crc_keeps_to_32_bit_words_and_agrees_with_its_twin():
    kernel = viper_kernel("crc_field")
    rnd = random.Random(62055)
    table = Memory(crc._T, 16)
    for v in [0, 2**64 - 1] + [rnd.getrandbits(64) for _ in range(300)]:
        for cls in range(4):
            b = limbs(v)
            assert kernel(table, Word(cls), Memory(b, 32)) == crc_of(cls, *b), (cls, v)


class Wrapping(int):
    """A board's machine word where a kernel may use bit 31 (sta_decrypt): every result
    wraps to a signed 32-bit word, as on the board, where the PC keeps the high bits."""


def _wrapping(op):
    def f(a, b):
        r = op(int(a), int(b)) & 0xFFFFFFFF
        return Wrapping(r - (1 << 32) if r >> 31 else r)

    return f


for _name, _op in (
    ("add", int.__add__),
    ("lshift", int.__lshift__),
    ("rshift", int.__rshift__),
    ("and", int.__and__),
    ("or", int.__or__),
):
    setattr(Wrapping, "__%s__" % _name, _wrapping(_op))
    setattr(Wrapping, "__r%s__" % _name, _wrapping(lambda a, b, op=_op: op(b, a)))


class Address:
    """What viper's uint(ptr) gives: an address, here a buffer and a byte offset in it."""

    def __init__(self, buf, off=0):
        self.buf, self.off = buf, off

    def __add__(self, n):
        return Address(self.buf, self.off + int(n))


class Bytes:
    """ptr8 / ptr16 / ptr32 over a buffer's bytes (little-endian, as every board): a load
    is signed on a board (word) and zero-extended on the PC (int); a store must fit."""

    def __init__(self, addr, size, word):
        if not isinstance(addr, Address):  # an object passed to the kernel
            addr = Address(addr)
        self.addr, self.size, self.word = addr, size, word

    def _at(self, i):
        buf = self.addr.buf
        if isinstance(buf, array):  # an array's items, for the limbs and offsets
            assert buf.itemsize == self.size and self.addr.off % self.size == 0
            return buf, self.addr.off // self.size + i
        return buf, self.addr.off + i * self.size

    def __getitem__(self, i):
        buf, j = self._at(int(i))
        if isinstance(buf, array):
            v = buf[j]
        else:
            v = int.from_bytes(buf[j : j + self.size], "little")
        if self.word is Wrapping and self.size == 4 and v >> 31:
            v -= 1 << 32
        return self.word(v)

    def __setitem__(self, i, v):
        if not 0 <= v < 1 << (8 * self.size):
            raise OverflowError("%d stored through a %d-byte pointer" % (v, self.size))
        buf, j = self._at(int(i))
        buf[j] = int(v)


@pytest.mark.parametrize("seed", range(20))
def test_viper_sta_decrypt_agrees_with_its_twin_on_a_board_and_on_the_pc(seed):
    """sta_decrypt's own source, run on a board's wrapping 32-bit words and on the PC's wide
    ones: both give the portable decrypt's block."""
    rnd = random.Random(seed)
    key, v = rnd.randbytes(8), rnd.getrandbits(64)
    src = viper_kernel("sta_decrypt")
    want = limbs(v)
    Sta(key, portable=True).decrypt(want)
    for word in (Wrapping, int):
        ns = src.__globals__
        ns["uint"] = lambda p: p.addr
        ns["ptr32"] = lambda a, w=word: Bytes(a, 4, w)
        ns["ptr16"] = lambda a, w=word: Bytes(a, 2, w)
        ns["ptr8"] = lambda a, w=word: Bytes(a, 1, w)
        b = limbs(v)
        ks = sta_module._offsets(key)
        src(
            Bytes(sta_module._LO, 4, word),
            Bytes(sta_module._HI, 4, word),
            Bytes(ks, 1, word),
            Bytes(b, 4, word),
        )
        assert b == want, (word.__name__, key.hex(), v)


@pytest.mark.parametrize("seed", range(20))
def test_viper_misty1_kernel_keeps_to_32_bit_words_and_agrees_with_its_twin(seed):
    rnd = random.Random(seed)
    key, v = rnd.randbytes(16), rnd.getrandbits(64)
    kernel = viper_kernel("misty1_decrypt")
    c = Misty1(key, portable=True)
    a, b = limbs(v), limbs(v)
    kernel(Memory(S9, 16), Memory(S7, 8), Memory(c.dec, 16), Memory(a, 32))
    c.decrypt(b)
    assert a == b, (key.hex(), v)
