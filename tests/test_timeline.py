"""The time rules (DESIGN §1.1, §1.2, §2), as scenarios named by behaviour.

Every expected instant is worked out by hand from the zone's offsets:
Europe/Berlin CET +01:00 / CEST +02:00, switching 2026-03-29 and 2026-10-25 at 01:00Z;
America/New_York EST -05:00 / EDT -04:00, switching 2026-03-08 at 07:00Z and 2026-11-01 at 06:00Z;
Australia/Sydney AEDT +11:00 / AEST +10:00, back on 2026-04-05 at 16:00Z (the 4th),
forward on 2026-10-04 at 16:00Z (the 3rd); Asia/Kolkata +05:30 all year.
2026-03-02 is a Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from offhours.language import parse_schedule
from offhours.schedule import Action, DesiredState, Event
from offhours.timeline import Timeline, timeline

RUNNING, STOPPED = DesiredState.RUNNING, DesiredState.STOPPED


def at(text: str) -> datetime:
    """`"2026-03-27 07:00"` (UTC) to an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def tl(value: str, default_timezone: str = "UTC") -> Timeline:
    return timeline(parse_schedule(value, default_timezone=default_timezone))


def events(value: str, lo: str, hi: str, default_timezone: str = "UTC") -> list[tuple[str, str]]:
    """Events with lo < at <= hi as `(action, "YYYY-MM-DD HH:MM")` in UTC."""
    found = tl(value, default_timezone).events_between(at(lo), at(hi))
    for event in found:
        assert event.at.tzinfo is not None and event.at.utcoffset() == timedelta(0)
    return [(e.action.value, e.at.strftime("%Y-%m-%d %H:%M")) for e in found]


def start(when: str) -> tuple[str, str]:
    return ("start", when)


def stop(when: str) -> tuple[str, str]:
    return ("stop", when)


# --- wall-clock times stay put across daylight saving ---------------------------------------


def test_berlin_office_hours_are_07z_in_winter_and_06z_in_summer() -> None:
    value = "Mon-Fri 08:00-18:00 Europe/Berlin"
    assert events(value, "2026-03-27 00:00", "2026-03-31 00:00") == [
        start("2026-03-27 07:00"),
        stop("2026-03-27 17:00"),
        start("2026-03-30 06:00"),
        stop("2026-03-30 16:00"),
    ]
    assert events(value, "2026-10-23 00:00", "2026-10-27 00:00") == [
        start("2026-10-23 06:00"),
        stop("2026-10-23 16:00"),
        start("2026-10-26 07:00"),
        stop("2026-10-26 17:00"),
    ]


def test_the_check_json_example_of_the_design() -> None:
    line = tl("Mon-Fri 08:00-18:00 Europe/Berlin")
    now = at("2026-03-27 16:00")
    assert line.desired_state(now) is RUNNING
    assert line.last_event(now) == Event(Action.START, at("2026-03-27 07:00"))
    assert [(e.action.value, e.at) for e in line.next_events(now, 3)] == [
        ("stop", at("2026-03-27 17:00")),
        ("start", at("2026-03-30 06:00")),
        ("stop", at("2026-03-30 16:00")),
    ]


def test_new_york_office_hours_move_by_an_hour_in_utc_at_both_switches() -> None:
    value = "Mon-Fri 08:00-18:00 America/New_York"
    assert events(value, "2026-03-06 00:00", "2026-03-10 00:00") == [
        start("2026-03-06 13:00"),
        stop("2026-03-06 23:00"),
        start("2026-03-09 12:00"),
        stop("2026-03-09 22:00"),
    ]
    assert events(value, "2026-10-30 00:00", "2026-11-03 00:00") == [
        start("2026-10-30 12:00"),
        stop("2026-10-30 22:00"),
        start("2026-11-02 13:00"),
        stop("2026-11-02 23:00"),
    ]


