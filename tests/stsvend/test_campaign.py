# test_campaign.py  vending the 2024 campaigns (issue 20): ENEO's key change codes with no
# purchase, CEET's purchase in money through a tariff, the text a customer reads (the meter,
# the codes in order, the key after each, the 2-minute window, the amount; one SMS or numbered
# parts), English and French templates and a utility's own, and a meter already moved
import csv
import json
import os
import sqlite3
from decimal import Decimal

import pytest

from conftest import ROOT
from sts import amount, blocks, errors
from sts.codec import Decoder
from stsvend import batch, cli, sms, vend
from stsvend import tariff as tariffs
from stsvend.profile import Profile, luhn_digit

DEMO_PATH = os.path.join(ROOT, "stsvend", "profiles", "demo.json")
TARIFF_PATH = os.path.join(ROOT, "stsvend", "campaign", "tariff-demo.json")  # 79 XOF/kWh, 150 min
with open(DEMO_PATH) as _f:
    DEMO = json.load(_f)
STA_VK = "abababababababab"
DKGA04_VK = "abababababababab949494949494949401234567"
BEFORE = "2024-11-20T08:00Z"  # ENEO: before the 1993 window closed
AFTER = "2024-11-25T08:00Z"  # CEET: after it
FIELDS = "pan,sgc,ti,kt,krn,ken,ea,dkga,base_date"


def pan(i):
    drn = "%010d" % i
    body = "600727" + drn + str(luhn_digit(drn))
    return body + str(luhn_digit(body))


def fleet(tmp_path, n, extra_head="", extra=lambda i: "", ea="sta", dkga=2):
    lines = [FIELDS + extra_head]
    for i in range(n):
        lines.append("%s,123456,01,2,1,255,%s,%d,1993%s" % (pan(i + 1), ea, dkga, extra(i)))
    path = tmp_path / "fleet.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def key_files(tmp_path):
    sta = tmp_path / "sta.hex"
    sta.write_text(STA_VK)
    m = tmp_path / "misty.hex"
    m.write_text(DKGA04_VK)
    return {"sta": str(sta), "misty1": str(m)}


