# test_sim.py  the terminal simulator (boards/unix/sim.py --script) driven from CPython: a demo
# meter prepared by tools.simprep, tokens typed on its keypad, a load over simulated time,
# reboots and a second process on the same state. One JSON line per frame on stdout.
import json
import os
import subprocess
import time

import simscript
from conftest import FIRMWARE, micropython_binary, path_env
from simscript import frames, screens, statuses
from sts.blocks import bits
from sts.codec import Decoder
from sts.sta import Sta
from stsvend import tid
from tools import simprep

START = int(time.time())  # the sim's clock, epoch seconds: the demo tokens' TIDs are near it
IDLE_0 = ["CREDIT 0.0 kWh", "NO CREDIT: OFF"]


def prep(tmp_path):
    """A fresh demo meter's state dir; (dir, {label: token}) from its tokens.txt."""
    state = tmp_path / "s"
    simprep.main(["--state", str(state), "--seed", "1"])
    tokens = {}
    with open(state / "tokens.txt") as f:
        for line in f:
            if line.strip():
                tokens[line[26:].strip()] = line[:26].strip()
    return state, tokens


def tok(tokens, label):
    """The token whose label starts with `label`."""
    found = [t for k, t in tokens.items() if k.startswith(label)]
    assert len(found) == 1, "%r in %s" % (label, sorted(tokens))
    return found[0]


def migration(tokens):
    """Script lines: the two key change sections and the credit under the new key."""
    return [
        "type " + tok(tokens, "key change 1 of 2"),
        "type " + tok(tokens, "key change 2 of 2"),
        "type " + tok(tokens, "credit 10 kWh under the new key"),
        "wait 3000",
    ]


def sim(state, lines, start=START, rows=None, cols=None):
    """One simulator process over the script `lines`; error lines are the scripts' to see."""
    return simscript.run(
        state,
        lines,
        start,
        ["--rows", str(rows), "--cols", str(cols)] if rows else [],
        error_lines=True,
        timeout=60,
    )


def in_order(out, wanted):
    """Every screen of `wanted` shown, in this order (others may come between); the rows
    past a wanted screen's are blank."""
    got = screens(out)
    i = 0
    for w in wanted:
        while i < len(got) and (got[i][: len(w)] != w or any(got[i][len(w) :])):
            i += 1
        assert i < len(got), "screen %r not shown (in order); screens:\n%s" % (
            w,
            "\n".join(map(str, got)),
        )
        i += 1


def last_screen(out):
    return screens(out)[-1]


def test_simprep_writes_meter_json_and_tokens(tmp_path):
    state, tokens = prep(tmp_path)
    with open(state / "meter.json") as f:
        meter = json.load(f)
    prof = simscript.demo()
    assert meter["decoder_key"] == prof.decoder_key().hex()
    assert "vending_key" not in meter and "dkga" not in meter
    assert meter["pan"] == prof.pan and meter["base_date"] == 1993
    assert meter["manufacture_tid"] == tid.from_time(simprep.MADE, 1993)
    assert tok(tokens, "short code: STS edition") == "873"
    old = tok(tokens, "credit 25 kWh bought before the 2024 rollover").replace(" ", "")
    assert len(old) == 20
    d = Decoder(Sta(bytes.fromhex(meter["decoder_key"])))  # the old credit's TID is its date
    assert d.decode(old) == 0 and d.cls == 0
    when = tid.to_time(bits(d.block, 32, 24), 1993)
    assert when < simprep.dt.datetime(2024, 11, 24, tzinfo=simprep.UTC), when
    again = prep(tmp_path)[1]  # the same seed: the same tokens; old state cleared
    assert again == tokens and sorted(os.listdir(state)) == ["meter.json", "tokens.txt"]


