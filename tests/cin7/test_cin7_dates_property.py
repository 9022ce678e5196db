"""Every date form the simulator can emit reads back as the same instant (property test)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from omni2qbd_shared.cin7_dates import format_cin7_datetime, parse_cin7_datetime
from omni2qbd_sims.cin7.dates import DateForm, format_date, parse_date

instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(instants, st.sampled_from(list(DateForm)))
def test_client_reads_what_the_simulator_writes(instant: datetime, form: DateForm) -> None:
    parsed = parse_cin7_datetime(format_date(instant, form))
    assert parsed is not None and parsed.tzinfo is not None
    if form is DateForm.DATE_ONLY:
        assert parsed == instant.replace(hour=0, minute=0, second=0, microsecond=0)
    elif form is DateForm.FRACTION_Z:
        assert abs(parsed - instant) < timedelta(milliseconds=1)
    elif form is DateForm.OFFSET:
        assert parsed == instant
    else:
        assert parsed == instant.replace(microsecond=0)


@settings(max_examples=200, deadline=None)
@given(instants)
def test_filter_dates_the_client_sends_are_read_by_the_simulator(instant: datetime) -> None:
    assert parse_date(format_cin7_datetime(instant)) == instant.replace(microsecond=0)
