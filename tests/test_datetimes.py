"""Client timestamps: normalized to UTC with Z at the precision given, whatever the offset they came with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from dosi.ngsild.model import is_datetime, normalize_datetime
from dosi.ngsild.temporal import epoch

moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 30))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60)


def written(moment: datetime, digits: int, offset_minutes: int) -> str:
    local = moment.replace(tzinfo=UTC).astimezone(timezone(timedelta(minutes=offset_minutes)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{local.microsecond:06d}".ljust(9, "7")[:digits]
    sign, minutes = ("+" if offset_minutes >= 0 else "-"), abs(offset_minutes)
    return text + (f"{sign}{minutes // 60:02d}:{minutes % 60:02d}" if offset_minutes else "Z")


@given(moments, st.integers(min_value=0, max_value=9), offsets)
def test_normalized_timestamps_are_utc_at_the_given_precision(moment: datetime, digits: int, offset: int) -> None:
    text = written(moment, digits, offset)
    assert is_datetime(text)
    normalized = normalize_datetime(text)
    assert normalized.endswith("Z") and normalize_datetime(normalized) == normalized
    assert len(normalized.partition(".")[2]) == (digits + 1 if digits else 0)  # the digits and the Z
    assert abs(epoch(normalized) - moment.replace(tzinfo=UTC).timestamp()) < 10.0**-digits + 1e-6
    if offset == 0 and digits <= 6:
        assert normalized == text  # already canonical: kept as written


def test_examples() -> None:
    assert normalize_datetime("2026-11-21T14:00:00+09:00") == "2026-11-21T05:00:00Z"
    assert normalize_datetime("2026-11-21T05:00:00.5-01:30") == "2026-11-21T06:30:00.5Z"
    assert normalize_datetime("2026-11-21T05:00:00.123456789Z") == "2026-11-21T05:00:00.123456000Z"