def test_edition_2_migration_typed_on_the_keypad(tmp_path):
    state, tokens = prep(tmp_path)
    old = tok(tokens, "credit 25 kWh bought before")
    out = sim(
        state,
        [
            "type 873",
            "wait 5000",
            "type " + old,
            "wait 3000",
            "type " + tok(tokens, "key change 1 of 2"),
            "wait 3000",
            "type " + tok(tokens, "key change 2 of 2"),
            "type " + tok(tokens, "credit 10 kWh under the new key"),
            "wait 3000",
            "type 873",
            "status",
            "quit",
        ],
    )
    assert screens(out)[0] == IDLE_0 and frames(out)[0]["relay"] is False
    in_order(
        out,
        [
            ["STS EDITION 1", "KRN 1 BASE 1993"],
            IDLE_0,
            ["TOKEN:", old[:4]],  # typed a digit at a time, in groups of four
            ["ACCEPT", "+25.0 kWh"],
            ["CREDIT 25.0 kWh", "SUPPLY ON"],
            ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"],
            ["CREDIT 25.0 kWh", "KEY CHG 1/2 117s"],
            ["KEY CHANGED", "ACCEPT"],
            ["ACCEPT", "+10.0 kWh"],
            ["CREDIT 35.0 kWh", "SUPPLY ON"],
            ["STS EDITION 2", "KRN 2 BASE 2014"],
        ],
    )
    st = statuses(out)[-1]
    assert st["edition"] == 2 and st["krn"] == 2 and st["base_date"] == 2014
    assert st["balance"] == 350 and st["tids_used"] == 1 and st["relay"] is True
    assert "REJECT" not in json.dumps(screens(out))


def test_key_change_window_is_120_s_of_simulated_time(tmp_path):
    state, tokens = prep(tmp_path)
    k1, k2 = tok(tokens, "key change 1 of 2"), tok(tokens, "key change 2 of 2")
    out = sim(
        state, ["type " + k1, "wait 121000", "type " + k2, "wait 119000", "type " + k1, "status"]
    )
    in_order(
        out,
        [
            ["KEY CHANGE 1/2", "ENTER NEXT TOKEN"],
            ["KEY CHANGE 1/2", "TIMED OUT: AGAIN"],  # 121 s: the first was dropped
            ["KEY CHANGED", "ACCEPT"],
        ],
    )  # 119 s after the second: in time
    assert statuses(out)[-1]["edition"] == 2


def test_state_survives_reboot_and_a_second_process(tmp_path):
    state, tokens = prep(tmp_path)
    old = tok(tokens, "credit 25 kWh bought before")
    out = sim(
        state,
        ["type " + old, "wait 3000"] + migration(tokens) + ["reboot", "status", "type 0", "quit"],
    )
    st = statuses(out)[-1]
    assert st["balance"] == 350 and st["edition"] == 2
    assert last_screen(out) == ["BALANCE", "35.0 kWh"]
    out = sim(
        state,
        [
            "status",
            "type 873",
            "wait 5000",
            "type " + old,
            "wait 3000",
            "type " + tok(tokens, "credit 10 kWh under"),
            "status",
        ],
    )
    assert screens(out)[0] == ["CREDIT 35.0 kWh", "SUPPLY ON"]
    assert frames(out)[0]["relay"] is True
    assert statuses(out)[0]["balance"] == 350 and statuses(out)[0]["tids_used"] == 1
    in_order(
        out,
        [
            ["STS EDITION 2", "KRN 2 BASE 2014"],
            ["CREDIT 35.0 kWh", "SUPPLY ON"],
            ["REJECT 13", "WRONG TOKEN"],  # the old key's credit
            ["REJECT 10", "USED TOKEN"],
        ],
    )  # the new credit's TID was remembered
    assert statuses(out)[-1]["balance"] == 350


