# web_rules.py  the classroom page's Python side (web/webmeter.py), in micropython and CPython
# The page runs the same module in MicroPython's WebAssembly port; here it runs on a
# directory instead of the page's virtual file system.
import json
from binascii import hexlify

from demo_meter import FIELDS, KEY

import webmeter as W  # web/ is on the path (tests/firmware/test_mp_rules.py)
from scratch import fresh_dir
from sts import dates

NOW = 1795435200000  # 2026-11-23 12:00 UTC, in ms
DEMO = json.dumps(
    {
        # The demo meter as webbuild gives it to the page: its key in hex, made 2024-01-01.
        "meter": dict(FIELDS, decoder_key=hexlify(KEY).decode(), manufacture_tid=16303680),
        "next_key": "0123456789abcdef",
        "profile": "demo",
    }
)


def boot():
    W.STATE = fresh_dir("web_rules")
    return json.loads(W.boot(DEMO, NOW))


def type_token(token, now):
    for k in token.replace(" ", "") + "#":
        f = json.loads(W.key(k, now))
    return f["lines"]


def vend(kind, arg=""):
    out = json.loads(W.vend(kind, arg, NOW))
    assert "tokens" in out, out
    return [t["token"] for t in out["tokens"]]


def test_boot_shows_the_balance_of_a_fresh_demo_meter():
    f = boot()
    assert f["lines"] == ["CREDIT 0.0 kWh  ", "NO CREDIT: OFF  "] and f["relay"] is False
    assert f["status"]["edition"] == 1


def test_a_test_token_typed_on_the_keypad_is_shown_and_explained():
    boot()
    assert type_token("0000 0000 0087 2419 5840", NOW) == ["ACCEPT          ", "TEST 512        "]
    stages = {s["stage"]: s["value"] for s in json.loads(W.explain())}
    for name in (
        "digits",
        "66 bits",
        "class bits",
        "transposition",
        "cipher block",
        "plaintext",
        "CRC",
        "TID memory before",
        "TID memory after",
        "result",
    ):
        assert name in stages, name
    assert "class 1" in stages["class bits"] and "match" in stages["CRC"]


def test_the_migration_set_moves_the_meter_to_edition_2():
    boot()
    k1, k2, credit = vend("migration")
    assert type_token(k1, NOW)[0].startswith("KEY CHANGE 1/2")
    assert type_token(k2, NOW + 10000)[0].startswith("KEY CHANGED")
    assert type_token(credit, NOW + 20000) == ["ACCEPT          ", "+10.0 kWh       "]
    st = json.loads(W.frame(NOW + 30000))["status"]
    assert st["edition"] == 2 and st["krn"] == 2 and st["balance"] == 100
    assert "error" in json.loads(W.vend("migration", "", NOW))  # once only
    # The explainer shows the credit decrypted under the new key, TID memory refilled.
    stages = {s["stage"]: s["value"] for s in json.loads(W.explain())}
    assert stages["TID memory before"].startswith("0 of 50")
    assert stages["TID memory after"].startswith("1 of 50")


def test_credit_and_management_tokens_from_the_panel_are_accepted_in_order():
    boot()
    # Edition 1's window has closed: the panel's tokens count on from the newest TID.
    a = vend("credit", "2.5")[0]
    b = vend("max-power", "1000")[0]
    assert type_token(a, NOW) == ["ACCEPT          ", "+2.5 kWh        "]
    assert type_token(b, NOW + 5000) == ["ACCEPT          ", "LIMIT 1000 W    "]
    c = vend("credit", "1")[0]
    assert type_token(c, NOW + 10000)[1].startswith("+1.0 kWh")
    assert type_token(a, NOW + 15000)[1].startswith("USED TOKEN")
    assert "error" in json.loads(W.vend("beer", "", NOW))


def test_state_survives_a_reload_through_the_browser_storage():
    boot()
    type_token(vend("credit", "5")[0], NOW)
    saved = W.state_files()
    W.STATE = fresh_dir("web_rules")  # a new page: empty file system
    W.restore(saved)
    f = json.loads(W.boot(DEMO, NOW + 1000))
    assert f["status"]["balance"] == 50
    W.reset()
    f = json.loads(W.boot(DEMO, NOW + 2000))
    assert f["status"]["balance"] == 0


