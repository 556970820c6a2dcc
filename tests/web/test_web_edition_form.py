# test_web_edition_form.py  the classroom page's pick of the 873 form (web/webmeter.py's
# edition_form), in CPython on a directory as tests/mp/web_rules.py runs the page's Python side.
import json

import webmeter as W
from tools import webbuild

NOW = 1795435200000  # 2026-11-23 12:00 UTC, in ms
DEMO = json.dumps(webbuild.demo())  # demo.json as the page gets it


def short_code(code, now):
    for k in code + "#":
        f = json.loads(W.key(k, now))
    return [line.strip() for line in f["lines"]]


def test_the_page_picks_the_873_form_and_goes_back_to_its_own(tmp_path):
    W.STATE = str(tmp_path / "state")
    W.boot(DEMO, NOW)
    assert short_code("873", NOW) == ["STS EDITION 1", "KRN 1 BASE 1993"]
    assert "error" not in json.loads(W.edition_form("hexing1", NOW))
    assert short_code("873", NOW + 6000) == ["01", ""]
    assert "error" not in json.loads(W.edition_form("inhemeter", NOW))
    assert short_code("873", NOW + 12000) == ["01-02", ""]
    W.edition_form("", NOW)
    assert short_code("873", NOW + 18000) == ["STS EDITION 1", "KRN 1 BASE 1993"]


def test_the_page_refuses_a_form_there_is_not_and_keeps_its_own(tmp_path):
    W.STATE = str(tmp_path / "state")
    W.boot(DEMO, NOW)
    out = json.loads(W.edition_form("landis", NOW))
    assert "landis" in out["error"] and "hexing3" in out["error"], out
    assert short_code("873", NOW) == ["STS EDITION 1", "KRN 1 BASE 1993"]