def test_sydney_moves_the_other_way_in_the_southern_hemisphere() -> None:
    value = "08:00-18:00 Australia/Sydney"
    # Back on Sunday 2026-04-05: Saturday is AEDT (+11), Sunday AEST (+10).
    assert events(value, "2026-04-03 12:00", "2026-04-05 12:00") == [
        start("2026-04-03 21:00"),
        stop("2026-04-04 07:00"),
        start("2026-04-04 22:00"),
        stop("2026-04-05 08:00"),
    ]
    # Forward on Sunday 2026-10-04: Saturday is AEST (+10), Sunday AEDT (+11).
    assert events(value, "2026-10-02 12:00", "2026-10-04 12:00") == [
        start("2026-10-02 22:00"),
        stop("2026-10-03 08:00"),
        start("2026-10-03 21:00"),
        stop("2026-10-04 07:00"),
    ]


def test_kolkata_is_five_and_a_half_hours_ahead_all_year() -> None:
    value = "Mon-Fri 08:00-18:00 Asia/Kolkata"
    assert events(value, "2026-01-05 00:00", "2026-01-06 00:00") == [
        start("2026-01-05 02:30"),
        stop("2026-01-05 12:30"),
    ]
    assert events(value, "2026-07-06 00:00", "2026-07-07 00:00") == [
        start("2026-07-06 02:30"),
        stop("2026-07-06 12:30"),
    ]
    assert events("start=15 1 * * *; tz=Asia/Kolkata", "2026-07-06 00:00", "2026-07-07 00:00") == [
        start("2026-07-06 19:45")
    ]


# --- the spring-forward gap and the fall-back repeat ----------------------------------------


def test_a_cron_time_in_the_spring_gap_happens_when_the_clocks_jump() -> None:
    # 02:30 does not exist on the switch days: it happens at the jump, 03:00 CEST = 01:00Z,
    # 03:00 EDT = 07:00Z, 03:00 AEDT = 16:00Z the day before.
    value = "start=30 2 * * *; tz=Europe/Berlin"
    assert events(value, "2026-03-28 00:00", "2026-03-31 00:00") == [
        start("2026-03-28 01:30"),
        start("2026-03-29 01:00"),
        start("2026-03-30 00:30"),
    ]
    new_york = "start=30 2 * * *; tz=America/New_York"
    assert events(new_york, "2026-03-07 00:00", "2026-03-10 00:00") == [
        start("2026-03-07 07:30"),
        start("2026-03-08 07:00"),
        start("2026-03-09 06:30"),
    ]
    sydney = "start=30 2 * * *; tz=Australia/Sydney"
    assert events(sydney, "2026-10-02 00:00", "2026-10-05 00:00") == [
        start("2026-10-02 16:30"),
        start("2026-10-03 16:00"),
        start("2026-10-04 15:30"),
    ]


def test_gaps_of_half_an_hour_and_at_midnight_also_happen_at_the_jump() -> None:
    # Lord Howe Island goes from +10:30 to +11:00 at 02:00 on 2026-10-04 (15:30Z the day
    # before); Santiago from -04:00 to -03:00 at midnight on 2026-09-06 (04:00Z).
    lord_howe = "start=15 2 * * *; tz=Australia/Lord_Howe"
    assert events(lord_howe, "2026-10-02 12:00", "2026-10-04 18:00") == [
        start("2026-10-02 15:45"),
        start("2026-10-03 15:30"),
        start("2026-10-04 15:15"),
    ]
    santiago = "stop=0 0 * * *; tz=America/Santiago"
    assert events(santiago, "2026-09-04 12:00", "2026-09-07 12:00") == [
        stop("2026-09-05 04:00"),
        stop("2026-09-06 04:00"),
        stop("2026-09-07 03:00"),
    ]


def test_a_start_and_a_stop_in_the_spring_gap_keep_their_order() -> None:
    # 02:30 and 03:00 Berlin both happen at the jump (01:00Z) on 2026-03-29: the stop wins, and
    # the machine does not run for a day as it would if 02:30 came after 03:00.
    value = "start=30 2 * * *; stop=0 3 * * *; tz=Europe/Berlin"
    assert events(value, "2026-03-28 00:00", "2026-03-31 00:00") == [
        start("2026-03-28 01:30"),
        stop("2026-03-28 02:00"),
        stop("2026-03-29 01:00"),
        start("2026-03-30 00:30"),
        stop("2026-03-30 01:00"),
    ]
    line = tl(value)
    assert line.desired_state(at("2026-03-29 01:00")) is STOPPED
    assert line.desired_state(at("2026-03-29 12:00")) is STOPPED
    assert line.last_event(at("2026-03-29 12:00")) == Event(Action.STOP, at("2026-03-29 01:00"))


