"""Time parsing: RFC 3339 or epoch in, epoch microseconds out, or a clear InvalidInput."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinops.errors import InvalidInput
from twinops.timeutil import format_rfc3339, parse_time, to_micros


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:00:00Z", 1_767_225_600_000_000),
        ("2026-01-01T01:00:00+01:00", 1_767_225_600_000_000),
        ("2026-01-01T00:00:00.5Z", 1_767_225_600_500_000),
        (1_767_225_600, 1_767_225_600_000_000),
        (1_767_225_600_250, 1_767_225_600_250_000),
        (1_767_225_600_000_001, 1_767_225_600_000_001),
        ("1767225600", 1_767_225_600_000_000),
    ],
)
def test_rfc3339_and_epoch_numbers_by_magnitude(value: object, expected: int) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize(
    "value", ["inf", "nan", "1e400", 1e300, float("inf"), "2026-13-45T99:99:99Z", "", True, None]
)
def test_impossible_times_are_invalid_input(value: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_time(value, "time")
    assert exc.value.violations[0].field == "time"


@settings(max_examples=500, deadline=None)
@given(value=st.text(max_size=40) | st.floats() | st.integers() | st.none() | st.booleans())
def test_any_input_parses_to_a_printable_time_or_is_refused(value: object) -> None:
    try:
        micros = parse_time(value)
    except InvalidInput:
        return
    assert format_rfc3339(micros).endswith("Z")


@given(
    moment=st.datetimes(
        timezones=st.just(UTC), min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)
    )
)
def test_formatted_times_parse_back_exactly(moment: datetime) -> None:
    micros = to_micros(moment)
    assert parse_time(format_rfc3339(micros)) == micros
