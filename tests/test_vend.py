# test_vend.py  the vending side: meter profiles, TIDs and the ledger, tokens of every class,
# key change sets, the edition-2 migration and the `stsvend` command line. Every token is
# checked by decoding it again with the firmware's own codec under the meter's key.
import datetime as dt
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import DEMO_KEY, DEMO_METER, MISTY1, ROOT, load_vectors

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sts import amount, blocks, errors  # noqa: E402
from sts.codec import Decoder  # noqa: E402
from stsvend import cli, keys, vend  # noqa: E402
from stsvend import profile as profiles  # noqa: E402
from stsvend import tid as tids  # noqa: E402
from stsvend.profile import Profile, ProfileError  # noqa: E402
from stsvend.tid import Ledger, TidError  # noqa: E402

DEMO_PATH = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
with open(DEMO_PATH) as _f:
    DEMO = json.load(_f)
DEMO_KEY_KRN2 = "f469dc6937c04441"  # vectors: the same meter at KRN 2

MISTY = MISTY1  # (conftest: the MISTY1 test meter)
DKGA04_VK = MISTY["vending_key"]
MISTY_KEY = "f94b6ed353c3bfdb113e2d3a7ea3c41d"  # vectors: CTSA05's old key
MISTY_KEY_KRN2 = "9ca924e05d4d647026b55a4bbba54bdf"  # vectors: CTSA19's new key

UTC = dt.timezone.utc
AT = dt.datetime(2024, 11, 23, 10, 0, tzinfo=UTC)  # inside the 1993 window
AT_TEXT = "2024-11-23T10:00Z"
AFTER = dt.datetime(2024, 11, 25, 8, 0, tzinfo=UTC)  # after the 1993 window closed
AFTER_TEXT = "2024-11-25T08:00Z"
GROUPED = re.compile(r"\b\d{4} \d{4} \d{4} \d{4} \d{4}\b")
VECTOR_TOKEN = "23716100501183194197"  # CTSA01 step 1: demo meter, 0.1 units, TID 5871715


def demo(**change):
    return Profile(dict(DEMO, **change))


def misty(**change):
    return Profile(dict(MISTY, **change))


def decode(token, ea=None, key=None):
    """(result, class, subclass, fields) of a token decoded by the firmware's codec."""
    dec = Decoder(vend.cipher(ea, key) if key is not None else None)
    rc = dec.decode(token)
    if rc != errors.OK:
        return rc, None, None, None
    return rc, dec.cls, dec.subclass, blocks.fields(dec.cls, dec.block)