def test_panel_amounts_are_exact_and_round_up_like_the_vending_side():
    boot()
    out = json.loads(W.vend("credit", "0.3", NOW))  # 0.3 * 10 is 3.0000000000000004 in float
    assert out["tokens"][0]["label"] == "credit 0.3 kWh"
    label = json.loads(W.vend("credit", "1.00000001", NOW))["tokens"][0]["label"]
    assert label == "credit 1.1 kWh"  # any part of a tenth more is a tenth more
    assert json.loads(W.vend("credit", "0.31", NOW))["tokens"][0]["label"] == "credit 0.4 kWh"
    assert json.loads(W.vend("credit", ".5", NOW))["tokens"][0]["label"] == "credit 0.5 kWh"
    assert json.loads(W.vend("credit", "2.50", NOW))["tokens"][0]["label"] == "credit 2.5 kWh"


def test_panel_refuses_what_is_not_an_amount_or_a_whole_number_and_says_what_to_type():
    boot()
    for kind, arg in (
        ("credit", ""),
        ("credit", "-5"),
        ("credit", "inf"),
        ("credit", "nan"),
        ("credit", "1e3"),
        ("credit", "1.2.3"),
        ("credit", "."),
        ("credit", "1820162.5"),
        ("max-power", "-1"),
        ("max-power", "1.5"),
        ("max-power", "18201625"),
        ("test", "x"),
        ("test", str(1 << 36)),
    ):
        out = json.loads(W.vend(kind, arg, NOW))
        assert "type" in out.get("error", "") or "at most" in out.get("error", ""), (
            kind,
            arg,
            out,
        )
    files = json.loads(W.state_files())
    assert "vend.json" not in files  # nothing refused used up a TID


def test_a_credit_made_after_the_migration_set_has_its_own_tid():
    boot()
    k1, k2, credit = vend("migration")
    type_token(k1, NOW)
    type_token(k2, NOW + 1000)
    more = vend("credit", "1")[0]  # the same minute, before the set's credit is typed
    assert more != credit
    assert type_token(credit, NOW + 2000)[0].startswith("ACCEPT")
    assert type_token(more, NOW + 3000)[0].startswith("ACCEPT")


def test_the_panel_remembers_its_last_tid_for_each_base_date():
    boot()
    k1, k2, credit = vend("migration")  # its credit counts from 2014
    old = vend("credit", "1")[0]  # under the edition-1 key, from 1993
    type_token(k1, NOW)
    type_token(k2, NOW + 1000)
    more = vend("credit", "2")[0]  # the same minute as the set's credit
    assert type_token(credit, NOW + 2000)[0].startswith("ACCEPT")
    assert type_token(more, NOW + 3000)[1].startswith("+2.0 kWh")
    assert not type_token(old, NOW + 4000)[0].startswith("ACCEPT")  # the old key is gone


def _stages():
    return {s["stage"]: s["value"] for s in json.loads(W.explain())}


def test_an_entry_that_timed_out_is_not_explained_and_does_not_crash():
    boot()
    token = vend("credit", "1")[0].replace(" ", "")
    for d in token:
        W.key(d, NOW)
    f = json.loads(W.key("#", NOW + 20500))  # the 20 s entry timeout passed between frames
    assert f["status"]["balance"] == 0 and json.loads(W.explain()) == []
    type_token(token, NOW + 30000)
    assert _stages()["digits"] == token


def test_a_locked_keypad_explains_nothing_it_did_not_decode():
    boot()
    for i in range(3):
        type_token("1234 5678 9012 3456 7890", NOW + i * 1000)  # three refused guesses
    good = vend("credit", "1")[0]
    assert type_token(good, NOW + 4000)[0].startswith("LOCKED")
    # Keys typed while locked open no entry: the token reached nothing, and the explainer
    # still shows the last guess it decoded.
    st = _stages()
    assert st["digits"].startswith("12345678901234567890") and st["result"].startswith("13 ")


def test_a_short_entry_is_explained_as_refused_before_decoding():
    boot()
    type_token("0000 0000 0087 2419 5840", NOW)
    type_token("1234 5678 9012 3456 789", NOW + 1000)  # 19 digits
    st = _stages()
    assert st["digits"].startswith("1234567890123456789 (19") and "20 digits" in st["not decoded"]
    assert st["result"].startswith("6 ")