def test_load_uses_credit_and_the_relay_opens_when_it_runs_out(tmp_path):
    state, tokens = prep(tmp_path)
    out = sim(
        state,
        [
            "type " + tok(tokens, "credit 25 kWh bought before"),
            "wait 3000",
            "load 2000",
            "wait 180000",
            "status",
            "load 100000",
            "wait 900000",
            "status",
            "wait 10000",
            "status",
        ],
    )
    t0 = START * 1000 + 3000
    first, drained, after = statuses(out)
    assert first["balance"] == 249, "2000 W for 180 s is 0.1 kWh"
    drop = [o for o in frames(out) if o["lines"][0].rstrip() == "CREDIT 24.9 kWh"]
    assert drop and drop[0]["t"] == t0 + 180000, "0.1 kWh used exactly at 180 s"
    assert drained["balance"] == 0 and drained["relay"] is False
    assert after["balance"] == 0
    in_order(
        out,
        [
            ["CREDIT 25.0 kWh", "SUPPLY ON"],
            ["CREDIT 24.9 kWh", "SUPPLY ON"],
            ["CREDIT 5.0 kWh", "SUPPLY ON"],
            ["CREDIT 4.9 kWh", "LOW CREDIT"],
            ["CREDIT 0.1 kWh", "LOW CREDIT"],
            IDLE_0,
        ],
    )
    off = [o for o in frames(out) if [s.rstrip() for s in o["lines"]] == IDLE_0]
    assert off[-1]["relay"] is False and frames(out)[-1] == off[-1]
    # 24.9 kWh at 100 kW: 896.4 s; the supply is off from then on
    assert off[-1]["t"] == t0 + 180000 + 896400
    assert all(o["relay"] for o in frames(out) if o["t"] < off[-1]["t"] and o["t"] > t0)


def test_max_power_token_then_overload_opens_the_relay(tmp_path):
    state, tokens = prep(tmp_path)
    out = sim(
        state,
        migration(tokens)
        + [
            "type " + tok(tokens, "max power 1000 W"),
            "wait 3000",
            "load 900",
            "load 2000",
            "status",
        ],
    )
    in_order(
        out,
        [
            ["ACCEPT", "LIMIT 1000 W"],
            ["CREDIT 10.0 kWh", "SUPPLY ON"],
            ["CREDIT 10.0 kWh", "OVERLOAD: OFF"],
        ],
    )
    assert frames(out)[-1]["relay"] is False
    st = statuses(out)[-1]
    assert st["max_power"] == 1000 and st["tripped"] is True and st["relay"] is False


def test_overload_stays_off_while_the_load_is_above_the_limit(tmp_path):
    # The load is still plugged in while the relay is open: the supply stays off (and no
    # energy is used); each reconnection after the trip time finds the overload again. Once
    # the load drops to the limit, the next reconnection (at most 60 s on) holds.
    state, tokens = prep(tmp_path)
    out = sim(
        state,
        migration(tokens)
        + [
            "type " + tok(tokens, "max power 1000 W"),
            "wait 3000",
            "load 2000",
            "wait 360000",
            "status",
            "load 500",
            "wait 61000",
            "status",
        ],
    )
    tripped = next(
        i for i, o in enumerate(frames(out)) if o["lines"][1].rstrip() == "OVERLOAD: OFF"
    )
    during = frames(out)[tripped:-1]
    over, back = statuses(out)
    problems = []
    closed = [(o["t"] - START * 1000, o["lines"][1].rstrip()) for o in during if o["relay"]]
    if closed:
        problems.append(
            "the relay closed again %d times in 360 s under a 2000 W load (limit "
            "1000 W), e.g. at ms %s" % (len(closed), [t for t, _ in closed[:3]])
        )
    if not over["tripped"] or over["relay"]:
        problems.append("not tripped after 360 s at 2000 W: %r" % over)
    if over["balance"] != 100:
        problems.append("energy used while tripped: balance %d, want 100" % over["balance"])
    assert not problems, "; ".join(problems)
    assert back["tripped"] is False and back["relay"] is True
    assert screens(out)[-1] == ["CREDIT 10.0 kWh", "SUPPLY ON"]


def test_unknown_command_is_an_error_line_and_the_sim_goes_on(tmp_path):
    state, _ = prep(tmp_path)
    out = sim(state, ["frobnicate 3", "", "# a comment", "type 873", "quit", "type 0"])
    errors = [o for o in out if "error" in o]
    assert len(errors) == 1 and "frobnicate" in errors[0]["error"]
    assert errors[0]["t"] == START * 1000
    assert last_screen(out) == ["STS EDITION 1", "KRN 1 BASE 1993"], "nothing after quit"


