# test_tid.py  TIDs (stsvend/tid.py): minutes since the base date, the window, times with a
# zone; the ledger's first free minute
import datetime as dt
import os

import pytest

from stsvend import profile as profiles
from stsvend import tid as tids
from stsvend.tid import Ledger, TidError
from vendkit import (  # the meters and helpers of every stsvend test
    AT,
    DEMO,
    UTC,
)

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
        tids.from_time(dt.datetime(2024, 11, 23, 10, 0), 1993)  # noqa: DTZ001 - naive, on purpose


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