def test_another_tabs_state_is_taken_without_losing_what_this_tab_typed():
    boot()
    mine = W.STATE
    W.STATE = fresh_dir("web_rules_other")  # the other tab
    W.boot(DEMO, NOW)
    type_token(vend("credit", "5")[0], NOW)
    theirs = W.state_files()
    W.STATE = mine
    W.boot(DEMO, NOW)  # this tab again, with "1234" typed
    for d in "1234":
        W.key(d, NOW + 1000)
    W.sync(theirs)
    f = json.loads(W.frame(NOW + 2000))
    assert f["status"]["balance"] == 50 and f["lines"][1].startswith("1234")


def test_labels_and_a_zero_credit():
    boot()
    assert json.loads(W.vend("clear-tamper", "", NOW))["tokens"][0]["label"] == "clear-tamper"
    assert json.loads(W.vend("max-power", "900", NOW))["tokens"][0]["label"] == "max-power 900 W"
    # Watts travel like a transfer amount: above 16383 W they round up to what is carried.
    big = json.loads(W.vend("max-power", "20003", NOW))["tokens"][0]
    assert big["label"] == "max-power 20004 W"
    assert type_token(big["token"], NOW + 1000)[1] == "LIMIT 20004 W   "
    assert "at least" in json.loads(W.vend("credit", "0", NOW))["error"]


def _dressed():
    return {s["stage"]: s for s in json.loads(W.explain())}


