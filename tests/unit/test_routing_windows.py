"""Routing windows at their edges: the start is inside, the minute before it is not; the end is outside, the
minute before it is inside; for same-day, overnight and 24:00 windows, and across both DST changes.

Each case asks Window.contains directly (the rule machinery around it is tested in test_routing.py).
"""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.domain.routing import parse_rules

NY = ZoneInfo("America/New_York")


def window(start, end, days=None, tz="America/New_York"):
    spec = {"timezone": tz, "start": start, "end": end}
    if days:
        spec["days"] = days
    rules = parse_rules({"rules": [{"name": "w", "match": {"within": spec}, "action": "answer"}],
                         "default": {"action": "reject"}})
    return rules.rules[0].match.within


def local(text, tz=NY):
    """A wall-clock time in the zone (fold=0: the first of a repeated hour), as the UTC instant a call has."""
    return datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(timezone.utc)


# 2026-11-30 is a Monday; 2026-11-27 a Friday.
@pytest.mark.parametrize("when,inside", [
    ("2026-11-30T08:59", False),  # a minute before start
    ("2026-11-30T09:00", True),   # exactly at start: inside
    ("2026-11-30T16:59", True),   # a minute before end: inside
    ("2026-11-30T17:00", False),  # exactly at end: outside
    ("2026-11-30T12:00", True),
])
def test_same_day_window_edges(when, inside):
    assert window("09:00", "17:00", days=["mon"]).contains(local(when)) is inside


@pytest.mark.parametrize("when,inside", [
    ("2026-11-27T21:59", False),  # Friday, a minute before start
    ("2026-11-27T22:00", True),   # Friday, exactly at start
    ("2026-11-27T23:59", True),   # Friday, the last minute before midnight
    ("2026-11-28T00:00", True),   # Saturday midnight still belongs to Friday's night
    ("2026-11-28T05:59", True),   # a minute before end
    ("2026-11-28T06:00", False),  # exactly at end
    ("2026-11-28T22:00", False),  # Saturday's own start: Saturday is not listed
    ("2026-11-27T05:59", False),  # Friday's early hours belong to Thursday, not listed
])
def test_overnight_window_edges(when, inside):
    assert window("22:00", "06:00", days=["fri"]).contains(local(when)) is inside


@pytest.mark.parametrize("when,inside", [
    ("2026-11-30T17:59", False),  # a minute before start
    ("2026-11-30T18:00", True),   # exactly at start
    ("2026-11-30T23:59", True),   # the minute before 24:00
    ("2026-12-01T00:00", False),  # 24:00 is the end: the next day's midnight is outside (Tuesday not listed)
    ("2026-11-30T00:00", False),  # Monday's own midnight is before the start
])
def test_window_to_24_00_edges(when, inside):
    assert window("18:00", "24:00", days=["mon"]).contains(local(when)) is inside


def test_a_whole_day_window_from_00_00_to_24_00_holds_every_minute_of_its_day_only():
    whole = window("00:00", "24:00", days=["mon"])
    assert whole.contains(local("2026-11-30T00:00"))
    assert whole.contains(local("2026-11-30T23:59"))
    assert not whole.contains(local("2026-11-29T23:59"))
    assert not whole.contains(local("2026-12-01T00:00"))


# DST in New York: 2026-03-08 02:00 EST jumps to 03:00 EDT; 2026-11-01 02:00 EDT falls back to 01:00 EST.
def test_spring_forward_a_window_starting_in_the_skipped_hour_opens_at_the_first_real_minute_after_it():
    w = window("02:30", "05:00")
    # 01:59 EST (06:59 UTC) is before; the next instant is 03:00 EDT (07:00 UTC), past 02:30 on the wall clock.
    assert not w.contains(datetime(2026, 3, 8, 6, 59, tzinfo=timezone.utc))
    assert w.contains(datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc))