def test_a_window_ending_in_the_spring_gap_ends_when_the_clocks_jump() -> None:
    # 01:00 CET = 00:00Z; 02:30 does not exist that night, so the window ends at the jump,
    # 01:00Z, when the local time leaves it (03:00 CEST), not at 01:30Z.
    value = "01:00-02:30 Europe/Berlin"
    assert events(value, "2026-03-28 12:00", "2026-03-29 12:00") == [
        start("2026-03-29 00:00"),
        stop("2026-03-29 01:00"),
    ]
    line = tl(value)
    assert line.desired_state(at("2026-03-29 00:59")) is RUNNING
    assert line.desired_state(at("2026-03-29 01:15")) is STOPPED


def test_a_window_starting_in_the_spring_gap_starts_when_the_clocks_jump() -> None:
    assert events("02:30-05:00 Europe/Berlin", "2026-03-28 12:00", "2026-03-29 12:00") == [
        start("2026-03-29 01:00"),
        stop("2026-03-29 03:00"),
    ]


def test_a_cron_time_in_the_fall_back_repeat_fires_once_at_its_first_occurrence() -> None:
    value = "stop=30 2 * * *; tz=Europe/Berlin"
    assert events(value, "2026-10-24 00:00", "2026-10-27 00:00") == [
        stop("2026-10-24 00:30"),
        stop("2026-10-25 00:30"),
        stop("2026-10-26 01:30"),
    ]
    new_york = "stop=30 1 * * *; tz=America/New_York"
    assert events(new_york, "2026-10-31 00:00", "2026-11-03 00:00") == [
        stop("2026-10-31 05:30"),
        stop("2026-11-01 05:30"),
        stop("2026-11-02 06:30"),
    ]
    sydney = "stop=30 2 * * *; tz=Australia/Sydney"
    assert events(sydney, "2026-04-03 00:00", "2026-04-06 00:00") == [
        stop("2026-04-03 15:30"),
        stop("2026-04-04 15:30"),
        stop("2026-04-05 16:30"),
    ]


def test_an_every_half_hour_cron_fires_once_per_repeated_wall_time() -> None:
    # 01:30 CEST, 02:00 CEST, 02:30 CEST, [02:00 CET and 02:30 CET are repeats], 03:00 CET ...
    assert events(
        "start=*/30 * * * *; tz=Europe/Berlin", "2026-10-24 23:00", "2026-10-25 02:30"
    ) == [
        start("2026-10-24 23:30"),
        start("2026-10-25 00:00"),
        start("2026-10-25 00:30"),
        start("2026-10-25 02:00"),
        start("2026-10-25 02:30"),
    ]


def test_an_every_half_hour_cron_gives_no_duplicate_instants_across_the_gap() -> None:
    # 01:30 CET = 00:30Z; 02:00 and 02:30 (the gap) and 03:00 CEST are all the jump, 01:00Z;
    # then 03:30, 04:00 and 04:30 CEST.
    assert events(
        "start=*/30 * * * *; tz=Europe/Berlin", "2026-03-29 00:00", "2026-03-29 02:30"
    ) == [
        start("2026-03-29 00:30"),
        start("2026-03-29 01:00"),
        start("2026-03-29 01:30"),
        start("2026-03-29 02:00"),
        start("2026-03-29 02:30"),
    ]


def test_a_stopped_stretch_swallowed_by_the_gap_leaves_one_start_and_one_stop() -> None:
    # 01:00 CET = 00:00Z; the stop at 02:30 (the gap) and the start at 03:00 CEST both happen at
    # the jump, 01:00Z, so the two windows touch and are one run until 04:00 CEST (02:00Z).
    value = "01:00-02:30 03:00-04:00 Europe/Berlin"
    assert events(value, "2026-03-28 12:00", "2026-03-29 12:00") == [
        start("2026-03-29 00:00"),
        stop("2026-03-29 02:00"),
    ]
    assert tl(value).desired_state(at("2026-03-29 01:15")) is RUNNING