def test_frames_are_json_lines_of_t_lines_relay(tmp_path):
    state, tokens = prep(tmp_path)
    script = [
        "keys 1234",
        "key *",
        "key C",
        "type 873",
        "wait 5000",
        "type 8",
        "wait 5000",
        "type " + tok(tokens, "credit 25 kWh bought before"),
        "load 1000",
        "wait 4000",
    ]
    for rows, cols in ((2, 16), (4, 20)):
        out = sim(state, script, rows=rows, cols=cols)
        fs = frames(out)
        assert len(fs) == len(out) and len(fs) > 10
        assert fs[0]["t"] == START * 1000
        for o in fs:
            assert sorted(o) == ["lines", "relay", "t"]
            assert isinstance(o["t"], int) and isinstance(o["relay"], bool)
            assert len(o["lines"]) == rows and all(len(s) == cols for s in o["lines"]), o
        for a, b in zip(fs, fs[1:]):
            assert b["t"] >= a["t"] and (a["lines"], a["relay"]) != (b["lines"], b["relay"])
        in_order(
            out,
            [
                ["TOKEN:", "1"],
                ["TOKEN:", "1234"],
                ["TOKEN:", "123"],
                IDLE_0,
                ["STS EDITION 1", "KRN 1 BASE 1993"],
                ["PAN 600727", "0000 0000 0009"],
                ["ACCEPT", "+25.0 kWh"],
                ["CREDIT 25.0 kWh", "SUPPLY ON"],
            ],
        )
        for name in os.listdir(state):  # a fresh meter for the next size
            if name.startswith("meter.") and name != "meter.json":
                os.remove(state / name)


