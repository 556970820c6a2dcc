# test_vend.py  tokens (stsvend/vend.py): credit, management and test tokens, key change sets
# and the edition-2 migration. Every token is checked by decoding it again with the
# firmware's own codec under the meter's key.
import datetime as dt
import json
import random
import re

import pytest

from sts import amount, errors
from stsvend import cli, keys, vend
from stsvend import profile as profiles
from stsvend import tid as tids
from stsvend.tid import Ledger
from vendkit import (  # the meters and helpers of every stsvend test
    AFTER,
    AFTER_TEXT,
    AT,
    AT_TEXT,
    DEMO,
    DEMO_KEY,
    DEMO_KEY_KRN2,
    DKGA04_VK,
    GROUPED,
    MISTY,
    MISTY_KEY,
    MISTY_KEY_KRN2,
    UTC,
    decode,
    demo,
    misty,
    stages,
    write_profile,
)

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
    samples = set(range(200)) | {amount.MAX_TENTHS - i for i in range(2000)}
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
    st = stages(out)
    assert st["token"].startswith("class 2 subclass %d" % sub)
    assert st["field register"].startswith("%d " % 0x416A)
    assert st["limit"] == "20004 W (%s)" % what
    names = [m.group(1) for m in re.finditer(r"^(\S+(?: \S+)?)\s{2,}", out, re.M)]
    assert names.index("limit") == names.index("field rnd") + 1  # after the fields
    assert names[-1] == "TID time"


def test_cli_explain_other_registers_show_no_watts(stsvend):
    tok = vend.management(demo(), "tariff-rate", 20000, AT, None, random.Random(1))
    code, out, err = stsvend("explain", tok.digits)
    assert code == 0 and "limit" not in stages(out)


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