def test_windows_that_the_gap_makes_touch_merge() -> None:
    # The stop at 02:00 (the gap: at the jump) and the start at 03:00 CEST are both 01:00Z.
    assert events(
        "01:00-02:00 03:00-04:00 Europe/Berlin", "2026-03-28 12:00", "2026-03-29 12:00"
    ) == [
        start("2026-03-29 00:00"),
        stop("2026-03-29 02:00"),
    ]


def test_during_the_repeated_hour_the_first_occurrence_has_already_happened() -> None:
    # 01:15Z on 2026-10-25 is 02:15 CET, the second time round; 02:30 CEST was 00:30Z.
    second_time_round = at("2026-10-25 01:15")
    cron = tl("stop=30 2 * * *; start=0 6 * * *; tz=Europe/Berlin")
    assert cron.last_event(second_time_round) == Event(Action.STOP, at("2026-10-25 00:30"))
    assert cron.next_events(second_time_round, 1) == [Event(Action.START, at("2026-10-25 05:00"))]
    windows = tl("02:30-05:00 Europe/Berlin")
    assert windows.last_event(second_time_round) == Event(Action.START, at("2026-10-25 00:30"))
    assert windows.desired_state(second_time_round) is RUNNING


def test_a_window_wholly_inside_the_gap_does_not_run_that_day() -> None:
    value = "02:00-03:00 Europe/Berlin"
    assert events(value, "2026-03-28 12:00", "2026-03-30 12:00") == [
        start("2026-03-30 00:00"),
        stop("2026-03-30 01:00"),
    ]
    assert tl(value).desired_state(at("2026-03-29 01:00")) is STOPPED


def test_a_window_ending_in_the_repeat_ends_at_the_first_occurrence() -> None:
    # 00:00 CEST = 22:00Z the day before; 02:30 CEST (first) = 00:30Z.
    assert events("00:00-02:30 Europe/Berlin", "2026-10-24 12:00", "2026-10-25 12:00") == [
        start("2026-10-24 22:00"),
        stop("2026-10-25 00:30"),
    ]


def test_always_running_holds_across_daylight_saving() -> None:
    line = tl("Mon-Sun 00:00-24:00 Europe/Berlin")
    assert line.events_between(at("2026-03-28 00:00"), at("2026-03-30 00:00")) == []
    assert line.desired_state(at("2026-03-29 01:30")) is RUNNING


# --- windows --------------------------------------------------------------------------------


def test_an_overnight_window_runs_into_the_next_day() -> None:
    value = "Fri 22:00-02:00 UTC"
    assert events(value, "2026-03-02 00:00", "2026-03-09 00:00") == [
        start("2026-03-06 22:00"),
        stop("2026-03-07 02:00"),
    ]
    line = tl(value)
    assert line.desired_state(at("2026-03-06 21:59")) is STOPPED
    assert line.desired_state(at("2026-03-07 01:00")) is RUNNING
    assert line.desired_state(at("2026-03-07 03:00")) is STOPPED
    # The days name the day a range begins on: Thursday night is not Friday.
    assert line.desired_state(at("2026-03-06 01:00")) is STOPPED


def test_a_wrapping_day_range_runs_friday_to_monday() -> None:
    line = tl("Fri-Mon 09:00-17:00")
    noon = {day: line.desired_state(at(f"2026-03-{day:02d} 12:00")) for day in range(2, 9)}
    assert noon == {
        2: RUNNING,  # Monday
        3: STOPPED,
        4: STOPPED,
        5: STOPPED,
        6: RUNNING,  # Friday
        7: RUNNING,
        8: RUNNING,
    }


def test_touching_windows_merge_with_no_stop_and_start_where_they_meet() -> None:
    value = "08:00-12:00 12:00-18:00"
    assert events(value, "2026-03-02 00:00", "2026-03-03 00:00") == [
        start("2026-03-02 08:00"),
        stop("2026-03-02 18:00"),
    ]
    assert tl(value).desired_state(at("2026-03-02 12:00")) is RUNNING


def test_windows_touching_at_midnight_merge() -> None:
    assert events("Mon 20:00-24:00 Tue 00:00-06:00", "2026-03-02 00:00", "2026-03-04 00:00") == [
        start("2026-03-02 20:00"),
        stop("2026-03-03 06:00"),
    ]