def test_interactive_mode_on_a_pipe_says_to_use_script(tmp_path):
    state, _ = prep(tmp_path)
    r = subprocess.run(
        [
            micropython_binary(),
            simscript.SIM,
            "--state",
            str(state),
            "--profile",
            str(state / "meter.json"),
        ],
        input="q\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=path_env(FIRMWARE),
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "needs a terminal" in r.stderr and "--script" in r.stderr


def test_fresh_tokens_for_the_meter_as_it_is_after_the_migration(tmp_path):
    # Once the demo tokens are used, `make sim-tokens` (simprep --tokens-only) makes new ones
    # for the meter as the state holds it: the new key, KRN 2, base date 2014, TIDs after
    # the newest the meter holds. They are accepted; the state is kept.
    state, tokens = prep(tmp_path)
    sim(state, migration(tokens))
    simprep.main(["--state", str(state), "--tokens-only", "--seed", "2"])
    with open(state / "tokens.txt") as f:
        fresh = {line[26:].strip(): line[:26].strip() for line in f if line.strip()}
    assert not [k for k in fresh if "key change" in k], "a migrated meter needs no migration"
    out = sim(
        state,
        [
            "type " + tok(fresh, "credit 25 kWh"),
            "wait 3000",
            "type " + tok(fresh, "max power 1000 W"),
            "wait 3000",
            "status",
        ],
    )
    in_order(out, [["ACCEPT", "+25.0 kWh"], ["ACCEPT", "LIMIT 1000 W"]])
    s = statuses(out)[-1]
    assert s["krn"] == 2 and s["base_date"] == 2014 and s["balance"] == 350, s


def test_fresh_tokens_for_a_meter_not_yet_migrated_are_not_used_ones(tmp_path):
    state, tokens = prep(tmp_path)
    old = tok(tokens, "credit 25 kWh bought before")
    sim(state, ["type " + old, "wait 3000"])
    simprep.main(["--state", str(state), "--tokens-only", "--seed", "3"])
    with open(state / "tokens.txt") as f:
        fresh = {line[26:].strip(): line[:26].strip() for line in f if line.strip()}
    new = tok(fresh, "credit 25 kWh bought before")
    assert new != old
    out = sim(state, ["type " + new, "wait 3000"] + migration(fresh) + ["status"])
    in_order(out, [["ACCEPT", "+25.0 kWh"], ["KEY CHANGED", "ACCEPT"], ["ACCEPT", "+10.0 kWh"]])
    assert statuses(out)[-1]["balance"] == 600


def test_fresh_tokens_refuse_a_meter_that_is_not_there(tmp_path):
    try:
        simprep.main(["--state", str(tmp_path / "none"), "--tokens-only"])
        raise AssertionError("no meter, no tokens")
    except SystemExit as e:
        assert "make sim" in str(e.code), e.code


def test_the_listed_tokens_fit_80_columns(tmp_path):
    state, _ = prep(tmp_path)
    with open(state / "tokens.txt") as f:
        lines = [line.rstrip("\n") for line in f]
    assert lines and all(len("    " + line) <= 80 for line in lines), max(lines, key=len)


class Terminal:
    """The interactive simulator on a pseudo-terminal: keys written, what it draws read."""

    def __init__(self, state):
        import pty

        self.seen = []
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the simulator on the pty
            os.execve(
                micropython_binary(),
                [
                    micropython_binary(),
                    simscript.SIM,
                    "--state",
                    str(state),
                    "--profile",
                    str(state / "meter.json"),
                ],
                path_env(FIRMWARE),
            )

    def read_for(self, seconds):
        import select

        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    self.seen.append(os.read(self.fd, 65536).decode(errors="replace"))
                except OSError:
                    return

    def keys(self, keys, pause=0.05):
        for c in keys:
            os.write(self.fd, c.encode())
            self.read_for(pause)

    def screen_now(self):
        text = self.text()
        return text[text.rfind("\x1b[2J") :]

    def text(self):
        return "".join(self.seen)

    def quit(self):
        os.write(self.fd, b"q")
        self.read_for(1.0)
        os.waitpid(self.pid, 0)


def test_the_terminal_shows_live_countdowns_and_keys_fast_forward(tmp_path):
    # The interactive simulator in a pseudo-terminal: a held key change section shows the
    # seconds left of its window; f moves 10 minutes on (the window passes, the home screen
    # no longer says a section is held); q quits.
    state, tokens = prep(tmp_path)
    term = Terminal(state)
    term.read_for(1.5)
    term.keys(tok(tokens, "key change 1 of 2").replace(" ", "") + "\r")
    term.read_for(1.5)
    held = term.screen_now()
    term.keys("f", 1.5)
    after = term.screen_now()
    term.quit()
    assert "key change 1 of 2 held: 11" in held, held  # 118 or 119 s left
    assert "KEY CHANGE 1/2" in held and "f = 10 minutes on" in held, held
    assert "held:" not in after and "KEY CHANGE 1/2" not in after, after


def test_the_terminal_f_right_after_a_trip_charges_the_ten_minutes(tmp_path):
    # 10.0 kWh, a 1000 W limit; 2 kW trips the supply off for 60 s; back to 1 kW, then f at
    # once: the trip ends within the ten minutes and the 9 minutes after it are charged
    # (540 kJ at 1 kW: one whole 0.1 kWh). It was free: f was one pass, the relay open at its
    # start.
    state, tokens = prep(tmp_path)
    sim(state, migration(tokens) + ["type " + tok(tokens, "max power 1000 W"), "quit"])
    term = Terminal(state)
    term.read_for(1.0)
    term.keys("ll", 0.3)  # 1 kW, 2 kW: over the limit
    tripped = term.screen_now()
    term.keys("ll", 0.3)  # 0, 1 kW
    term.keys("f", 1.5)
    after = term.screen_now()
    term.quit()
    assert "OVERLOAD: OFF" in tripped and "overload trip: supply back in" in tripped, tripped
    assert "CREDIT 9.9 kWh" in after and "supply ON   load 1000 W" in after, after


def test_the_terminal_draws_only_what_changed_on_its_own_screen(tmp_path):
    # No scrollback flood: nothing changes on an idle meter, so it is drawn once, on the
    # terminal's alternate screen, which it leaves at q.
    state, _ = prep(tmp_path)
    term = Terminal(state)
    term.read_for(2.0)  # ten turns of the loop's 200 ms wait
    idle = term.text()
    term.keys("8", 0.5)
    term.quit()
    assert idle.startswith("\x1b[?1049h") and idle.count("\x1b[2J") == 1, repr(idle[-300:])
    assert term.text().count("\x1b[2J") == 2 and term.text().endswith("\x1b[?1049l")


def test_the_terminal_marks_the_tokens_the_meter_took_as_used(tmp_path):
    state, tokens = prep(tmp_path)
    one, two = tok(tokens, "key change 1 of 2"), tok(tokens, "key change 2 of 2")
    old = tok(tokens, "credit 25 kWh bought before")
    term = Terminal(state)
    term.read_for(1.0)
    for t in (old, one, "1234" * 5):  # a credit, a section held, a wrong token
        term.keys(t.replace(" ", "") + "\r")
    term.read_for(0.5)
    first = term.screen_now()
    term.quit()
    term = Terminal(state)  # remembered: a second session marks them too
    term.read_for(1.0)
    again = term.screen_now()
    term.quit()
    for screen in (first, again):
        assert "  used " + old in screen and "  used " + one in screen, screen
        assert "  used " + two not in screen and "       " + two in screen, screen
        assert "used 1234" not in screen


def test_codes_1_and_2_typed_again_on_the_keypad_then_code_3(tmp_path):
    # The 2024 customer who types codes 1 and 2 four times over before code 3: told the change
    # is done each time, never locked out, and code 3's credit goes in.
    state, tokens = prep(tmp_path)
    one, two = tok(tokens, "key change 1 of 2"), tok(tokens, "key change 2 of 2")
    lines = ["type " + one, "type " + two, "wait 3000"]
    for _ in range(4):
        lines += ["type " + one, "wait 1000", "type " + two, "wait 1000"]
    lines += ["type " + tok(tokens, "credit 10 kWh under the new key"), "status", "quit"]
    out = sim(state, lines)
    shown = screens(out)
    assert shown.count(["KEY CHANGE", "DONE ALREADY"]) == 8, shown
    assert not [s for s in shown if s[0].startswith(("LOCKED", "REJECT"))], shown
    assert shown[-1] == ["ACCEPT", "+10.0 kWh"]
    st = statuses(out)[-1]
    assert st["krn"] == 2 and st["balance"] == 100 and st["lock_left"] == 0


def test_make_sim_says_it_replaces_a_meter_already_there(tmp_path, capsys):
    state, tokens = prep(tmp_path)
    assert "Replacing" not in capsys.readouterr().out  # nothing there yet
    sim(state, ["type " + tok(tokens, "credit 25 kWh"), "quit"])
    prep(tmp_path)
    out = capsys.readouterr().out
    assert "Replacing the meter in %s/ (credit 25.0 kWh, KRN 1, base date 1993)" % state in out
    assert "`make sim-resume`" in out, out


# -- 873 in each maker's form (ENEO's 2024 notice) ---------------------------------------------

FORMS = {  # form: (screens for edition 1, screens for edition 2), as --edition-form picks it
    "plain": ([["1"]], [["2"]]),
    "hexing1": ([["01"]], [["02"]]),
    "hexing3": ([["01"], ["02"]], [["02"]]),
    "inhemeter": ([["01-02"]], [["2-02"]]),
}


def test_873_in_each_makers_form_before_and_after_the_migration(tmp_path):
    for form, (one, two) in FORMS.items():
        state, tokens = prep(tmp_path / form)
        lines = ["type 873", "wait 5000"] + migration(tokens) + ["type 873", "wait 5000", "quit"]
        out = simscript.run(state, lines, START, ["--edition-form", form])
        shown = [s for s in screens(out) if not s[0].startswith(("TOKEN", "CREDIT"))]
        shown = [s[:1] for s in shown if s[0] in ("1", "2", "01", "02", "01-02", "2-02")]
        assert shown == one + two, (form, screens(out))


def test_873_as_before_when_no_form_is_picked(tmp_path):
    state, tokens = prep(tmp_path)
    out = sim(state, ["type 873", "wait 5000", "quit"])
    assert ["STS EDITION 1", "KRN 1 BASE 1993"] in screens(out)


def test_an_unknown_edition_form_is_refused_with_the_forms_there_are(tmp_path):
    state, _ = prep(tmp_path)
    r = subprocess.run(
        [micropython_binary(), simscript.SIM, "--script", "--state", str(state)]
        + ["--profile", str(state / "meter.json"), "--edition-form", "landis"],
        input="quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=path_env(FIRMWARE),
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "landis" in r.stderr and "hexing1, hexing3, inhemeter, plain" in r.stderr, r.stderr


def test_keeping_the_completed_set_costs_the_heap_no_cipher_table(tmp_path):
    # An STA set is kept as it was typed, never encrypted again: STA's encryption table is
    # 6 KB that a 64 KB board's meter, which only decrypts, never builds. (Read from the
    # first section on: it loads the key change rules, meter/key_change.py.)
    state, tokens = prep(tmp_path)
    one, two = tok(tokens, "key change 1 of 2"), tok(tokens, "key change 2 of 2")
    out = sim(state, ["type " + one, "mem", "type " + two, "type " + one, "mem", "quit"])
    before, after = [o["mem_alloc"] for o in out if "mem_alloc" in o]
    assert ["KEY CHANGE", "DONE ALREADY"] in screens(out)
    assert after - before < 1024, (before, after)


def test_a_bad_personalise_line_answers_an_error_and_leaves_every_file_as_it_was(tmp_path):
    # It used to delete meter.0, meter.1 and meter.json, then crash on the missing field:
    # the credit and the provisioning data gone.
    state, tokens = prep(tmp_path)
    sim(state, ["type " + tok(tokens, "credit 25 kWh bought before"), "wait 3000"])
    names = sorted(os.listdir(state))
    assert "meter.0" in names and "meter.1" in names and "meter.json" in names
    before = {n: (state / n).read_bytes() for n in names}
    with open(state / "meter.json") as f:
        good = json.load(f)
    bad = [
        {k: v for k, v in good.items() if k != "decoder_key"},  # incomplete
        dict(good, pan="60072700000000000"),  # 17 digits
        dict(good, ken=256),
        dict(good, decoder_key="zz" * 8),
        dict(good, ea="des"),
        dict(good, manufacture_tid="1e3"),
        [1, 2],
    ]
    lines = ["personalise " + json.dumps(b) for b in bad] + ["personalise {not json", "status"]
    out = sim(state, lines)
    errors = [o["error"] for o in out if "error" in o]
    assert len(errors) == len(bad) + 1, errors
    for why, name in zip(
        errors, ("decoder_key", "pan", "ken", "decoder_key", "ea", "manufacture")
    ):
        assert why.startswith(name), (name, why)
    assert statuses(out)[0]["balance"] == 250  # the meter as it was
    assert {n: (state / n).read_bytes() for n in sorted(os.listdir(state))} == before
    out = sim(state, ["personalise " + json.dumps(good), "status"])  # good data: a new meter
    assert statuses(out)[0]["balance"] == 0 and not [o for o in out if "error" in o]


def test_short_code_1_after_a_restart_shows_the_last_result_in_the_result_screens_words(tmp_path):
    # It said NONE after `make sim-resume`, and `13 CRC` where the result screen said
    # WRONG TOKEN.
    state, tokens = prep(tmp_path)
    old = tok(tokens, "credit 25 kWh bought before")
    out = sim(state, ["type " + old, "wait 3000", "reboot", "type 1"])
    assert last_screen(out) == ["LAST ACCEPT", "+25.0 kWh"], last_screen(out)
    out = sim(state, ["type " + "1" * 20, "wait 3000", "quit"])
    out = sim(state, ["type 1"])  # another process on the same state: a power-up
    assert last_screen(out) == ["LAST REJECT 13", "WRONG TOKEN"], last_screen(out)