def test_spring_forward_a_window_ending_in_the_skipped_hour_closes_at_the_jump():
    w = window("01:00", "02:30")
    assert w.contains(datetime(2026, 3, 8, 6, 59, tzinfo=timezone.utc))      # 01:59 EST: the last minute inside
    assert not w.contains(datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc))   # 03:00 EDT: past the end


def test_spring_forward_start_and_end_edges_on_the_short_day():
    w = window("09:00", "17:00")
    assert not w.contains(local("2026-03-08T08:59"))
    assert w.contains(local("2026-03-08T09:00"))   # 13:00 UTC: EDT already
    assert w.contains(local("2026-03-08T16:59"))
    assert not w.contains(local("2026-03-08T17:00"))
    assert local("2026-03-08T09:00") == datetime(2026, 3, 8, 13, 0, tzinfo=timezone.utc)


def test_fall_back_the_repeated_hour_is_inside_a_window_ending_at_its_end_both_times():
    w = window("00:30", "02:00")
    assert w.contains(datetime(2026, 11, 1, 5, 59, tzinfo=timezone.utc))      # 01:59 EDT
    assert w.contains(datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc))       # 01:00 EST, the hour again
    assert w.contains(datetime(2026, 11, 1, 6, 59, tzinfo=timezone.utc))      # 01:59 EST
    assert not w.contains(datetime(2026, 11, 1, 7, 0, tzinfo=timezone.utc))   # 02:00 EST: the end


def test_fall_back_a_window_starting_in_the_repeated_hour_follows_the_wall_clock_both_times():
    w = window("01:30", "03:00")
    assert not w.contains(datetime(2026, 11, 1, 5, 29, tzinfo=timezone.utc))  # 01:29 EDT
    assert w.contains(datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc))      # 01:30 EDT: the start
    # The clock goes back to 01:00: the wall clock reads before the start again, then reaches it again.
    assert not w.contains(datetime(2026, 11, 1, 6, 29, tzinfo=timezone.utc))  # 01:29 EST
    assert w.contains(datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc))      # 01:30 EST
    assert w.contains(datetime(2026, 11, 1, 7, 59, tzinfo=timezone.utc))      # 02:59 EST
    assert not w.contains(datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc))   # 03:00 EST: the end


def test_overnight_window_across_the_spring_forward_night():
    # Saturday 22:00 to Sunday 06:00 on the night the clocks jump: seven hours of real time, all inside.
    w = window("22:00", "06:00", days=["sat"])
    assert not w.contains(local("2026-03-07T21:59"))
    assert w.contains(local("2026-03-07T22:00"))
    assert w.contains(datetime(2026, 3, 8, 6, 59, tzinfo=timezone.utc))   # 01:59 EST
    assert w.contains(datetime(2026, 3, 8, 7, 0, tzinfo=timezone.utc))    # 03:00 EDT
    assert w.contains(local("2026-03-08T05:59"))
    assert not w.contains(local("2026-03-08T06:00"))


def test_outside_is_exactly_the_complement_at_every_edge():
    spec = {"timezone": "America/New_York", "days": ["mon"], "start": "09:00", "end": "17:00"}
    rules = parse_rules({"rules": [{"name": "o", "match": {"outside": spec}, "action": "answer"}],
                         "default": {"action": "reject"}})
    outside = rules.rules[0].match.outside
    for when, inside in [("2026-11-30T08:59", False), ("2026-11-30T09:00", True),
                         ("2026-11-30T16:59", True), ("2026-11-30T17:00", False)]:
        assert outside.contains(local(when)) is inside
        call_at = local(when)
        assert rules.rules[0].match.holds(_any_call(), call_at) is (not inside), when


def _any_call():
    from tests.payloads import load_event
    from shared.domain.events import parse_incoming_call
    event = load_event("eventgrid_incoming_call_phone")[0]
    return parse_incoming_call(event["id"], event["eventTime"], event["data"])
