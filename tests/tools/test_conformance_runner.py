# test_conformance_runner.py  tools.conformance passes the published vectors, and fails a
# vectors file with one wrong digit, one wrong field or one wrong key.
import json
import re

import pytest

from conftest import VECTORS, load_vectors, micropython_binary
from tools import conformance

CLOSING = re.compile(r"^(\d+) passed, (\d+) failed$")


def run(path, capsys):
    """Exit code and the printed lines of the runner on `path`."""
    code = conformance.main([str(path), "--micropython", micropython_binary()])
    return code, capsys.readouterr().out.strip().splitlines()


def test_published_vectors_pass(capsys):
    code, lines = run(VECTORS, capsys)
    last = lines[-1]
    assert code == 0, lines
    m = CLOSING.match(last)
    assert m, last
    assert int(m.group(1)) > 0 and m.group(2) == "0"


def test_published_vectors_pass_with_micropython_from_path(capsys, monkeypatch):
    exe = micropython_binary()
    monkeypatch.setenv("PATH", exe.rsplit("/", 1)[0] + ":" + "/usr/bin:/bin")
    assert conformance.main([VECTORS]) == 0
    assert re.match(r"^\d+ passed, 0 failed$", capsys.readouterr().out.splitlines()[-1])


def _next_digit(d):
    return str((int(d) + 1) % 10)


def _change_token_digit(case):
    t = case["token"]
    case["token"] = t[:-1] + _next_digit(t[-1])


def _change_field(case):
    case["fields"]["tid"] += 1


def _change_decoder_key(case):
    k = case["decoder_key"]
    case["decoder_key"] = k[:-1] + "%x" % (int(k[-1], 16) ^ 1)


@pytest.mark.parametrize(
    "change",
    [_change_token_digit, _change_field, _change_decoder_key],
    ids=["token_digit", "field", "decoder_key"],
)
def test_one_wrong_value_fails(tmp_path, capsys, change):
    cases = load_vectors()
    target = next(
        c for c in cases if c["kind"] == "token" and c["ea"] == "sta" and c["class"] == 0
    )
    change(target)
    path = tmp_path / "changed.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    code, lines = run(path, capsys)
    assert code == 1, lines
    m = CLOSING.match(lines[-1])
    assert m, lines[-1]
    assert int(m.group(2)) > 0
    failed = [line for line in lines if line.startswith("FAIL")]
    assert failed and all(" %s " % target["id"] in line for line in failed), failed


def test_missing_file_exits(tmp_path):
    with pytest.raises(SystemExit):
        conformance.main([str(tmp_path / "absent.jsonl"), "--micropython", micropython_binary()])


def test_a_line_that_is_not_json_exits(tmp_path):
    path = tmp_path / "broken.jsonl"
    with open(VECTORS) as f:
        path.write_text(f.readline() + "{not json\n")
    with pytest.raises(SystemExit):
        conformance.main([str(path), "--micropython", micropython_binary()])