def write_profile(tmp_path, data, name="meter.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def demo_file(tmp_path):
    """A copy of the demo profile in tmp_path (nothing is written beside the repo's)."""
    path = tmp_path / "demo.json"
    shutil.copy(DEMO_PATH, path)
    return str(path)


@pytest.fixture
def stsvend(tmp_path, demo_file, capsys):
    """Run main(argv) with the demo profile copy, a tmp ledger and a seed: (code, out, err)."""

    def run(*argv, profile=True, ledger=True, seed=True):
        pre = []
        if profile:
            pre += ["--profile", demo_file]
        if ledger:
            pre += ["--ledger", str(tmp_path / "ledger.db")]
        if seed:
            pre += ["--seed", "7"]
        code = cli.main(pre + list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


# ---------------------------------------------------------------------------------- profile


def test_profile_demo_loads():
    p = profiles.load(DEMO_PATH)
    assert (p.pan, p.sgc, p.ti, p.kt, p.krn, p.ken, p.ea, p.dkga, p.base_date) == (
        "600727000000000009",
        "123456",
        "01",
        2,
        1,
        255,
        "sta",
        2,
        1993,
    )
    assert (p.iin, p.iain) == ("600727", "00000000000")
    assert p.decoder_key().hex() == DEMO_KEY


@pytest.mark.parametrize("field", profiles.FIELDS)
def test_profile_missing_field_is_named(field):
    data = dict(DEMO)
    del data[field]
    with pytest.raises(ProfileError, match=r"\b%s\b" % field):
        Profile(data)


REFUSALS = [
    ("pan_length_17", {"pan": "60072700000000009"}, "pan"),
    ("pan_length_19", {"pan": "6007270000000000090"}, "pan"),
    ("pan_not_digits", {"pan": "60072700000000000x"}, "pan"),
    ("pan_luhn", {"pan": "600727000000000008"}, "pan"),
    ("sgc_5_digits", {"sgc": "12345"}, "sgc"),
    ("sgc_7_digits", {"sgc": "1234567"}, "sgc"),
    ("sgc_int", {"sgc": 123456}, "sgc"),
    ("ti_1_digit", {"ti": "1"}, "ti"),
    ("ti_3_digits", {"ti": "001"}, "ti"),
    ("kt_4", {"kt": 4}, "kt"),
    ("krn_0", {"krn": 0}, "krn"),
    ("krn_10", {"krn": 10}, "krn"),
    ("ken_256", {"ken": 256}, "ken"),
    ("ea_des", {"ea": "des"}, "ea"),
    ("dkga_3", {"dkga": 3}, "dkga"),
    ("dkga_2_misty1", {"ea": "misty1"}, "dkga"),
    ("base_date_2000", {"base_date": 2000}, "base_date"),
    ("dkga02_key_20_bytes", {"vending_key": DKGA04_VK}, "vending_key"),
    ("dkga04_key_8_bytes", {"dkga": 4, "vending_key": "abababababababab"}, "vending_key"),
    ("key_not_hex", {"vending_key": "zzababababababab"}, "vending_key"),
]


@pytest.mark.parametrize("change,field", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_profile_refusal_names_the_field(change, field):
    with pytest.raises(ProfileError, match=r"\b%s\b" % field):
        Profile(dict(DEMO, **change))


def test_profile_luhn_message_says_check_digit():
    with pytest.raises(ProfileError, match="check digit"):
        Profile(dict(DEMO, pan="600727000000000008"))


TYPE_REFUSALS = [
    ("vending_key_int", {"vending_key": 1234}, "vending_key"),
    ("ea_list", {"ea": ["sta"]}, "ea"),
    ("base_date_float", {"base_date": 1993.0}, "base_date"),
]


@pytest.mark.parametrize(
    "change,field", [r[1:] for r in TYPE_REFUSALS], ids=[r[0] for r in TYPE_REFUSALS]
)
def test_profile_wrong_json_type_is_a_profile_error(change, field):
    with pytest.raises(ProfileError, match=r"\b%s\b" % field):
        Profile(dict(DEMO, **change))


def test_profile_vending_key_file_wrong_json_type_is_a_profile_error():
    data = dict(DEMO)
    del data["vending_key"]
    data["vending_key_file"] = 5
    with pytest.raises(ProfileError, match="vending_key_file"):
        Profile(data)


def test_profile_vending_key_file_is_read_beside_the_profile(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "vk.hex").write_text("abababababababab\n")
    data = dict(DEMO)
    del data["vending_key"]
    data["vending_key_file"] = os.path.join("keys", "vk.hex")
    p = profiles.load(write_profile(tmp_path, data))
    assert p.vending_key == bytes.fromhex("abababababababab")
    assert p.decoder_key().hex() == DEMO_KEY


def test_profile_vending_key_file_absent_is_a_clear_error(tmp_path):
    data = dict(DEMO)
    del data["vending_key"]
    data["vending_key_file"] = "nowhere.hex"
    with pytest.raises(ProfileError, match=r"vending_key_file.*nowhere\.hex"):
        profiles.load(write_profile(tmp_path, data))


def test_profile_no_vending_key_at_all_is_refused():
    data = dict(DEMO)
    del data["vending_key"]
    with pytest.raises(ProfileError, match="vending_key"):
        Profile(data)


def test_profile_file_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"pan": "600727000000000009",')
    with pytest.raises(ProfileError, match="not JSON"):
        profiles.load(str(path))


def test_profile_file_absent_is_refused(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        profiles.load(str(tmp_path / "absent.json"))


def test_profile_13_digit_iain_split():
    assert profiles.split_pan("000001000000000082") == ("0000", "0100000000008")
    p = Profile(dict(DEMO, pan="000001000000000082"))
    assert (p.iin, p.iain) == ("0000", "0100000000008")
    assert p.decoder_key().hex() == "e94023262e9993c2"  # vectors: CTSA01 step 2


def _pan(body):
    """An 18-digit PAN: 17 digits and their Luhn check digit."""
    return body + str(profiles.luhn_digit(body))


@pytest.mark.parametrize(
    "body,mfr",
    [
        ("60072707000000005", 7),
        ("60072799123456789", 99),
        ("60072700000000000", 0),
        ("12345678000000001", 5678),
        ("00000100000000008", 100),
    ],
    ids=["iain11_07", "iain11_99", "iain11_00", "iain13_5678", "iain13_0100"],
)
def test_profile_manufacturer_code_opens_the_iain(body, mfr):
    pan = _pan(body)
    assert pan == body + pan[-1] and len(pan) == 18
    assert Profile(dict(DEMO, pan=pan)).mfr == mfr


def test_profile_manufacturer_code_example():
    pan = "600727" + "07" + "000000005" + str(profiles.luhn_digit("60072707000000005"))
    assert pan == "600727070000000051"
    assert Profile(dict(DEMO, pan=pan)).mfr == 7
    assert demo().mfr == 0


def _key_specs():
    seen = {}
    for case in load_vectors():
        spec = case.get("key")
        if spec and spec["dkga"] in (2, 4):
            k = json.dumps([case["ea"], spec], sort_keys=True)
            seen.setdefault(k, (case["id"], case["ea"], spec, case["decoder_key"]))
    return list(seen.values())


KEY_SPECS = _key_specs()


def test_profile_vectors_have_key_specs_of_both_dkgas():
    assert {s[2]["dkga"] for s in KEY_SPECS} == {2, 4}
    assert {s[1] for s in KEY_SPECS} == {"sta", "misty1"}


@pytest.mark.parametrize("case_id,ea,spec,want", KEY_SPECS, ids=[s[0] for s in KEY_SPECS])
def test_profile_decoder_key_matches_vectors(case_id, ea, spec, want):
    data = {f: spec[f] for f in ("pan", "sgc", "ti", "kt", "krn", "dkga", "vending_key")}
    data.update(ea=ea, base_date=spec.get("base_date", 1993), ken=255)
    p = Profile(data)
    assert (p.iin, p.iain) == (spec["iin"], spec["iain"])
    assert p.decoder_key().hex() == want


# -------------------------------------------------------------------------------------- tid


def test_tid_base_date_start_is_zero():
    for base in profiles.BASE_DATES:
        assert tids.from_time(dt.datetime(base, 1, 1, tzinfo=UTC), base) == 0


def test_tid_one_minute_later_is_one():
    assert tids.from_time(dt.datetime(1993, 1, 1, 0, 1, tzinfo=UTC), 1993) == 1


def test_tid_counts_whole_minutes_floor():
    start = dt.datetime(2014, 1, 1, tzinfo=UTC)
    assert tids.from_time(start + dt.timedelta(seconds=59.9), 2014) == 0
    assert tids.from_time(start + dt.timedelta(seconds=119.9), 2014) == 1


def test_tid_last_minute_of_1993_window():
    last = dt.datetime(2024, 11, 24, 20, 15, tzinfo=UTC)
    assert dt.datetime(1993, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=2**24 - 1) == last
    assert tids.from_time(last, 1993) == 2**24 - 1
    assert tids.from_time(last + dt.timedelta(seconds=59), 1993) == 2**24 - 1


def test_tid_after_window_refused_naming_window():
    with pytest.raises(TidError) as e:
        tids.from_time(dt.datetime(2024, 11, 24, 20, 16, tzinfo=UTC), 1993)
    assert "1993-01-01 00:00" in str(e.value)
    assert "2024-11-24 20:15" in str(e.value)


def test_tid_before_base_date_refused():
    with pytest.raises(TidError):
        tids.from_time(dt.datetime(2013, 12, 31, 23, 59, 30, tzinfo=UTC), 2014)


def test_tid_naive_datetime_refused():
    with pytest.raises(TidError):
        tids.from_time(dt.datetime(2024, 11, 23, 10, 0), 1993)


def test_tid_offset_converted_to_utc():
    east = tids.parse_time("2024-11-23T11:00+01:00")
    z = tids.parse_time("2024-11-23T10:00Z")
    assert tids.from_time(east, 1993) == tids.from_time(z, 1993)
    assert tids.from_time(east, 2014) == tids.from_time(AT, 2014)


@pytest.mark.parametrize("text", ["garbage", "", "2024-13-01T10:00Z", "10:00Z"])
def test_tid_parse_time_refuses_garbage(text):
    with pytest.raises(TidError):
        tids.parse_time(text)


def test_tid_parse_time_refuses_zoneless():
    with pytest.raises(TidError, match="zone"):
        tids.parse_time("2024-11-23T10:00")


def test_ledger_same_tid_twice_moves_to_next_free(tmp_path):
    led = Ledger(str(tmp_path / "l.db"))
    pan = DEMO["pan"]
    assert led.claim(pan, 1993, 100) == 100
    assert led.claim(pan, 1993, 100) == 101
    assert led.claim(pan, 1993, 100) == 102
    assert led.claim(pan, 1993, 101) == 103


def test_ledger_persists_across_instances(tmp_path):
    path = str(tmp_path / "l.db")
    assert Ledger(path).claim(DEMO["pan"], 1993, 500) == 500
    assert os.path.exists(path)
    assert Ledger(path).claim(DEMO["pan"], 1993, 500) == 501


def test_ledger_different_pans_do_not_collide(tmp_path):
    led = Ledger(str(tmp_path / "l.db"))
    assert led.claim("600727000000000009", 1993, 100) == 100
    assert led.claim("000001000000000082", 1993, 100) == 100


# ------------------------------------------------------------------------------------- vend


@pytest.mark.parametrize("commodity", sorted(vend.COMMODITIES))
def test_vend_credit_decodes_with_meter_key(commodity):
    p = demo()
    tok = vend.credit(p, commodity, 255, AT, None, random.Random(1))
    rc, cls, sub, f = decode(tok.digits, "sta", p.decoder_key())
    assert rc == errors.OK
    assert (cls, sub) == (0, vend.COMMODITIES[commodity])
    assert f["tid"] == tids.from_time(AT, 1993) == 16775160
    assert amount.decode(f["amount"]) == 255
    assert f["amount"] == tok.fields["amount"] and f["rnd"] == tok.fields["rnd"]


def test_vend_credit_misty1_decodes_with_meter_key():
    p = misty()
    tok = vend.credit(p, "electricity", 1234, AT, None, random.Random(1))
    rc, cls, sub, f = decode(tok.digits, "misty1", bytes.fromhex(MISTY_KEY))
    assert (rc, cls, sub) == (errors.OK, 0, 0)
    assert f["tid"] == tids.from_time(AT, 1993)
    assert amount.decode(f["amount"]) == 1234


@pytest.mark.parametrize(
    "text,tenths", [("25.55", 256), ("16385.5", 163855), ("0.01", 1), ("180214.6", 1802146)]
)
def test_vend_credit_amount_rounds_up(text, tenths):
    assert cli._tenths(text) == tenths
    p = demo()
    tok = vend.credit(p, "electricity", tenths, AT, None, random.Random(1))
    raw = tok.fields["amount"]
    assert tok.extra["requested_tenths"] == tenths
    assert tok.extra["encoded_tenths"] >= tenths
    assert amount.decode(raw) == tok.extra["encoded_tenths"]
    rc, _, _, f = decode(tok.digits, "sta", p.decoder_key())
    assert rc == errors.OK and amount.decode(f["amount"]) == tok.extra["encoded_tenths"]


def test_vend_amount_rounds_up_to_the_nearest_encodable_value():
    samples = set(range(0, 200)) | {amount.MAX_TENTHS - i for i in range(2000)}
    for edge in (16383, 16384, 180214, 180224, 1818524, 1818624):
        samples |= set(range(edge - 1500, edge + 1500))
    for t in sorted(samples):
        raw = amount.encode(t)
        got = amount.decode(raw)
        assert got >= t, t
        assert raw == 0 or amount.decode(raw - 1) < t, t  # no smaller encodable value


def test_vend_credit_maximum_amount():
    p = demo()
    assert cli._tenths("1820162.4") == amount.MAX_TENTHS
    tok = vend.credit(p, "electricity", amount.MAX_TENTHS, AT, None, random.Random(1))
    rc, _, _, f = decode(tok.digits, "sta", p.decoder_key())
    assert rc == errors.OK and amount.decode(f["amount"]) == amount.MAX_TENTHS
    with pytest.raises(ValueError, match="largest"):
        vend.credit(p, "electricity", amount.MAX_TENTHS + 1, AT, None, random.Random(1))


def test_cli_credit_maximum_works_and_above_is_refused(stsvend):
    code, out, err = stsvend("credit", "1820162.4", "--at", AT_TEXT)
    assert code == 0 and GROUPED.search(out) and "amount 1820162.4" in out
    code, out, err = stsvend("credit", "1820162.5", "--at", AT_TEXT)
    assert code == 2 and "error" in err and out == ""


@pytest.mark.parametrize("tenths", [0, -1, -10])
def test_vend_credit_zero_or_negative_refused(tenths):
    with pytest.raises(ValueError, match="above zero"):
        vend.credit(demo(), "electricity", tenths, AT, None, random.Random(1))


@pytest.mark.parametrize("text", ["0", "-5", "-0.5"])
def test_cli_credit_zero_or_negative_refused(stsvend, text):
    code, out, err = stsvend("credit", text, "--at", AT_TEXT)
    assert code == 2 and "error" in err and not GROUPED.search(out)


@pytest.mark.parametrize("text", ["-0.01", "-0.09"])
def test_cli_credit_small_negative_refused(stsvend, text):
    assert cli._tenths(text) <= 0
    code, out, err = stsvend("credit", text, "--at", AT_TEXT)
    assert code == 2 and "error" in err and not GROUPED.search(out)


def test_vend_credit_unknown_commodity_refused():
    with pytest.raises(ValueError, match="commodity"):
        vend.credit(demo(), "beer", 10, AT, None, random.Random(1))


def test_vend_credit_claims_the_ledger(tmp_path):
    led = Ledger(str(tmp_path / "l.db"))
    p = demo()
    a = vend.credit(p, "electricity", 10, AT, led, random.Random(1))
    b = vend.credit(p, "electricity", 10, AT, led, random.Random(1))
    assert a.fields["tid"] + 1 == b.fields["tid"]
    assert "tid_moved" in b.extra and "tid_moved" not in a.extra
    assert decode(b.digits, "sta", p.decoder_key())[3]["tid"] == b.fields["tid"]


@pytest.mark.parametrize("kind", sorted(vend.MANAGEMENT))
def test_vend_management_decodes_to_class_2(kind):
    p = demo()
    tok = vend.management(p, kind, 5000, AT, None, random.Random(1))
    rc, cls, sub, f = decode(tok.digits, "sta", p.decoder_key())
    assert rc == errors.OK
    assert (cls, sub) == (2, vend.MANAGEMENT[kind])
    assert f["register"] == 5000
    assert f["tid"] == tids.from_time(AT, 1993)


def test_vend_management_register_limits():
    p = demo()
    tok = vend.management(p, "tariff-rate", 65535, AT, None, random.Random(1))
    assert decode(tok.digits, "sta", p.decoder_key())[3]["register"] == 65535
    for bad in (65536, -1):
        with pytest.raises(ValueError, match="register"):
            vend.management(p, "tariff-rate", bad, AT, None, random.Random(1))


def test_cli_management_register_65536_refused(stsvend):
    code, out, err = stsvend("management", "tariff-rate", "65536", "--at", AT_TEXT)
    assert code == 2 and "error" in err and not GROUPED.search(out)


@pytest.mark.parametrize("kind", ["max-power", "phase-unbalance"])
@pytest.mark.parametrize(
    "watts,raw,encoded",
    [
        (0, 0, 0),
        (5000, 5000, 5000),
        (16383, 0x3FFF, 16383),
        (20004, 0x416A, 20004),
        (20000, 0x416A, 20004),
        (65536, 0x5334, 65544),
        (18201624, 0xFFFF, 18201624),
    ],
)
def test_vend_watt_registers_are_coded_as_amounts(kind, watts, raw, encoded):
    p = demo()
    tok = vend.management(p, kind, watts, AT, None, random.Random(1))
    rc, cls, sub, f = decode(tok.digits, "sta", p.decoder_key())
    assert (rc, cls, sub) == (errors.OK, 2, vend.MANAGEMENT[kind])
    assert f["register"] == tok.fields["register"] == raw
    assert amount.decode(f["register"]) == encoded == tok.extra["encoded_watts"]
    assert tok.extra["requested_watts"] == watts


@pytest.mark.parametrize("kind", ["max-power", "phase-unbalance"])
@pytest.mark.parametrize("watts", [-1, 18201625, 10**9])
def test_vend_watt_registers_out_of_range_refused(kind, watts):
    with pytest.raises(ValueError, match="0..18201624 W"):
        vend.management(demo(), kind, watts, AT, None, random.Random(1))


@pytest.mark.parametrize("kind", ["clear-credit", "tariff-rate", "clear-tamper", "water-factor"])
def test_vend_other_registers_stay_raw(kind):
    p = demo()
    tok = vend.management(p, kind, 0x416A, AT, None, random.Random(1))
    assert decode(tok.digits, "sta", p.decoder_key())[3]["register"] == 0x416A
    assert "encoded_watts" not in tok.extra


def test_cli_max_power_prints_the_watts_encoded(stsvend):
    code, out, err = stsvend("management", "max-power", "20004", "--at", AT_TEXT)
    assert code == 0, err
    assert re.search(r"^   limit 20004 W$", out, re.M), out
    code, out, err = stsvend("management", "phase-unbalance", "20000", "--at", AT_TEXT)
    assert code == 0, err
    assert "   limit 20004 W (requested 20000 W, rounded up)" in out
    code, out, err = stsvend("management", "max-power", "20000", "--at", AT_TEXT, "--json")
    t = json.loads(out)["tokens"][0]
    assert (t["encoded_watts"], t["requested_watts"], t["fields"]["register"]) == (
        20004,
        20000,
        0x416A,
    )
    code, out, _ = stsvend("management", "tariff-rate", "20000", "--at", AT_TEXT)
    assert code == 0 and "limit" not in out and " W" not in out


@pytest.mark.parametrize("kind", ["max-power", "phase-unbalance"])
def test_cli_watts_above_the_largest_refused(stsvend, kind):
    code, out, err = stsvend("management", kind, "18201625", "--at", AT_TEXT)
    assert code == 2 and "18201624" in err and not GROUPED.search(out)
    assert stsvend("management", kind, "18201624", "--at", AT_TEXT)[0] == 0


@pytest.mark.parametrize(
    "kind,sub,what",
    [
        ("max-power", 0, "max power limit"),
        ("phase-unbalance", 6, "max phase power unbalance limit"),
    ],
)
def test_cli_explain_shows_the_watts_of_a_limit(stsvend, kind, sub, what):
    tok = vend.management(demo(), kind, 20000, AT, None, random.Random(1))
    code, out, err = stsvend("explain", tok.digits)
    assert code == 0, err
    st = _stages(out)
    assert st["token"].startswith("class 2 subclass %d" % sub)
    assert st["field register"].startswith("%d " % 0x416A)
    assert st["limit"] == "20004 W (%s)" % what
    names = [m.group(1) for m in re.finditer(r"^(\S+(?: \S+)?)\s{2,}", out, re.M)]
    assert names.index("limit") == names.index("field rnd") + 1  # after the fields
    assert names[-1] == "TID time"


def test_cli_explain_other_registers_show_no_watts(stsvend):
    tok = vend.management(demo(), "tariff-rate", 20000, AT, None, random.Random(1))
    code, out, err = stsvend("explain", tok.digits)
    assert code == 0 and "limit" not in _stages(out)


@pytest.mark.parametrize(
    "subclass,mfr,control", [(0, 0, 512), (0, 255, 2**36 - 1), (1, 65535, 2**28 - 1), (1, 7, 3)]
)
def test_vend_test_display_decodes_without_key(subclass, mfr, control):
    tok = vend.test_display(control, mfr, subclass)
    rc, cls, sub, f = decode(tok.digits)  # no cipher at all: class 1 is in the clear
    assert (rc, cls, sub) == (errors.OK, 1, subclass)
    assert (f["mfr"], f["control"]) == (mfr, control)


@pytest.mark.parametrize(
    "subclass,mfr,control", [(0, 0, 2**36), (1, 0, 2**28), (0, 0, -1), (0, 256, 0), (1, 65536, 0)]
)
def test_vend_test_display_out_of_range_refused(subclass, mfr, control):
    with pytest.raises(ValueError):
        vend.test_display(control, mfr, subclass)


# ------------------------------------------------------------------------------- key change


@pytest.mark.parametrize(
    "change",
    [{"krn": 2}, {"krn": 3, "kt": 1, "ti": "07", "ken": 0x5A}, {"sgc": "654321"}],
    ids=["krn2", "krn_kt_ti_ken", "sgc"],
)
def test_keychange_sta_two_sections_under_old_key(change):
    p = demo()
    toks, target = vend.key_change(p, change)
    assert [t.subclass for t in toks] == [3, 4]
    old = p.decoder_key()
    got = []
    for t in toks:
        rc, cls, sub, f = decode(t.digits, "sta", old)
        assert rc == errors.OK and cls == 2
        got.append((sub, f))
    (s1, f1), (s2, f2) = got
    assert (s1, s2) == (3, 4)
    new = p.decoder_key(**change)
    assert new != old
    assert ((f1["nkho"] << 32) | f2["nklo"]).to_bytes(8, "big") == new
    assert toks[0].extra["new_decoder_key"] == new.hex()
    assert f1["krn"] == target["krn"] == change.get("krn", 1)
    assert f1["kt"] == target["kt"] == change.get("kt", 2)
    assert f2["ti"] == int(change.get("ti", "01"))
    assert (f1["kenho"] << 4) | f2["kenlo"] == change.get("ken", 255)
    assert f1["ro"] == 0 and f1["res"] == 0


def test_keychange_sta_new_key_is_the_vectors_krn2_key():
    p = demo()
    toks, _ = vend.key_change(p, {"krn": 2})
    f1 = decode(toks[0].digits, "sta", p.decoder_key())[3]
    f2 = decode(toks[1].digits, "sta", p.decoder_key())[3]
    new = ((f1["nkho"] << 32) | f2["nklo"]).to_bytes(8, "big")
    assert new == p.decoder_key(krn=2) == bytes.fromhex(DEMO_KEY_KRN2)


@pytest.mark.parametrize("change", [{"krn": 2}, {"sgc": "654321", "krn": 3}], ids=["krn2", "sgc"])
def test_keychange_misty1_four_sections(change):
    p = misty()
    old = p.decoder_key()
    assert old.hex() == MISTY_KEY
    toks, target = vend.key_change(p, change)
    assert [t.subclass for t in toks] == [3, 4, 8, 9]
    f = {}
    for t in toks:
        rc, cls, sub, fields = decode(t.digits, "misty1", old)
        assert rc == errors.OK and cls == 2
        f[sub] = fields
    assert sorted(f) == [3, 4, 8, 9]
    nk = b"".join(
        v.to_bytes(4, "big") for v in (f[3]["nkho"], f[8]["nkmo2"], f[9]["nkmo1"], f[4]["nklo"])
    )
    assert nk == p.decoder_key(**change) and len(nk) == 16
    if change == {"krn": 2}:
        assert nk.hex() == MISTY_KEY_KRN2
    assert (f[9]["sgcho"] << 12) | f[8]["sgclo"] == int(target["sgc"])
    assert f[3]["krn"] == change["krn"] and f[3]["kt"] == 2 and f[4]["ti"] == 1
    assert (f[3]["kenho"] << 4) | f[4]["kenlo"] == 255


@pytest.mark.parametrize("ro", [0, 1])
def test_keychange_rollover_flag(ro):
    p = demo()
    toks, _ = vend.key_change(p, {"krn": 2}, ro=ro)
    assert decode(toks[0].digits, "sta", p.decoder_key())[3]["ro"] == ro


def test_cli_keychange_rollover_only_with_flag(stsvend):
    key = bytes.fromhex(DEMO_KEY)
    code, out, _ = stsvend("keychange", "--krn", "2", "--json")
    assert code == 0
    plain = json.loads(out)["tokens"][0]
    code, out, _ = stsvend("keychange", "--krn", "2", "--rollover", "--json")
    assert code == 0
    rolled = json.loads(out)["tokens"][0]
    assert plain["fields"]["ro"] == 0 and rolled["fields"]["ro"] == 1
    assert decode(plain["token"], "sta", key)[3]["ro"] == 0
    assert decode(rolled["token"], "sta", key)[3]["ro"] == 1


def test_keychange_changing_ea_refused():
    with pytest.raises(ValueError, match="algorithm"):
        vend.key_change(demo(), {"ea": "misty1", "dkga": 4})
    with pytest.raises(ValueError, match="algorithm"):
        vend.key_change(misty(), {"ea": "sta"})


@pytest.mark.parametrize(
    "argv", [["--ken", "256"], ["--krn", "0"], ["--ti", "1"], ["--sgc", "12"], ["--kt", "4"]]
)
def test_cli_keychange_invalid_new_field_refused(stsvend, argv):
    code, out, err = stsvend("keychange", *argv)
    assert code == 2 and "error" in err and not GROUPED.search(out)


def write_misty(tmp_path, **change):
    return write_profile(tmp_path, dict(MISTY, **change), "misty.json")


@pytest.mark.parametrize(
    "profile,change,ro",
    [
        ("demo", {"ken": 100}, 0),
        ("demo", {"krn": 1}, 0),
        ("demo", {}, 1),
        ("demo", {"ken": 7}, 1),
        ("misty", {"ken": 9}, 0),
        ("misty", {"krn": 1}, 0),
    ],
    ids=[
        "sta_ken_only",
        "sta_same_krn",
        "dkga02_rollover_alone",
        "dkga02_rollover_ken",
        "misty_ken_only",
        "misty_same_krn",
    ],
)
def test_keychange_to_the_same_key_refused(profile, change, ro):
    p = demo() if profile == "demo" else misty()
    with pytest.raises(ValueError, match="new decoder key equals the current one") as e:
        vend.key_change(p, change, ro=ro)
    assert "--krn" in str(e.value) and "--sgc" in str(e.value)


def test_cli_keychange_same_key_with_rollover_refused(stsvend):
    for argv in (["--ken", "255", "--rollover"], ["--rollover"], ["--ken", "100"]):
        code, out, err = stsvend("keychange", *argv)
        assert code == 2 and "equals the current one" in err, argv
        assert "--krn" in err and not GROUPED.search(out)


def test_cli_keychange_dkga02_rollover_with_new_krn_moves_base_date(stsvend):
    code, out, err = stsvend("keychange", "--krn", "2", "--rollover", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["new_profile"]["base_date"] == 2014 and data["new_profile"]["krn"] == 2
    assert data["tokens"][0]["new_decoder_key"] == DEMO_KEY_KRN2  # DKGA02: no base date
    code, out, err = stsvend("keychange", "--krn", "2", "--rollover")
    assert code == 0 and "base date 2014" in out
    code, out, err = stsvend("keychange", "--krn", "2", "--json")
    assert json.loads(out)["new_profile"]["base_date"] == 1993


def test_keychange_rollover_moves_to_the_next_base_date():
    p = misty()
    toks, target = vend.key_change(p, {}, ro=1)  # DKGA04: the base date alone changes the key
    assert target["base_date"] == 2014 and target["krn"] == 1
    f = [decode(t.digits, "misty1", p.decoder_key())[3] for t in toks]
    assert f[0]["ro"] == 1
    assert toks[0].extra["new_decoder_key"] == p.decoder_key(base_date=2014).hex()
    p2 = misty(base_date=2014)
    assert vend.key_change(p2, {"krn": 2}, ro=1)[1]["base_date"] == 2035
    assert vend.key_change(p2, {"krn": 2}, ro=0)[1]["base_date"] == 2014


def test_keychange_rollover_from_the_last_base_date_refused():
    for p in (misty(base_date=2035), demo(base_date=2035)):
        with pytest.raises(ValueError, match="2035 has no successor"):
            vend.key_change(p, {"krn": 2}, ro=1)
        assert vend.key_change(p, {"krn": 2})[1]["base_date"] == 2035


def test_cli_keychange_rollover_from_2035_refused(tmp_path, capsys):
    path = write_misty(tmp_path, base_date=2035)
    code = cli.main(["--profile", path, "keychange", "--krn", "2", "--rollover"])
    out, err = capsys.readouterr()
    assert code == 2 and "2035" in err and "no successor" in err and not GROUPED.search(out)


def test_cli_keychange_dkga04_rollover_alone(tmp_path, capsys):
    path = write_misty(tmp_path)
    assert cli.main(["--profile", path, "--json", "keychange", "--rollover"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["new_profile"]["base_date"] == 2014 and data["new_profile"]["krn"] == 1
    p = misty()
    assert data["tokens"][0]["new_decoder_key"] == p.decoder_key(base_date=2014).hex()
    assert [t["fields"].get("ro") for t in data["tokens"]][0] == 1


def test_keychange_base_date_changes_only_by_rollover():
    with pytest.raises(ValueError, match="rollover"):
        vend.key_change(misty(), {"base_date": 2014, "krn": 2})
    with pytest.raises(ValueError, match="rollover"):
        vend.key_change(misty(), {"base_date": 2035}, ro=1)


def test_next_base_dates_follow_the_profile_base_dates():
    assert [vend.next_base_date(b) for b in profiles.BASE_DATES[:-1]] == [2014, 2035]
    with pytest.raises(ValueError, match="2035"):
        vend.next_base_date(2035)


# -------------------------------------------------------------------------------- migration


def test_migration_sta_demo():
    p = demo()
    old = p.decoder_key()
    toks, target = vend.migration(p, 100, AFTER, None, random.Random(1))
    assert len(toks) == 3
    assert (target["base_date"], target["krn"]) == (2014, 2)
    f = []
    for t, sub in zip(toks[:2], (3, 4)):
        rc, cls, s, fields = decode(t.digits, "sta", old)
        assert (rc, cls, s) == (errors.OK, 2, sub)
        f.append(fields)
    assert f[0]["ro"] == 1 and f[0]["krn"] == 2
    new = ((f[0]["nkho"] << 32) | f[1]["nklo"]).to_bytes(8, "big")
    assert new == p.decoder_key(krn=2) == bytes.fromhex(DEMO_KEY_KRN2)
    rc, cls, sub, fc = decode(toks[2].digits, "sta", new)
    assert (rc, cls, sub) == (errors.OK, 0, 0)
    want = int((AFTER - dt.datetime(2014, 1, 1, tzinfo=UTC)).total_seconds() // 60)
    assert fc["tid"] == want == 5733120
    assert amount.decode(fc["amount"]) == 100
    assert decode(toks[2].digits, "sta", old)[0] == errors.BAD_CRC


def test_migration_misty1_dkga04():
    p = misty()
    old = p.decoder_key()
    toks, target = vend.migration(p, 50, AFTER, None, random.Random(1))
    assert len(toks) == 5
    f = {}
    for t, sub in zip(toks[:4], (3, 4, 8, 9)):
        rc, cls, s, fields = decode(t.digits, "misty1", old)
        assert (rc, cls, s) == (errors.OK, 2, sub)
        f[sub] = fields
    assert f[3]["ro"] == 1 and f[3]["krn"] == 2
    new = b"".join(
        v.to_bytes(4, "big") for v in (f[3]["nkho"], f[8]["nkmo2"], f[9]["nkmo1"], f[4]["nklo"])
    )
    want = keys.dkga04(
        bytes.fromhex(DKGA04_VK),
        "misty1",
        2014,
        MISTY["pan"],
        MISTY["sgc"],
        MISTY["ti"],
        MISTY["kt"],
        2,
    )
    assert new == want == p.decoder_key(base_date=2014, krn=2)
    assert new != p.decoder_key(krn=2)  # the base date is part of a DKGA04 key
    rc, cls, sub, fc = decode(toks[4].digits, "misty1", new)
    assert (rc, cls, sub) == (errors.OK, 0, 0)
    assert fc["tid"] == tids.from_time(AFTER, 2014)
    assert amount.decode(fc["amount"]) == 50
    assert decode(toks[4].digits, "misty1", old)[0] == errors.BAD_CRC


@pytest.mark.parametrize(
    "change,msg",
    [({"krn": 9}, "KRN 9"), ({"base_date": 2035}, "2035 has no successor")],
    ids=["krn9", "base2035"],
)
def test_migration_refused_without_successor(change, msg):
    when = dt.datetime(2040, 1, 1, tzinfo=UTC)  # inside the windows of 2014 and 2035
    with pytest.raises(ValueError, match=msg):
        vend.migration(demo(**change), 100, when, None, random.Random(1))


def test_cli_migrate_at_krn_9_refused(tmp_path, capsys):
    path = write_profile(tmp_path, dict(DEMO, krn=9))
    code = cli.main(
        [
            "--profile",
            path,
            "--ledger",
            str(tmp_path / "l.db"),
            "migrate",
            "10",
            "--at",
            AFTER_TEXT,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and "KRN 9" in err and not GROUPED.search(out)


def test_migration_from_2014_goes_to_2035():
    p = misty(base_date=2014, krn=4)
    toks, target = vend.migration(
        p, 10, dt.datetime(2040, 1, 1, tzinfo=UTC), None, random.Random(1)
    )
    assert (target["base_date"], target["krn"]) == (2035, 5)
    new = p.decoder_key(base_date=2035, krn=5)
    rc, _, _, fc = decode(toks[-1].digits, "misty1", new)
    assert rc == errors.OK and fc["tid"] == tids.from_time(
        dt.datetime(2040, 1, 1, tzinfo=UTC), 2035
    )


# -------------------------------------------------------------------------------------- cli


SUBCOMMANDS = {
    "credit": ["credit", "25.5", "--at", AT_TEXT],
    "management": ["management", "max-power", "5000", "--at", AT_TEXT],
    "keychange": ["keychange", "--krn", "2"],
    "migrate": ["migrate", "10", "--at", AFTER_TEXT],
    "test": ["test", "512"],
}


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_cli_subcommand_prints_grouped_tokens(stsvend, name):
    code, out, err = stsvend(*SUBCOMMANDS[name])
    assert code == 0, err
    n = {"keychange": 2, "migrate": 3}.get(name, 1)
    assert len(GROUPED.findall(out)) == n, out


def test_cli_key_prints_decoder_key(stsvend):
    code, out, err = stsvend("key")
    assert code == 0, err
    assert DEMO_KEY in out and "DKGA02" in out


def test_cli_explain_runs_on_grouped_token(stsvend):
    code, out, err = stsvend("explain", "2371 6100 5011 8319 4197")
    assert code == 0, err
    assert re.search(r"^digits\s+%s$" % VECTOR_TOKEN, out, re.M)
    assert "match" in out


def test_cli_test_needs_no_profile(stsvend):
    code, out, err = stsvend("test", "512", profile=False, ledger=False)
    assert code == 0, err
    assert GROUPED.search(out)


def test_cli_test_uses_the_profiles_manufacturer_code(tmp_path, capsys):
    path = write_profile(tmp_path, dict(DEMO, pan="600727070000000051"))
    for argv, mfr in (
        (["--profile", path, "test", "512"], 7),
        (["--profile", path, "test", "512", "--mfr", "3"], 3),
        (["--profile", path, "test", "512", "--mfr", "0"], 0),
        (["test", "512"], 0),
    ):
        assert cli.main(argv + ["--json"]) == 0
        tok = json.loads(capsys.readouterr().out)["tokens"][0]
        rc, cls, sub, f = decode(tok["token"])
        assert (rc, cls, sub) == (errors.OK, 1, 0)
        assert f["mfr"] == tok["fields"]["mfr"] == mfr, argv


def test_cli_test_four_digit_manufacturer_code(tmp_path, capsys):
    path = write_profile(tmp_path, dict(DEMO, pan=_pan("12345678000000001")))
    assert cli.main(["--profile", path, "test", "512"]) == 2
    assert "--subclass 1" in capsys.readouterr().err
    assert cli.main(["--profile", path, "--json", "test", "512", "--subclass", "1"]) == 0
    tok = json.loads(capsys.readouterr().out)["tokens"][0]
    assert decode(tok["token"])[3]["mfr"] == 5678


JSON_CASES = {
    "key": (["key"], dict, {"decoder_key", "ea", "dkga"}),
    "credit": (SUBCOMMANDS["credit"], dict, {"tokens"}),
    "management": (SUBCOMMANDS["management"], dict, {"tokens"}),
    "keychange": (SUBCOMMANDS["keychange"], dict, {"tokens", "new_profile"}),
    "migrate": (SUBCOMMANDS["migrate"], dict, {"tokens", "new_profile"}),
    "test": (SUBCOMMANDS["test"], dict, {"tokens"}),
    "explain": (["explain", VECTOR_TOKEN], list, None),
}
TOKEN_KEYS = {"token", "class", "subclass", "what", "fields"}


@pytest.mark.parametrize("where", ["before", "after"])
@pytest.mark.parametrize("name", sorted(JSON_CASES))
def test_cli_json_output(stsvend, name, where):
    argv, kind, want = JSON_CASES[name]
    argv = ["--json"] + argv if where == "before" else argv + ["--json"]
    code, out, err = stsvend(*argv)
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, kind)
    if kind is list:
        assert all(set(d) == {"stage", "value", "bit", "width", "words"} for d in data)
        assert data[0]["stage"] == "digits" and data[0]["words"] == VECTOR_TOKEN
        return
    assert want <= set(data)
    if name == "key":
        assert data["decoder_key"] == DEMO_KEY
    for t in data.get("tokens", ()):
        assert TOKEN_KEYS <= set(t) and re.fullmatch(r"\d{20}", t["token"])
    if name == "credit":
        t = data["tokens"][0]
        assert t["requested_tenths"] == 255 and t["encoded_tenths"] == 255
        assert t["base_date"] == 1993 and t["tid_time"] == "2024-11-23 10:00 UTC"
    if "new_profile" in data:
        assert set(data["new_profile"]) == set(profiles.FIELDS)
        assert "vending_key" not in data["new_profile"]


def test_cli_seed_makes_output_reproducible(tmp_path, demo_file, capsys):
    outs = []
    for i in range(2):
        argv = [
            "--profile",
            demo_file,
            "--ledger",
            str(tmp_path / ("l%d.db" % i)),
            "--seed",
            "11",
            "credit",
            "3",
            "--at",
            AT_TEXT,
        ]
        assert cli.main(argv) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]


def _stages(out):
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\S+(?: \S+)?)\s{2,}(.*)$", out, re.M)}


def test_cli_explain_vector_token_stages(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN)
    assert code == 0, err
    st = _stages(out)
    assert st["digits"] == VECTOR_TOKEN
    assert re.fullmatch(r"[01]{66}", st["66 bits"]) and int(st["66 bits"], 2) == int(VECTOR_TOKEN)
    assert "class 0" in st["class bits"]
    assert "transposition" in st
    assert re.fullmatch(r"[0-9a-f]{16}", st["cipher block"])
    assert st["plaintext"].startswith("05599863000119e6")  # the vector's block
    assert "match" in st["CRC"] and "MISMATCH" not in st["CRC"]
    assert st["field tid"].startswith("5871715 ")
    assert st["amount"].startswith("0.1")
    assert "refused" not in st


def test_the_demo_meter_is_one_meter_for_both_sides():
    """tests/mp/demo_meter.py (the micropython side's demo meter) is the packaged demo
    profile's meter, with the decoder key of the vectors' CTSA01."""
    p = Profile(DEMO)
    assert p.decoder_key() == DEMO_METER.KEY
    assert {k: getattr(p, k) for k in DEMO_METER.FIELDS} == DEMO_METER.FIELDS
    ctsa01 = [c for c in load_vectors() if c["source"].endswith("CTSA01.step1Test")][0]
    assert ctsa01["decoder_key"] == DEMO_KEY and ctsa01["key"]["pan"] == p.pan


def test_cli_explain_json_gives_each_stage_as_numbers(stsvend):
    """The stages as data: a program reads the numbers, not the sentences."""
    code, out, err = stsvend("--json", "explain", VECTOR_TOKEN)
    assert code == 0, err
    st = {d["stage"]: d for d in json.loads(out)}
    assert st["66 bits"]["value"] == int(VECTOR_TOKEN)
    assert (st["class bits"]["value"], st["class bits"]["bit"], st["class bits"]["width"]) == (
        0,
        27,
        2,
    )
    assert st["plaintext"]["value"] == 0x05599863000119E6 and st["plaintext"]["width"] == 64
    assert (st["CRC"]["value"], st["CRC"]["bit"], st["CRC"]["width"]) == (0x19E6, 0, 16)
    assert st["token"]["value"] == 0x00  # class << 4 | subclass
    assert (st["field tid"]["value"], st["field tid"]["bit"], st["field tid"]["width"]) == (
        5871715,
        32,
        24,
    )
    assert st["amount"]["value"] == 1  # tenths
    assert st["TID time"]["value"] == 5871715


def test_cli_explain_wrong_crc(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN[:-1] + "6")
    assert code == 1, err  # explained, and refused
    st = _stages(out)
    assert "MISMATCH" in st["CRC"]
    assert st["refused"] == "BAD_CRC"
    assert "field tid" not in st


def test_cli_explain_19_digits(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN[:-1])
    assert code == 1, err  # explained, and refused
    assert _stages(out)["refused"] == "BAD_LENGTH"


def test_cli_missing_profile_for_credit(stsvend):
    code, out, err = stsvend("credit", "5", "--at", AT_TEXT, profile=False)
    assert code == 2 and "--profile" in err and out == ""


def test_cli_unreadable_profile(tmp_path, capsys):
    code = cli.main(
        [
            "--profile",
            str(tmp_path / "absent.json"),
            "--ledger",
            str(tmp_path / "l.db"),
            "credit",
            "5",
            "--at",
            AT_TEXT,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and "error" in err and "absent.json" in err and out == ""


@pytest.mark.parametrize("when", ["2024-11-24T20:16Z", "1992-12-31T23:59Z"])
def test_cli_time_outside_window(stsvend, when):
    code, out, err = stsvend("credit", "5", "--at", when)
    assert code == 2 and "1993-01-01 00:00" in err and "2024-11-24 20:15" in err
    assert out == ""


def test_cli_time_without_zone(stsvend):
    code, out, err = stsvend("credit", "5", "--at", "2024-11-23T10:00")
    assert code == 2 and "zone" in err and out == ""


@pytest.mark.parametrize("text", ["abc", "nan", "5kWh"])
def test_cli_non_numeric_amount(stsvend, text):
    with pytest.raises(SystemExit) as e:
        stsvend("credit", text, "--at", AT_TEXT)
    assert e.value.code == 2


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity"])
def test_cli_infinite_amount_is_a_usage_error(stsvend, text):
    with pytest.raises(SystemExit) as e:
        stsvend("credit", text, "--at", AT_TEXT)
    assert e.value.code == 2


def test_cli_huge_amount_refused(stsvend):
    try:
        code, out, err = stsvend("credit", "1e400", "--at", AT_TEXT)
    except SystemExit as e:  # refused by argparse: a usage error is fine too
        code, out = e.code, ""
    assert code == 2 and not GROUPED.search(out)


def test_cli_keychange_nothing_to_change(stsvend):
    code, out, err = stsvend("keychange")
    assert code == 2 and "say what changes" in err and out == ""


def test_cli_never_writes_beside_the_profile(stsvend, demo_file, tmp_path):
    assert stsvend("credit", "5", "--at", AT_TEXT)[0] == 0
    for beside in (demo_file, DEMO_PATH):
        assert not os.path.exists(beside + ".tids.json")
        assert not os.path.exists(beside + ".tids.db")
    assert Ledger(str(tmp_path / "ledger.db")).issued("600727000000000009", 1993) == [16775160]


def test_cli_console_script(tmp_path, demo_file, capsys):
    exe = os.path.join(os.path.dirname(sys.executable), "stsvend")
    if not os.path.exists(exe):
        pytest.skip("no stsvend console script: pip install -e .")
    tail = ["--seed", "5", "credit", "7.25", "--at", AT_TEXT]
    r = subprocess.run(
        [exe, "--profile", demo_file, "--ledger", str(tmp_path / "a.db")] + tail,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert GROUPED.search(r.stdout) and "amount 7.3" in r.stdout
    assert cli.main(["--profile", demo_file, "--ledger", str(tmp_path / "b.db")] + tail) == 0
    assert capsys.readouterr().out == r.stdout
    r = subprocess.run(
        [exe, "--profile", demo_file, "--ledger", str(tmp_path / "a.db"), "keychange"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "error" in r.stderr


# ------------------------------------------------------- issue 13: stsvend past the demo


def _cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_migrate_write_then_credit_decodes_under_the_new_key(tmp_path, demo_file, capsys):
    ledger = str(tmp_path / "l.db")
    code, out, err = _cli(
        capsys,
        "--profile",
        demo_file,
        "--ledger",
        ledger,
        "migrate",
        "10",
        "--at",
        AFTER_TEXT,
        "--write",
    )
    assert code == 0, err
    assert "wrote %s: KRN 1 -> 2, base date 1993 -> 2014" % demo_file in out
    with open(demo_file) as f:
        saved = json.load(f)
    assert saved == dict(DEMO, krn=2, base_date=2014)  # name and vending key as they were
    code, out, err = _cli(
        capsys,
        "--profile",
        demo_file,
        "--ledger",
        ledger,
        "--json",
        "credit",
        "5",
        "--at",
        "2024-11-25T09:00Z",
    )
    assert code == 0, err
    tok = json.loads(out)["tokens"][0]
    rc, cls, sub, f = decode(tok["token"], "sta", bytes.fromhex(DEMO_KEY_KRN2))
    assert (rc, cls, sub) == (errors.OK, 0, 0)
    assert f["tid"] == tids.from_time(dt.datetime(2024, 11, 25, 9, 0, tzinfo=UTC), 2014)
    assert amount.decode(f["amount"]) == 50
    assert decode(tok["token"], "sta", bytes.fromhex(DEMO_KEY))[0] == errors.BAD_CRC


def test_cli_write_saves_nothing_when_the_codes_cannot_be_printed(
    tmp_path, demo_file, monkeypatch
):
    # The profile holds the new key only once its change codes were printed: a pipe that
    # breaks (or a full disk) leaves the profile as it was, and a rerun moves it once.
    class Broken:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    with open(demo_file) as f:
        before = f.read()
    monkeypatch.setattr(sys, "stdout", Broken())
    code = cli.main(
        [
            "--profile",
            demo_file,
            "--ledger",
            str(tmp_path / "l.db"),
            "migrate",
            "10",
            "--at",
            AFTER_TEXT,
            "--write",
        ]
    )
    assert code == 2
    with open(demo_file) as f:
        assert f.read() == before


def test_cli_write_keeps_a_secret_profile_secret(tmp_path, demo_file, capsys):
    # A profile with the vending key inline is a secret: 0600 stays 0600 when --write
    # replaces it.
    os.chmod(demo_file, 0o600)
    code, _, err = _cli(
        capsys,
        "--profile",
        demo_file,
        "--ledger",
        str(tmp_path / "l.db"),
        "migrate",
        "10",
        "--at",
        AFTER_TEXT,
        "--write",
    )
    assert code == 0, err
    assert os.stat(demo_file).st_mode & 0o777 == 0o600
    assert not [n for n in os.listdir(os.path.dirname(demo_file)) if n.endswith(".new")]


def test_cli_keychange_write_keeps_the_vending_key_file(tmp_path, capsys):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "vk.hex").write_text(DKGA04_VK + "\n")
    data = {k: v for k, v in MISTY.items() if k != "vending_key"}
    data["vending_key_file"] = "keys/vk.hex"
    path = write_profile(tmp_path, data)
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "keychange",
        "--krn",
        "2",
        "--write",
    )
    assert code == 0, err
    with open(path) as f:
        saved = json.load(f)
    assert saved == dict(data, krn=2) and "vending_key" not in saved
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "--json",
        "credit",
        "5",
        "--at",
        AT_TEXT,
    )
    assert code == 0, err
    tok = json.loads(out)["tokens"][0]["token"]
    assert decode(tok, "misty1", bytes.fromhex(MISTY_KEY_KRN2))[0] == errors.OK


def test_cli_keychange_write_saves_the_misty1_sgc_kt_ken_ti(tmp_path, capsys):
    path = write_profile(tmp_path, MISTY)
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "keychange",
        "--sgc",
        "654321",
        "--kt",
        "3",
        "--ken",
        "200",
        "--ti",
        "07",
        "--write",
    )
    assert code == 0, err
    with open(path) as f:
        saved = json.load(f)
    assert saved == dict(MISTY, sgc="654321", kt=3, ken=200, ti="07")
    new = Profile(saved).decoder_key()
    assert new == misty().decoder_key(sgc="654321", kt=3, ti="07")
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "--json",
        "credit",
        "5",
        "--at",
        AT_TEXT,
    )
    assert decode(json.loads(out)["tokens"][0]["token"], "misty1", new)[0] == errors.OK


def test_cli_keychange_without_write_leaves_the_profile_and_says_so(stsvend, demo_file):
    before = open(demo_file).read()
    code, out, err = stsvend("keychange", "--krn", "2")
    assert code == 0, err
    assert open(demo_file).read() == before
    assert "add --write" in out


def test_cli_write_json_names_the_file_and_changes(stsvend, demo_file):
    code, out, err = stsvend("--json", "keychange", "--krn", "3", "--write")
    assert code == 0, err
    data = json.loads(out)
    assert data["written"] == demo_file and data["changed"] == {"krn": [1, 3]}


def test_cli_time_after_the_window_says_at_or_migrate(stsvend, demo_file):
    code, out, err = stsvend("credit", "5", "--at", "2025-01-01T00:00Z")
    assert code == 2 and out == ""
    assert "2024-11-24 20:15" in err and "--at inside" in err
    assert ("stsvend --profile %s migrate 5 --at 2025-01-01T00:00Z --write" % demo_file) in err
    code, out, err = stsvend("management", "max-power", "100", "--at", "2025-01-01T00:00Z")
    assert code == 2 and "migrate AMOUNT" in err and "base date 2014" in err


def test_cli_time_before_the_window_says_at_only(stsvend):
    code, out, err = stsvend("credit", "5", "--at", "1992-12-31T23:59Z")
    assert code == 2 and "--at inside" in err and "migrate" not in err


def test_cli_time_after_the_last_window_says_no_rollover(tmp_path, capsys):
    path = write_profile(tmp_path, dict(DEMO, base_date=2035))
    code, out, err = _cli(
        capsys,
        "--profile",
        path,
        "--ledger",
        tmp_path / "l.db",
        "credit",
        "5",
        "--at",
        "2070-01-01T00:00Z",
    )
    assert code == 2 and "--at inside" in err and "the last" in err and "migrate" not in err


@pytest.mark.parametrize(
    "kind", ["max-power", "phase-unbalance", "tariff-rate", "water-factor", "clear-credit"]
)
def test_cli_management_without_a_value_is_an_error(stsvend, tmp_path, kind):
    code, out, err = stsvend("management", kind, "--at", AT_TEXT)
    assert code == 2 and "needs a value" in err and out == ""
    assert Ledger(str(tmp_path / "ledger.db")).issued(DEMO["pan"], 1993) == []


def test_cli_clear_tamper_takes_no_value(stsvend):
    code, out, err = stsvend("management", "clear-tamper", "--at", AT_TEXT)
    assert code == 0 and "clears the tamper flag" in out
    code, out, err = stsvend("management", "clear-tamper", "5", "--at", AT_TEXT)
    assert code == 2 and "takes no value" in err


@pytest.mark.parametrize(
    "argv,line",
    [
        (["max-power", "1000"], "limit 1000 W"),
        (["max-power", "0"], "limit 0 W (no limit: the limit is lifted)"),
        (["phase-unbalance", "300"], "limit 300 W"),
        (["clear-credit", "65535"], "register 65535: clears every credit register"),
        (["clear-credit", "1"], "register 1: clears the water credit"),
        (["tariff-rate", "1234"], "tariff rate 1234 "),
        (["water-factor", "77"], "water meter factor 77 "),
    ],
)
def test_cli_management_prints_the_value_it_carries(stsvend, argv, line):
    code, out, err = stsvend("management", *argv, "--at", AT_TEXT)
    assert code == 0, err
    assert re.search(r"^   " + re.escape(line), out, re.M), out


@pytest.mark.parametrize(
    "control,lines",
    [
        (512, ["bit 9: display the power consumption"]),
        (6, ["bit 1: test the load switch (relay)", "bit 2: test the information display"]),
        (1, ["bit 0: every test and display"]),
        (2**36 - 1, ["bit 11: display the phase power unbalance limit", "bits 12..35: reserved"]),
        (0, ["control 0: no bit set"]),
    ],
)
def test_cli_test_explains_its_control_bits(stsvend, control, lines):
    code, out, err = stsvend("test", str(control), profile=False, ledger=False)
    assert code == 0, err
    for line in lines:
        assert line in out, out
    assert "shows TEST %d" % control in out


def test_cli_test_json_carries_the_control_bits(stsvend):
    code, out, err = stsvend("--json", "test", "528", profile=False, ledger=False)
    bits = json.loads(out)["tokens"][0]["control_bits"]
    assert [b["bit"] for b in bits] == [4, 9]
    assert "KRN" in bits[0]["asks"]


def test_cli_explain_class_1_needs_no_profile(stsvend):
    tok = vend.test_display(512).digits
    code, out, err = stsvend("explain", tok, profile=False, ledger=False)
    assert code == 0, err
    st = _stages(out)
    assert st["token"].startswith("class 1 subclass 0")
    assert "bit 9 = display the power consumption" in st["field control"]
    assert "manufacturer code (0: any meter)" in st["field mfr"]


def test_cli_explain_class_0_without_profile_asks_for_one(stsvend):
    code, out, err = stsvend("explain", VECTOR_TOKEN, profile=False, ledger=False)
    assert code == 2 and "--profile" in err and out == ""


@pytest.mark.parametrize(
    "token,why",
    [
        (VECTOR_TOKEN[:-1] + "6", "another meter's token, a typo, or an old key?"),
        (VECTOR_TOKEN[:-1], "not 20 digits"),
        ("9" * 20, "largest token"),
    ],
)
def test_cli_explain_refused_exits_nonzero_and_says_why(stsvend, token, why):
    code, out, err = stsvend("explain", token)
    assert code == 1
    assert "refused" in _stages(out) and why in _stages(out)["why"]
    code, out, err = stsvend("--json", "explain", token)
    assert code == 1 and json.loads(out)[-1]["stage"] == "why"


def test_cli_explain_refused_with_another_meters_key(tmp_path, capsys):
    tok = vend.credit(demo(krn=2), "electricity", 10, AT).digits  # the meter still has KRN 1
    code, out, err = _cli(capsys, "--profile", DEMO_PATH, "explain", tok)
    assert code == 1 and "an old key?" in out


def test_cli_explain_glosses_sta_key_change_fields(stsvend):
    toks, _ = vend.key_change(demo(), {"krn": 2}, ro=1)
    glossed = {}
    for t in toks:
        code, out, err = stsvend("explain", t.digits)
        assert code == 0, err
        glossed.update(_stages(out))
    assert glossed["field nkho"].endswith("NKHO = new key high part, " + DEMO_KEY_KRN2[:8])
    assert glossed["field nklo"].endswith("NKLO = new key low part, " + DEMO_KEY_KRN2[8:])
    assert "KT = key type: DUTK" in glossed["field kt"]
    assert "RO = rollover: set" in glossed["field ro"]
    assert "KRN = key revision number" in glossed["field krn"]
    assert "KENHO = key expiry number, high" in glossed["field kenho"]
    assert "KENLO = key expiry number, low" in glossed["field kenlo"]
    assert "TI = tariff index" in glossed["field ti"]


def test_cli_explain_glosses_misty1_sgc_parts(tmp_path, capsys):
    path = write_profile(tmp_path, MISTY)
    toks, _ = vend.key_change(misty(), {"krn": 2})
    glossed = {}
    for t in toks:
        code, out, err = _cli(capsys, "--profile", path, "explain", t.digits)
        assert code == 0, err
        glossed.update(_stages(out))
    assert glossed["field nkmo2"].endswith(MISTY_KEY_KRN2[8:16])
    assert glossed["field nkmo1"].endswith(MISTY_KEY_KRN2[16:24])
    assert "SGC = supply group code, low 12 bits" in glossed["field sgclo"]
    assert "SGC = supply group code, high 12 bits" in glossed["field sgcho"]
    assert "RO = rollover: not set" in glossed["field ro"]


# Examples as the text shows them: each runs as written from the repository root (a copy of
# its demo profile at the same path), and prints what the text shows.


def _repo_copy(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "stsvend" / "profiles").mkdir(parents=True)
    shutil.copy(DEMO_PATH, root / "stsvend" / "profiles" / "demo.json")
    monkeypatch.chdir(root)
    return root


def _run_line(line, capsys):
    """One shell line of an example: `stsvend ...` (through main) or `cp A B`."""
    argv = shlex.split(line)
    if argv[0] == "cp":
        shutil.copy(argv[1], argv[2])
        return 0, ""
    assert argv[0] == "stsvend", "an example that is neither stsvend nor cp: %r" % line
    try:
        code = cli.main(argv[1:])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out + err


def _help_texts(capsys):
    texts = {}
    for cmd in [None] + sorted(cli.EXAMPLES):
        with pytest.raises(SystemExit):
            cli.main(([cmd] if cmd else []) + ["--help"])
        texts[cmd or "stsvend"] = capsys.readouterr().out
    return texts


def test_help_examples_run_as_written(tmp_path, monkeypatch, capsys):
    texts = _help_texts(capsys)
    assert set(texts) >= {
        "stsvend",
        "credit",
        "management",
        "keychange",
        "migrate",
        "test",
        "explain",
        "key",
    }
    for name, text in texts.items():
        lines = re.findall(r"^  ((?:stsvend|cp) .*)$", text, re.M)
        assert lines, name
        _repo_copy(tmp_path / name, monkeypatch)
        for line in lines:
            code, out = _run_line(line, capsys)
            assert code == 0, (name, line, out)


def _readme_examples():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text.split("## The vending CLI: `stsvend`", 1)[1].split("\n## ", 1)[0]
    found = []
    for block in re.findall(r"^```\n(.*?)^```", section, re.M | re.S):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            line, _, shown = part.partition("\n")
            found.append((line, shown.rstrip("\n")))
    return found


def test_readme_examples_run_and_print_what_the_readme_shows(tmp_path, monkeypatch, capsys):
    examples = _readme_examples()
    assert len(examples) >= 15
    _repo_copy(tmp_path, monkeypatch)
    for line, shown in examples:
        code, out = _run_line(line, capsys)
        assert out.rstrip("\n") == shown, line
        assert code == (
            2 if "stsvend: error:" in shown else 1 if re.search(r"^refused ", shown, re.M) else 0
        ), line


def test_readme_and_help_name_the_demo_profile_by_its_real_path(capsys):
    lines = [ln for ln, _ in _readme_examples()]
    for text in _help_texts(capsys).values():
        lines += re.findall(r"^  (stsvend .*)$", text, re.M)
    for line in lines:
        argv = shlex.split(line)
        if "--profile" in argv:
            assert argv[argv.index("--profile") + 1] in (
                "stsvend/profiles/demo.json",
                "meter.json",
            ), line
