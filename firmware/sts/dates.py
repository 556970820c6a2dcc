# dates.py  a TID as the minute it stands for: whole minutes since 00:00 UTC on 1 January of
# the meter's base date, in 24 bits. Portable (no datetime): `stsvend` and the classroom page
# both convert with it; a meter never loads it (it compares TIDs, never dates).
TID_LIMIT = 1 << 24  # 2**24 minutes, about 31.9 years: base 1993's window closed 2024-11-24
# The base dates, as seconds since 1970-01-01 UTC: 1993 (edition 1), 2014, 2035 (the last).
BASE_DATES = {1993: 725846400, 2014: 1388534400, 2035: 2051222400}


def civil(days):
    """(year, month, day) of a count of days since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    mo = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (mo <= 2), mo, d


def seconds(base_date, tid):
    """The TID's minute as seconds since 1970-01-01 UTC."""
    return BASE_DATES[base_date] + tid * 60


def tid_at(base_date, unix_seconds):
    """The TID of a moment (seconds since 1970, UTC); it may fall outside 0..TID_LIMIT - 1:
    the caller says what a time outside the window means for it."""
    return (unix_seconds - BASE_DATES[base_date]) // 60


def minute(base_date, tid):
    """(year, month, day, hour, minute) of a TID, UTC."""
    days, mins = divmod(seconds(base_date, tid) // 60, 1440)
    y, mo, d = civil(days)
    return y, mo, d, mins // 60, mins % 60


def text(base_date, tid):
    """The minute a TID stands for, as "YYYY-MM-DD HH:MM UTC"."""
    return "%04d-%02d-%02d %02d:%02d UTC" % minute(base_date, tid)