def test_overlapping_windows_merge() -> None:
    assert events("08:00-14:00 10:00-18:00", "2026-03-02 00:00", "2026-03-03 00:00") == [
        start("2026-03-02 08:00"),
        stop("2026-03-02 18:00"),
    ]
    assert events(
        "Mon-Fri 08:00-18:00 Wed 17:00-20:00", "2026-03-04 00:00", "2026-03-05 00:00"
    ) == [
        start("2026-03-04 08:00"),
        stop("2026-03-04 20:00"),
    ]


def test_a_sunday_night_window_is_still_running_early_monday() -> None:
    line = tl("Sun 22:00-02:00")
    monday_one = at("2026-03-02 01:00")
    assert line.desired_state(monday_one) is RUNNING
    assert line.last_event(monday_one) == Event(Action.START, at("2026-03-01 22:00"))
    assert line.next_events(monday_one, 2) == [
        Event(Action.STOP, at("2026-03-02 02:00")),
        Event(Action.START, at("2026-03-08 22:00")),
    ]


def test_windows_touching_across_the_end_of_the_week_merge() -> None:
    assert events("Sun 22:00-24:00 Mon 00:00-06:00", "2026-03-01 00:00", "2026-03-03 00:00") == [
        start("2026-03-01 22:00"),
        stop("2026-03-02 06:00"),
    ]


def test_all_day_every_day_is_always_running_with_no_events() -> None:
    for value in ("00:00-24:00", "Mon-Sun 00:00-24:00", "Fri-Thu 12:00-12:01 12:01-12:00"):
        line = tl(value)
        assert line.desired_state(at("2026-03-02 12:00")) is RUNNING, value
        assert line.last_event(at("2026-03-02 12:00")) is None, value
        assert line.next_events(at("2026-03-02 12:00"), 5) == [], value
        assert line.events_between(at("2026-03-01 00:00"), at("2026-04-01 00:00")) == [], value


def test_all_day_but_one_minute_is_not_always_running() -> None:
    line = tl("00:00-23:59")
    assert line.desired_state(at("2026-03-02 23:59")) is STOPPED
    assert line.next_events(at("2026-03-02 12:00"), 2) == [
        Event(Action.STOP, at("2026-03-02 23:59")),
        Event(Action.START, at("2026-03-03 00:00")),
    ]


def test_the_default_timezone_applies_when_the_value_names_none() -> None:
    assert events("08:00-18:00", "2026-01-05 00:00", "2026-01-06 00:00", "Europe/Berlin") == [
        start("2026-01-05 07:00"),
        stop("2026-01-05 17:00"),
    ]
    assert events(
        "start=0 8 * * *", "2026-07-06 00:00", "2026-07-07 00:00", "America/New_York"
    ) == [start("2026-07-06 12:00")]
    # A zone in the value wins.
    assert events("08:00-18:00 UTC", "2026-01-05 00:00", "2026-01-06 00:00", "Europe/Berlin") == [
        start("2026-01-05 08:00"),
        stop("2026-01-05 18:00"),
    ]


# --- cron -----------------------------------------------------------------------------------


def test_cron_l_is_the_last_day_of_the_month() -> None:
    assert events("start=0 9 L * *", "2026-01-01 00:00", "2026-05-01 00:00") == [
        start("2026-01-31 09:00"),
        start("2026-02-28 09:00"),
        start("2026-03-31 09:00"),
        start("2026-04-30 09:00"),
    ]


def test_cron_hash_is_the_nth_weekday_of_the_month() -> None:
    assert events("start=0 9 * * mon#1", "2026-01-01 00:00", "2026-05-01 00:00") == [
        start("2026-01-05 09:00"),
        start("2026-02-02 09:00"),
        start("2026-03-02 09:00"),
        start("2026-04-06 09:00"),
    ]


