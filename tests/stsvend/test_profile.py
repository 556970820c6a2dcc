# test_profile.py  meter profiles (stsvend/profile.py): fields validated and named in every
# refusal, the vending key inline or in a file, the PAN's parts, decoder keys against the vectors
import json
import os

import pytest

from conftest import load_vectors
from stsvend import profile as profiles
from stsvend.profile import Profile, ProfileError
from vendkit import (  # the meters and helpers of every stsvend test
    DEMO,
    DEMO_KEY,
    DEMO_PATH,
    DKGA04_VK,
    demo,
    pan_of,
    write_profile,
)

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


@pytest.mark.parametrize(
    "body,mfr",
    [
        ("60072707000000005", 7),
        ("60072799123456784", 99),
        ("60072700000000000", 0),
        ("12345678000000008", 5678),
        ("00000100000000008", 100),
    ],
    ids=["iain11_07", "iain11_99", "iain11_00", "iain13_5678", "iain13_0100"],
)
def test_profile_manufacturer_code_opens_the_iain(body, mfr):
    pan = pan_of(body)
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