@pytest.fixture
def run_batch(tmp_path, capsys):
    def run(*argv):
        code = batch.run(
            ["--ledger", str(tmp_path / "ledger.db"), "--seed", "7", "batch"] + list(argv)
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def stsvend(tmp_path, capsys):
    def run(*argv, profile=DEMO_PATH):
        try:
            code = cli.main(
                ["--profile", profile, "--ledger", str(tmp_path / "l.db"), "--seed", "3"]
                + list(argv)
            )
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def read_out(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def texts(row):
    return [row[k] for k in ("sms", "sms2", "sms3") if row[k]]


def decode(digits, ea, key):
    dec = Decoder(vend.cipher(ea, key))
    assert dec.decode(digits) == errors.OK
    return dec.cls, dec.subclass, blocks.fields(dec.cls, dec.block)


def issued(ledger):
    db = sqlite3.connect(ledger)
    try:
        return db.execute("SELECT pan, tid FROM issued").fetchall()
    finally:
        db.close()


# ------------------------------------------------------- ENEO: key change codes, no purchase


def test_eneo_batch_migrate_with_no_amount_gives_key_change_codes_alone(
    tmp_path, key_files, run_batch
):
    out = str(tmp_path / "codes.csv")
    code, _, err = run_batch(
        "migrate", fleet(tmp_path, 3), "--out", out, "--vending-key", key_files["sta"],
        "--at", BEFORE, "--sms", "fr",
    )  # fmt: skip
    assert code == 0, err
    rows = read_out(out)
    assert len(rows) == 3
    for r in rows:
        prof = Profile(dict(DEMO, pan=r["pan"], vending_key=STA_VK))
        kcts = [r["kct1"], r["kct2"]]
        assert [decode(c, "sta", prof.decoder_key())[0] for c in kcts] == [2, 2]
        assert r["credit"] == r["amount"] == r["tid"] == r["kct3"] == ""
        (text,) = texts(r)  # one SMS
        assert sms.gsm7_length(text) <= 160
        assert prof.iain in text and "Compteur" in text and "2 min" in text
        assert text.index(sms.grouped(kcts[0])) < text.index(sms.grouped(kcts[1]))
    assert issued(str(tmp_path / "ledger.db")) == [], "no credit: no TID used"


def test_eneo_migrate_with_no_amount_on_the_command_line(stsvend):
    code, out, err = stsvend("--json", "migrate", "--at", BEFORE)
    assert code == 0, err
    toks = json.loads(out)["tokens"]
    assert [(t["class"], t["subclass"]) for t in toks] == [(2, 3), (2, 4)]


def test_eneo_batch_migrate_kwh_0_is_no_credit(tmp_path, key_files, run_batch):
    out = str(tmp_path / "codes.csv")
    f = fleet(tmp_path, 2, ",amount", lambda i: ",5")
    code, _, err = run_batch(
        "migrate", f, "--out", out, "--vending-key", key_files["sta"], "--at", BEFORE,
        "--kwh", "0",
    )  # fmt: skip
    assert code == 0, err
    assert [r["credit"] for r in read_out(out)] == ["", ""]


# --------------------------------------------------------------- CEET: a purchase in money


def test_money_becomes_kwh_as_a_vending_office_sells_it():
    t = tariffs.load(TARIFF_PATH)
    sale = t.sell("1000")  # 1000 / 79 = 12.658 kWh: 12.6 sold, 995.4 charged as 996
    assert (sale.tenths, sale.charged, sale.change) == (126, Decimal(996), Decimal(4))
    assert "change 4 XOF" in sale.text()


def test_below_the_minimum_purchase_is_refused_with_the_reason():
    with pytest.raises(tariffs.TariffError, match="below the minimum purchase of 150 XOF"):
        tariffs.load(TARIFF_PATH).sell("149")


def test_block_prices_count_from_the_first_kwh_of_the_sale():
    t = tariffs.Tariff({"currency": "XOF", "blocks": [{"kwh": 40, "price": 63}, {"price": "79"}]})
    sale = t.sell("3000")  # 40 kWh for 2520, then 480 / 79 = 6.07: 6.0 kWh for 474
    assert (sale.tenths, sale.charged, sale.change) == (460, Decimal(2994), Decimal(6))


def test_a_large_sale_rounds_down_to_an_amount_a_token_carries():
    # Above 1638.3 kWh a token carries whole kWh, above 18022.3 kWh tens: 20000 at 1 a kWh is
    # 19992.4 kWh on the token, never more than was paid for.
    sale = tariffs.Tariff({"currency": "XAF", "price": 1}).sell("20000")
    assert amount.decode(amount.encode(sale.tenths)) == sale.tenths == 199924
    assert sale.charged + sale.change == 20000 and sale.charged >= Decimal("19992.4")


def test_credit_for_money_carries_what_the_money_bought(stsvend, tmp_path):
    code, out, err = stsvend(
        "--json", "credit", "--money", "1000", "--tariff", TARIFF_PATH, "--at", AFTER,
        profile=moved(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["sale"]["change"] == "4" and data["sale"]["tenths"] == 126
    prof = Profile(dict(DEMO, krn=2, base_date=2014))
    _, _, f = decode(data["tokens"][0]["token"], "sta", prof.decoder_key())
    assert amount.decode(f["amount"]) == 126


def test_the_packaged_demo_tariff_by_name(stsvend, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # (no file named demo here)
    code, out, err = stsvend("credit", "--money", "1000", "--tariff", "demo", "--at", BEFORE)
    assert code == 0 and "change 4 XOF" in out, err


def test_credit_below_the_minimum_sells_nothing(stsvend, tmp_path):
    code, out, err = stsvend("credit", "--money", "100", "--tariff", TARIFF_PATH, "--at", AFTER)
    assert code == 2 and not out and "minimum purchase of 150 XOF" in err, err
    assert not os.path.exists(tmp_path / "l.db") or issued(str(tmp_path / "l.db")) == []


def test_ceet_migrate_for_money_three_codes_and_the_change(stsvend):
    code, out, err = stsvend(
        "migrate", "--money", "1000", "--tariff", TARIFF_PATH, "--at", AFTER, "--sms", "fr"
    )
    assert code == 0, err
    assert "change 4 XOF" in out and "3:" in out and "=12.6kWh" in out, out


def test_batch_with_a_money_column_and_a_row_below_the_minimum(tmp_path, key_files, run_batch):
    f = fleet(tmp_path, 3, ",money", lambda i: ",%d" % (1000, 100, 2000)[i])
    out = str(tmp_path / "sales.csv")
    code, _, err = run_batch(
        "migrate", f, "--out", out, "--vending-key", key_files["sta"], "--at", AFTER,
        "--tariff", TARIFF_PATH, "--workers", "1",
    )  # fmt: skip
    assert code == 1 and "line 3" in err and "minimum purchase" in err, err
    rows = read_out(out)
    assert [(r["paid"], r["amount"], r["change"]) for r in rows] == [
        ("1000", "12.6", "4"),
        ("2000", "25.3", "1"),  # 25.3 kWh cost 1998.7, charged 1999
    ]


# ------------------------------------------------------------- the text a customer reads


@pytest.mark.parametrize(
    "lang,words", [("en", ("Meter", "Enter (#)")), ("fr", ("Compteur", "Entrée (#)"))]
)
def test_sta_set_with_credit_is_one_sms_naming_meter_codes_key_window_amount(
    tmp_path, key_files, run_batch, lang, words
):
    out = str(tmp_path / "sets.csv")
    f = fleet(tmp_path, 2, ",money", lambda i: ",1000")
    code, _, err = run_batch(
        "migrate", f, "--out", out, "--vending-key", key_files["sta"], "--at", AFTER,
        "--tariff", TARIFF_PATH, "--sms", lang,
    )  # fmt: skip
    assert code == 0, err
    for r in read_out(out):
        (text,) = texts(r)
        assert sms.gsm7_length(text) <= 160, text
        lines = text.split("\n")
        meter = r["pan"][6:17]
        assert meter in lines[0] and all(w in lines[0] for w in words), text
        assert lines[1:] == [
            "1:" + sms.grouped(r["kct1"]),
            "2:" + sms.grouped(r["kct2"]),
            "3:" + sms.grouped(r["credit"]) + " =12.6kWh",
        ]
        assert "2 min" in lines[0] and ("1 & 2" in lines[0] or "1 et 2" in lines[0])


def test_misty1_set_with_credit_is_split_into_numbered_parts_that_each_fit(
    tmp_path, key_files, run_batch
):
    out = str(tmp_path / "sets.csv")
    f = fleet(tmp_path, 1, ",amount", lambda i: ",10", ea="misty1", dkga=4)
    code, _, err = run_batch(
        "migrate", f, "--out", out, "--vending-key", key_files["misty1"], "--at", AFTER
    )
    assert code == 0, err
    (r,) = read_out(out)
    parts = texts(r)
    assert len(parts) == 2
    assert [p.split("\n")[0] for p in parts] == ["(1/2)", "(2/2)"]
    assert all(sms.gsm7_length(p) <= 160 for p in parts)
    codes = [r["kct%d" % i] for i in range(1, 5)] + [r["credit"]]
    joined = "\n".join(parts)
    where = [joined.index("%d:%s" % (i, sms.grouped(c))) for i, c in enumerate(codes, 1)]
    assert where == sorted(where)


def test_a_utility_template_of_its_own(tmp_path, key_files, run_batch):
    t = json.load(open(os.path.join(ROOT, "stsvend", "campaign", "sms-en.json")))
    t["migrate"] = "ACME meter {meter}, press # after each code. {window}"
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(t))
    out = str(tmp_path / "sets.csv")
    code, _, err = run_batch(
        "migrate", fleet(tmp_path, 1), "--out", out, "--vending-key", key_files["sta"],
        "--at", BEFORE, "--sms", str(path),
    )  # fmt: skip
    assert code == 0, err
    assert read_out(out)[0]["sms"].startswith("ACME meter 00000000018, press #")


@pytest.mark.parametrize(
    "change,why",
    [
        ({"code": "{n}: {code} {pan}"}, "{pan}"),
        ({"code": "{n.__class__}"}, "not one of its fields"),
        ({"migrate": "Compteur {meter}: tapez ê {window}"}, "GSM-7"),
    ],
    ids=["unknown_field", "attribute", "not_gsm7"],
)
def test_a_template_that_cannot_make_a_text_is_refused(tmp_path, change, why):
    t = json.load(open(os.path.join(ROOT, "stsvend", "campaign", "sms-fr.json")))
    t.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(t))
    with pytest.raises(sms.SmsError, match=why.replace("{", r"\{").replace("}", r"\}")):
        sms.load(str(path))


def test_gsm7_counts_extension_characters_twice():
    assert sms.gsm7_length("é #") == 3 and sms.gsm7_length("[€]") == 6
    assert sms.gsm7_length("ê") is None


# -------------------------------------------------------------------- a meter already moved


def moved(tmp_path):
    """The demo meter as `migrate --write` leaves it: base date 2014, KRN 2."""
    path = tmp_path / "moved.json"
    path.write_text(json.dumps(dict(DEMO, krn=2, base_date=2014)))
    return str(path)


def test_migrate_on_a_meter_already_at_the_new_base_date_says_so(stsvend, tmp_path):
    code, out, err = stsvend("migrate", "10", "--at", AFTER, profile=moved(tmp_path))
    assert code == 2 and not out, out
    assert "already at base date 2014" in err and "--at" not in err, err


def test_batch_migrate_of_a_moved_meter_is_a_bad_row(tmp_path, key_files, run_batch):
    path = tmp_path / "f.csv"
    path.write_text(
        FIELDS
        + "\n%s,123456,01,2,2,255,sta,2,2014\n%s,123456,01,2,1,255,sta,2,1993\n" % (pan(1), pan(2))
    )
    out = str(tmp_path / "o.csv")
    code, _, err = run_batch(
        "migrate", str(path), "--out", out, "--vending-key", key_files["sta"], "--at", AFTER
    )
    assert code == 1 and "line 2" in err and "already at base date 2014" in err, err
    assert [r["pan"] for r in read_out(out)] == [pan(2)]


def test_a_template_that_cannot_be_read_uses_no_tid(stsvend, tmp_path):
    code, out, err = stsvend("credit", "5", "--at", AFTER, "--sms", str(tmp_path / "none.json"))
    assert code == 2 and not out and "SMS template" in err, err
    assert not os.path.exists(tmp_path / "l.db") or issued(str(tmp_path / "l.db")) == []