def test_cron_names_for_days_and_months() -> None:
    value = "start=0 8 * * mon-fri; stop=0 18 * * MON-FRI"
    assert events(value, "2026-03-06 00:00", "2026-03-10 00:00") == [
        start("2026-03-06 08:00"),
        stop("2026-03-06 18:00"),
        start("2026-03-09 08:00"),
        stop("2026-03-09 18:00"),
    ]
    assert events("start=0 8 1 jan,jul *", "2026-01-01 00:00", "2027-06-01 00:00") == [
        start("2026-01-01 08:00"),
        start("2026-07-01 08:00"),
        start("2027-01-01 08:00"),
    ]


def test_stop_wins_when_a_start_and_a_stop_fire_at_the_same_instant() -> None:
    value = "start=0 9 * * *; stop=0 9 * * mon"
    assert events(value, "2026-03-01 00:00", "2026-03-03 12:00") == [
        start("2026-03-01 09:00"),
        stop("2026-03-02 09:00"),
        start("2026-03-03 09:00"),
    ]
    assert tl(value).desired_state(at("2026-03-02 09:00")) is STOPPED
    assert tl(value).desired_state(at("2026-03-02 12:00")) is STOPPED
    # The same with the stop written first.
    assert tl("stop=0 9 * * mon; start=0 9 * * *").desired_state(at("2026-03-02 10:00")) is STOPPED


def test_a_cron_schedule_with_no_event_in_the_year_before_has_no_opinion() -> None:
    line = tl("start=0 9 29 2 *")
    assert line.desired_state(at("2026-06-01 00:00")) is None
    assert line.last_event(at("2026-06-01 00:00")) is None
    assert line.next_events(at("2026-06-01 00:00"), 1) == [
        Event(Action.START, at("2028-02-29 09:00"))
    ]
    assert line.desired_state(at("2028-03-01 00:00")) is RUNNING


def test_a_yearly_cron_event_is_remembered_for_a_year() -> None:
    line = tl("stop=0 9 1 1 *")
    assert line.desired_state(at("2026-12-31 23:59")) is STOPPED
    assert line.last_event(at("2026-12-31 23:59")) == Event(Action.STOP, at("2026-01-01 09:00"))


def test_a_stop_only_schedule_never_asks_for_running() -> None:
    line = tl("stop=0 19 * * *")
    assert line.desired_state(at("2026-03-02 18:59")) is STOPPED
    assert {e.action.value for e in line.next_events(at("2026-03-02 18:59"), 5)} == {"stop"}


# --- last at or before, next strictly after -------------------------------------------------


def test_an_event_exactly_at_the_instant_is_the_last_not_a_next() -> None:
    line = tl("start=0 9 * * *; stop=0 17 * * *")
    nine = at("2026-03-02 09:00")
    assert line.last_event(nine) == Event(Action.START, nine)
    assert line.desired_state(nine) is RUNNING
    assert line.next_events(nine, 2) == [
        Event(Action.STOP, at("2026-03-02 17:00")),
        Event(Action.START, at("2026-03-03 09:00")),
    ]
    just_before = nine - timedelta(microseconds=1)
    assert line.next_events(just_before, 1) == [Event(Action.START, nine)]
    assert line.last_event(just_before) == Event(Action.STOP, at("2026-03-01 17:00"))


def test_window_edges_are_events_at_or_before_and_strictly_after_too() -> None:
    line = tl("Mon-Fri 08:00-18:00")
    eighteen = at("2026-03-02 18:00")
    assert line.desired_state(eighteen) is STOPPED
    assert line.desired_state(eighteen - timedelta(seconds=1)) is RUNNING
    assert line.next_events(eighteen, 1)[0].at == at("2026-03-03 08:00")


def test_events_between_is_open_below_and_closed_above() -> None:
    assert events("08:00-18:00", "2026-03-02 08:00", "2026-03-02 18:00") == [
        stop("2026-03-02 18:00")
    ]


def test_next_events_returns_as_many_as_asked() -> None:
    line = tl("Sat 10:00-11:00")
    found = line.next_events(at("2026-03-02 00:00"), 6)
    assert [e.at for e in found] == [
        at("2026-03-07 10:00"),
        at("2026-03-07 11:00"),
        at("2026-03-14 10:00"),
        at("2026-03-14 11:00"),
        at("2026-03-21 10:00"),
        at("2026-03-21 11:00"),
    ]
    assert line.next_events(at("2026-03-02 00:00"), 0) == []
