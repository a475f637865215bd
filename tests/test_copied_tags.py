"""A property (issue 17): for any set of tags copied onto a new instance (schedule, state,
fingerprint, override, in any combination and any age), the first run after the copy neither
starts nor stops it (DESIGN §3: a copied or stale tag never acts on the spot). Through the real
handler against the local endpoint, at the real clock's time, so that the instance was created
before the run as on AWS."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from offhours.schedule import iso
from offhours.state import fingerprint
from tests.harness import scheduled_event

KEY = "Schedule"
HANDLED = "Schedule:offhours-handled"
FP = "Schedule:offhours-fingerprint"
OVERRIDE = "Schedule:override"
SOURCE = "i-0123456789abcdef0"  # the instance the tags were copied from

NOW = datetime.now(UTC).replace(microsecond=0)
STOP = (NOW - timedelta(minutes=2)).replace(second=0)
START = (NOW - timedelta(minutes=3)).replace(second=0)
# Values whose last event was moments ago (a stop, a start), one that always runs, one that
# never starts, an invalid one and an opt-out. `enforce` is not among them: it acts at once
# by design (DESIGN §3), copied or not.
VALUES = [
    f"stop={STOP.minute} {STOP.hour} * * *; tz=UTC",
    f"start={START.minute} {START.hour} * * *; tz=UTC",
    "00:00-24:00 UTC",
    f"start=0 0 1 1 *; stop={STOP.minute} {STOP.hour} * * *",
    "Mon-Fri 25:00-26:00",
    "off",
]


@st.composite
def state_tags(draw: st.DrawFn, value: str) -> dict[str, str]:
    """What another instance's state tags may hold, of any age, or anything at all."""
    tags: dict[str, str] = {}
    if draw(st.booleans()):
        minutes = draw(st.integers(min_value=-120, max_value=60 * 24 * 60))
        words = [iso(NOW - timedelta(minutes=max(minutes, 1) if minutes >= 0 else minutes))]
        if draw(st.booleans()):
            words.append("fp")
        if draw(st.booleans()):
            words.append(f"notice={iso(STOP)}")
        if draw(st.booleans()):
            ends = NOW + timedelta(minutes=draw(st.integers(min_value=-600, max_value=600)))
            words.append(f"held={iso(ends)}")
        tags[HANDLED] = draw(st.sampled_from([" ".join(words), "garbage", ""]))
    kind = draw(st.sampled_from(["none", "entry", "shared", "legacy", "garbage"]))
    if kind == "entry":
        tags[FP] = fingerprint(SOURCE, value)
    elif kind == "shared":
        tags[FP] = "".join(fingerprint(f"i-{k:017x}", value) for k in range(5))
    elif kind == "legacy":
        tags[FP] = format(zlib.crc32(f"{SOURCE}\n{value}".encode()), "08x")
    elif kind == "garbage":
        tags[FP] = draw(st.text(alphabet="abcdef0123456789xyz", min_size=1, max_size=12))
    return tags


@st.composite
def overrides(draw: st.DrawFn) -> dict[str, str]:
    if not draw(st.booleans()):
        return {}
    state = draw(st.sampled_from(["running", "stopped"]))
    if draw(st.booleans()):
        minutes = draw(st.integers(min_value=-60 * 24 * 400, max_value=60 * 24 * 7))
        until = (NOW + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M+00:00")
    else:
        clock = NOW + timedelta(minutes=draw(st.integers(min_value=1, max_value=60 * 23)))
        until = f"{clock:%H:%M}"
    return {OVERRIDE: f"{state} until {until}"}


@st.composite
def copies(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    value = draw(st.sampled_from(VALUES))
    tags: dict[str, str] = {}
    if draw(st.booleans()):
        tags[KEY] = value
    tags.update(draw(state_tags(value)))
    tags.update(draw(overrides()))
    if KEY not in tags and draw(st.booleans()):
        tags[KEY] = value
    return tags, draw(st.sampled_from(["running", "stopped"]))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(copy=copies())
def test_the_first_run_after_a_copy_neither_starts_nor_stops_the_instance(
    fleet: Any, invoke: Any, copy: tuple[dict[str, str], str]
) -> None:
    tags, state = copy
    iid = fleet.one(None, name="copy", tags=tags, state=state)
    when = datetime.now(UTC).replace(microsecond=0)  # the tags' ages are counted from NOW
    run = invoke(scheduled_event(time=iso(when), id=f"run-{iid}"), now=when)
    assert run.error is None
    assert fleet.state(iid) == state, (tags, run.decisions.get(iid))
    line = run.decisions.get(iid)
    assert line is None or line["action"] not in ("start", "stop", "hibernate"), line