def test_a_tid_is_shown_as_the_minute_it_stands_for_with_its_window():
    # (sts/dates.py: the same conversion as stsvend's)
    assert dates.text(1993, 0) == "1993-01-01 00:00 UTC"
    assert dates.text(1993, (1 << 24) - 1) == "2024-11-24 20:15 UTC"
    assert dates.text(2014, (1 << 24) - 1) == "2045-11-24 20:15 UTC"
    assert dates.text(2014, 6781680) == "2026-11-23 12:00 UTC"  # NOW
    assert dates.tid_at(2014, NOW // 1000) == 6781680
    boot()
    type_token(vend("credit", "1")[0], NOW)  # edition 1: on from the manufacture TID
    tid = _dressed()["field tid"]
    assert tid["name"] == "TID = token identifier"
    assert "16303681" in tid["value"] and "2024-01-01 00:01 UTC" in tid["value"]
    assert "1993-01-01" in tid["value"] and "2024-11-24 20:15 UTC" in tid["value"]
    assert (
        "pre-filled with the manufacture TID 16303680 (2024-01-01 00:00 UTC)"
        in _dressed()["TID memory before"]["value"]
    )


def test_every_stage_and_field_is_named_in_words_with_a_sentence_before_its_data():
    boot()
    k1, k2, credit = vend("migration")
    type_token(k1, NOW)
    st = _dressed()
    for stage, s in st.items():
        assert s["name"] and s["say"].endswith("."), stage
    assert st["field nkho"]["name"] == "NKHO = new key high part"
    assert st["field ro"]["name"] == "RO = rollover" and "yes" in st["field ro"]["value"]
    assert st["field krn"]["name"] == "KRN = key revision number"
    assert st["field kenho"]["name"].startswith("KENHO = key expiry number")
    assert len({s["say"] for s in st.values()}) == len(st)  # no sentence said twice


def test_learner_text_has_no_internal_names_and_says_nothing_twice():
    boot()
    type_token("0000 0000 0087 2419 5840", NOW)
    result = _dressed()["result"]["value"]
    assert result.startswith("1 ACCEPT: ") and result.count("ACCEPT") == 1, result
    type_token("1234 5678 9012 3456 7890", NOW + 1000)  # a guess: its CRC does not check
    st = _dressed()
    text = json.dumps(list(st.values()))
    for name in ("BAD_CRC", "BAD_LENGTH", "UNKNOWN_", "NOT_DIGIT", "TOO_LARGE", "MISMATCH"):
        assert name not in text, name
    # (a class 1 token: sent in the clear, so no key can be wrong; stsvend explain's words)
    assert st["refused"]["value"] == "the CRC does not match: a typo?"
    assert st["result"]["value"].count("REJECT") == 0 and "13 CRC" in st["result"]["value"]


def test_every_entry_stays_in_the_history_and_is_explained_again_as_typed():
    boot()
    k1, k2, credit = vend("migration")
    type_token(k1, NOW)
    type_token(k2, NOW + 1000)
    type_token(credit, NOW + 2000)
    type_token("873", NOW + 3000)  # a short code: listed with the display's answer
    type_token("1234 5678 9012 3456 789", NOW + 4000)  # refused unread: listed all the same
    h = json.loads(W.history())
    assert [e["token"] for e in h] == [t.replace(" ", "") for t in (k1, k2, credit)] + [
        "873",
        "1234567890123456789",
    ]
    assert h[3]["code"] and h[3]["shown"].startswith("STS EDITION 2") and not h[0]["code"]
    assert h[0]["shown"].startswith("KEY CHANGE 1/2") and h[2]["shown"] == "ACCEPT +10.0 kWh"
    # The first section again, under the key it was typed with (the meter has another now).
    st = {s["stage"]: s for s in json.loads(W.explain_again(0))}
    assert "they match" in st["CRC"]["value"] and "field nkho" in st
    assert st["result"]["value"].startswith("2 KCT STAGED")
    assert "they match" in _dressed()["CRC"]["value"]
    st = {s["stage"]: s for s in json.loads(W.explain_again(1))}
    assert "field nklo" in st and "field ti" in st and "field kenlo" in st
    assert "error" in json.loads(W.explain_again(9))
    # The history is kept with the state: a reload lists it, and shows the last entry.
    saved = W.state_files()
    W.STATE = fresh_dir("web_rules")
    W.restore(saved)
    W.boot(DEMO, NOW + 5000)
    assert len(json.loads(W.history())) == 5 and "not decoded" in _dressed()
    W.reset()
    W.boot(DEMO, NOW + 6000)
    assert json.loads(W.history()) == [] and json.loads(W.explain()) == []


def test_a_short_code_is_listed_and_explained_as_one_but_the_explainer_keeps_the_token():
    boot()
    credit = vend("credit", "1")[0]
    type_token(credit, NOW)
    type_token("873", NOW + 1000)
    assert _stages()["digits"] == credit.replace(" ", "")  # the explainer keeps the token
    st = {s["stage"]: s for s in json.loads(W.explain_again(1))}
    assert list(st) == ["short code", "result"] and st["short code"]["value"] == "873"
    assert st["result"]["value"].startswith("The display shows STS EDITION 1 KRN 1 BASE 1993")
    saved = W.state_files()  # a reload explains the last token, not the short code
    W.STATE = fresh_dir("web_rules")
    W.restore(saved)
    W.boot(DEMO, NOW + 2000)
    assert _stages()["digits"] == credit.replace(" ", "")


def test_the_2024_story_is_told_at_the_tid_and_at_each_key_change_section():
    boot()
    type_token(vend("credit", "1")[0], NOW)  # base date 1993
    tid = _dressed()["field tid"]
    assert "24 bits" in tid["story"] and "1993-01-01" in tid["story"]
    assert "ran out at 2024-11-24 20:15 UTC" in tid["story"] and "base date 2014" in tid["story"]
    assert tid["bits"] == [32, 24, "block"] and _dressed()["class bits"]["bits"][2] == "token"
    assert _dressed()["CRC"]["story"] == ""  # the story only where it happens
    k1, k2, credit = vend("migration")
    for i, t in enumerate((k1, k2)):
        type_token(t, NOW + 1000 + i * 1000)
        st = _dressed()
        story = st["token"]["story"]
        assert ("Key change section %d" % (i + 1)) in story, story
        assert "base date 2014" in story and "KRN" in story and "empties its TID memory" in story
        assert "ENEO" in story and "no purchase" in story and "within two minutes" in story
        assert "CEET" in story and "code 3" in story
    st = {s["stage"]: s for s in json.loads(W.explain_again(1))}
    assert "from base date 1993 to 2014" in st["field ro"]["story"]
    type_token(credit, NOW + 3000)  # base date 2014: its window is told, not a past rollover
    story = _dressed()["field tid"]["story"]
    assert "runs out at 2045-11-24 20:15 UTC" in story and "moved" not in story


def test_a_fresh_meters_tid_memory_is_pre_filled_with_the_manufacture_tid():
    f = boot()
    assert f["status"]["tids_text"] == (
        "TID memory pre-filled with the manufacture TID (2024-01-01 00:00 UTC)"
    )
    type_token(vend("credit", "1")[0], NOW)
    st = json.loads(W.frame(NOW + 1000))["status"]
    assert st["tids_text"] == "TID memory 1 accepted, 49 slots still the manufacture TID"


def test_a_load_drains_credit_and_trips_past_the_max_power_while_time_is_fast_forwarded():
    boot()
    type_token(vend("credit", "1")[0], NOW)
    type_token(vend("max-power", "1000")[0], NOW + 1000)
    f = json.loads(W.set_load("900", NOW + 2000))
    assert f["load"] == 900 and f["relay"] is True
    f = json.loads(W.advance("600", NOW + 2000))  # 10 min of 900 W: 0.15 kWh
    assert f["ahead"] == 600 and f["status"]["balance"] == 9 and f["relay"] is True
    f = json.loads(W.set_load("1500", NOW + 2000))  # past the limit: the supply trips
    assert f["relay"] is False and f["status"]["tripped"] and f["lines"][1].startswith("OVERL")
    assert "error" in json.loads(W.set_load("-5", NOW)) and "error" in json.loads(
        W.advance("x", NOW)
    )


def test_the_teachers_clear_lockout_unlocks_this_pages_keypad():
    boot()
    for i in range(3):
        type_token("1234 5678 9012 3456 789%d" % i, NOW + i * 1000)
    assert json.loads(W.frame(NOW + 3000))["status"]["lock_left"] > 0
    out = json.loads(W.clear_lockout(NOW + 3000))
    assert out["cleared"] > 0 and out["status"]["lock_left"] == 0
    # It is saved at once: a reload straight after does not bring the lock back
    saved = W.state_files()
    W.STATE = fresh_dir("web_rules")
    W.restore(saved)
    assert json.loads(W.boot(DEMO, NOW + 3500))["status"]["lock_left"] == 0
    assert type_token(vend("credit", "1")[0], NOW + 4000)[0].startswith("ACCEPT")


def _files(saved):
    return json.loads(saved)


def test_every_call_answers_malformed_input_with_an_error_not_an_exception():
    boot()
    for call, args in (
        (W.key, ("x", NOW)),
        (W.key, (None, NOW)),
        (W.key, ("1", "soon")),
        (W.frame, ("-5",)),
        (W.frame, (None,)),
        (W.vend, ("credit", "1", "yesterday")),
        (W.vend, ("credit", None, NOW)),
        (W.vend, (None, None, NOW)),
        (W.explain_again, ("first",)),
        (W.explain_again, (None,)),
        (W.set_load, ("lots", NOW)),
        (W.advance, ("-1", NOW)),
        (W.clear_lockout, ("now",)),
        (W.restore, ("not json",)),
        (W.restore, ('{"../meter.0": ""}',)),
        (W.restore, ('{"meter.0": "!!"}',)),
        (W.sync, ('["meter.0"]',)),
        (W.sync, (None,)),
        (W.boot, ("{}", NOW)),
    ):
        out = json.loads(call(*args))
        assert "error" in out and out["error"], (call, args, out)


def test_sync_or_restore_with_malformed_files_keeps_every_state_file():
    boot()
    tok = vend("credit", "5")[0]
    type_token(tok, NOW)
    saved = W.state_files()
    good = _files(saved)
    for files in (
        "{",
        json.dumps(dict(good, history="x")),
        json.dumps(dict(good, **{"history.json": "bm90IGpzb24="})),  # "not json"
        json.dumps(dict(good, **{"meter.1": "not base64!"})),
    ):
        assert "error" in json.loads(W.sync(files)), files
        assert "error" in json.loads(W.restore(files)), files
        assert W.state_files() == saved  # not a byte of the state was touched
    # ... so after a reload the token typed before is still used: refused, no credit twice.
    W.boot(DEMO, NOW + 1000)
    before = json.loads(W.frame(NOW + 1000))["status"]["balance"]
    type_token(tok, NOW + 2000)
    assert json.loads(W.frame(NOW + 2000))["status"]["balance"] == before == 50
