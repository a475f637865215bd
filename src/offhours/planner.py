"""The planner: instances + time + settings to decisions, each with a reason in plain words.

Reconcile rules (DESIGN §3). offhours acts at a schedule's events and, between them, leaves
instances as people left them. Let E be the schedule's latest event at or before the run's time,
and A the instant up to which offhours has handled the instance (its state tag):

- No A: the instance is adopted. A becomes the run's time and nothing else happens; its schedule
  takes over from its next event. (`enforce`, and the `converge` setting, act at once.)
- A state tag is believed only when it can be read, is not later than the run, and goes with
  the fingerprint of this instance and this value (or none, from an earlier version; see
  `offhours.state`). Otherwise the instance is adopted: a tag write never acts on the spot, be
  it a new value, a value restored after an opt-out, or tags copied from another instance. A
  state tag that lies (unreadable, or later than the run) is adopted with a warning.
- E later than A, or `enforce`: bring the instance to E's state (the desired state, for enforce).
  A becomes E once the instance is in that state, and only then.
- Otherwise nothing: a person who started or stopped it since A is respected until the next event.
- Missed runs are caught up by applying the latest event only.
- `pending`, `stopping` and `shutting-down` instances wait for the next run.
- Never touched: opted-out values, and whatever a resource kind's own rules leave alone, which
  its gateway gives as `Instance.skip_reason` (EC2: Auto Scaling members, one-time Spot
  instances, instance-store roots; RDS: read replicas, members of a cluster, engines that cannot
  be stopped). The planner knows no kind's rules. An invalid value leaves the instance alone and
  says why.
- RDS starts a database that has been stopped for seven days. A start by RDS after offhours
  last handled it (`Instance.auto_started`), while the schedule wants it stopped, is undone:
  it is stopped again, and A becomes the run's time. A start by a person is respected.
- Opted out, invalid, or the schedule tag gone: the state tag is removed, so that a value that
  comes back later is adopted. (Not when the catalogue could not be loaded: that is the run's
  trouble, not the value's.)

The planner is pure: no clock, no AWS. The service gathers the instances, the executor applies
the decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, TypedDict

from offhours.instance import SETTLED_STATES, TRANSITIONAL_STATES, Instance
from offhours.language import CatalogLike, is_opt_out, parse_schedule
from offhours.override import (
    DEFAULT_MAX_HOURS,
    Override,
    OverrideError,
    OverrideTooLong,
    parse_override,
)
from offhours.resources import hibernates, kind_words, service_of
from offhours.schedule import (
    MAX_EVENT_SKEW,
    Action,
    DesiredState,
    Event,
    Schedule,
    ScheduleError,
    iso,
)
from offhours.state import (
    fingerprint,
    found_off,
    handled_value,
    held_until,
    held_word,
    read_anchor,
    read_held,
    read_notice,
    read_off,
    says_fingerprinted,
    shown,
)
from offhours.timeline import timeline

# How long after a start event a stopped resource whose service undid the start
# (`Instance.start_undone`) is reported as a start that did not hold (then, a manual stop since
# the event is the likelier reading).
UNDONE_WINDOW = timedelta(hours=1)
# A state up to this much later than the run was written by a newer run (runs act on events
# within MAX_EVENT_SKEW of the clock, either way): this older run leaves the instance alone.
# Later than that, the state tag lies.
NEWER_RUN = 2 * MAX_EVENT_SKEW


class Step(StrEnum):
    """What the executor does for a decision."""

    START = "start"
    STOP = "stop"
    HIBERNATE = "hibernate"
    MARK = "mark"  # only record the state tag
    FORGET = "forget"  # remove the state tag (opted out, invalid, or no schedule tag)
    NONE = "none"


class Verdict(StrEnum):
    """How a decision counts in the run's summary when nothing goes wrong."""

    ACT = "act"
    ADOPT = "adopt"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    INVALID = "invalid"
    FAILED = "failed"


class Note(NamedTuple):
    """A warning in words, with its troubleshooting code (`offhours.codes`)."""

    code: str
    text: str


class _Warned(TypedDict):
    warning: str | None
    codes: tuple[str, ...]


def _warned(*notes: Note | None) -> _Warned:
    """A decision's `warning` and `codes`, from its notes (None: no note)."""
    found = [n for n in notes if n is not None]
    return {
        "warning": "; ".join(n.text for n in found) or None,
        "codes": tuple(n.code for n in found),
    }


def _with_note(decision: Decision, note: Note, override_clear: bool) -> Decision:
    """The decision with one more warning (and the override tag removed or not)."""
    warning = f"{decision.warning}; {note.text}" if decision.warning else note.text
    return replace(
        decision,
        warning=warning,
        codes=(*decision.codes, note.code),
        override_clear=override_clear,
    )


@dataclass(frozen=True)
class Settings:
    tag_key: str = "Schedule"
    default_timezone: str = "UTC"
    catalog: CatalogLike | None = None
    converge: bool = False
    # Why the deployment's catalogue could not be loaded this run, if it could not: named
    # schedules are then invalid, but their state tags are kept (the outage is not theirs).
    catalog_error: str | None = None
    max_override_hours: int = DEFAULT_MAX_HOURS
    notice_minutes: int = 0  # 0: no notice before a stop


@dataclass(frozen=True, slots=True)
class Decision:
    instance: Instance
    step: Step
    verdict: Verdict
    reason: str
    desired: DesiredState | None = None
    event: Event | None = None
    anchor: datetime | None = None  # A, to be written once the step has succeeded
    warning: str | None = None
    error_code: str | None = None
    override_pin: str | None = None  # the override tag's value, its instant pinned
    override_clear: bool = False  # the override is over: remove its tag
    notice: datetime | None = None  # the stop whose notice is due now
    notice_zone: str | None = None  # the zone that the notice speaks in
    held: str | None = None  # the override that the state tag records with A (`held_word`)
    # The troubleshooting codes (`offhours.codes`) of its warnings, in the order that `warning`
    # says them, or of why it is invalid or failed.
    codes: tuple[str, ...] = ()

    @property
    def off(self) -> bool:
        """The state written with A says that offhours keeps the instance stopped from A
        (`state.read_off`): A moves to an event (not an adoption's instant) whose state is
        stopped. Where A stays as it was found, so does the word (an earlier version's state
        tag is not rewritten for it)."""
        if self.anchor is None:
            return False
        handled = self.instance.handled
        if handled and read_anchor(handled)[0] == self.anchor:
            return read_off(handled)
        return self.verdict is not Verdict.ADOPT and self.desired is DesiredState.STOPPED

    @property
    def action(self) -> str:
        if self.verdict is Verdict.ADOPT:
            return "adopt"
        if self.step is Step.FORGET:
            return "forget"
        return self.step.value if self.step not in (Step.MARK, Step.NONE) else "none"

    @property
    def fingerprint_after(self) -> str | None:
        """The fingerprint to write with A, if it is not the instance's already (None)."""
        if self.anchor is None:
            return None
        i = self.instance
        if i.fingerprint_ok and not i.fingerprint_legacy:
            return None
        return fingerprint(i.identity or i.id, i.schedule)


@dataclass
class Plan:
    at: datetime
    decisions: list[Decision] = field(default_factory=list)


class Reading(NamedTuple):
    """What one tag value says at the run's time; worked out once per distinct value."""

    schedule: Schedule | None = None
    error: ScheduleError | None = None
    opt_out: bool = False
    event: Event | None = None
    desired: DesiredState | None = None
    event_text: str = ""
    next_text: str = ""
    # The error is not the value's own (the catalogue could not be loaded, or the run's time
    # cannot be evaluated): the state tag is kept.
    transient: bool = False
    next_stop: datetime | None = None  # worked out only when notices are on


def _unreadable(catalog: CatalogLike) -> bool:
    return getattr(catalog, "error", None) is not None


class _UnavailableCatalog:
    """Stands in for a catalogue that could not be loaded."""

    def __init__(self, error: str) -> None:
        self.error = error

    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        raise ValueError(f"the catalogue of named schedules cannot be read: {self.error}")

    def names(self) -> list[str]:
        return []

    def calendar(self, name: str) -> tuple[str, tuple[tuple[date, str], ...]] | None:
        raise ValueError(f"the catalogue of named schedules cannot be read: {self.error}")

    def calendars(self) -> list[str]:
        return []


class _Asked:
    """A catalogue that notes whether the parse asked it for a name."""

    def __init__(self, inner: CatalogLike) -> None:
        self.inner = inner
        self.asked = False

    def lookup(self, name: str) -> tuple[str, str, str | None] | None:
        self.asked = True
        return self.inner.lookup(name)

    def names(self) -> list[str]:
        return self.inner.names()

    def calendar(self, name: str) -> tuple[str, tuple[tuple[date, str], ...]] | None:
        self.asked = True
        return self.inner.calendar(name)

    def calendars(self) -> list[str]:
        return self.inner.calendars()


def read_value(value: str, at: datetime, settings: Settings) -> Reading:
    """One tag value at the run's time. Never raises: whatever goes wrong is the value's error."""
    if is_opt_out(value):
        return Reading(opt_out=True)
    inner: CatalogLike | None = settings.catalog
    if settings.catalog_error is not None:
        inner = _UnavailableCatalog(settings.catalog_error)
    catalog = _Asked(inner) if inner is not None else None
    try:
        schedule = parse_schedule(
            value, default_timezone=settings.default_timezone, catalog=catalog
        )
    except ScheduleError as exc:
        # Invalid because the catalogue could not be read, not because of the value itself:
        # the state tags are kept.
        transient = catalog is not None and catalog.asked and _unreadable(catalog.inner)
        if transient:
            exc.code = "OH-CATALOG-UNAVAILABLE"
        return Reading(error=exc, transient=transient)
    except Exception as exc:  # a parser bug must not stop the run for the others
        error = ScheduleError(
            f"cannot be read ({type(exc).__name__})", value, code="OH-INTERNAL-ERROR"
        )
        return Reading(error=error)
    try:
        tl = timeline(schedule)
        event, upcoming = tl.around(at, 1)
        # The desired state is the last event's; without one, running for a schedule that runs
        # all the time, else no opinion.
        if event is not None:
            desired: DesiredState | None = event.action.state
        else:
            desired = DesiredState.RUNNING if tl.always_running else None
    except Exception as exc:  # e.g. an instant at the edge of the calendar
        error = ScheduleError(
            f"cannot be evaluated at {at.isoformat()} ({type(exc).__name__}: {exc})",
            value,
            code="OH-INTERNAL-ERROR",
        )
        return Reading(error=error, transient=True)
    next_text = (
        f"the next event is a {upcoming[0].action.value} at {iso(upcoming[0].at)}"
        if upcoming
        else "no further event is scheduled"
    )
    event_text = f"{event.action.value} at {iso(event.at)}" if event else ""
    next_stop = None
    if settings.notice_minutes > 0:
        try:
            horizon = at + timedelta(minutes=settings.notice_minutes)
            next_stop = tl.next_stop(at, horizon)  # found directly: bounded however dense
        except Exception:  # a notice is a courtesy: never a reason to fail the value
            next_stop = None
    return Reading(schedule, None, False, event, desired, event_text, next_text, False, next_stop)


def _step_for(
    target: DesiredState, instance: Instance, schedule: Schedule | None
) -> tuple[Step, Note | None]:
    if target is DesiredState.RUNNING:
        return Step.START, None
    if schedule is not None and schedule.hibernate:
        if not hibernates(instance.resource_type):
            return Step.STOP, Note(
                "OH-HIBERNATE-UNSUPPORTED",
                f"the schedule says hibernate, which means nothing for a {_kind(instance)}: "
                "stopping it plainly",
            )
        if instance.hibernation_configured:
            return Step.HIBERNATE, None
        return Step.STOP, Note(
            "OH-HIBERNATE-UNCONFIGURED",
            "the schedule says hibernate, but the instance is not configured for hibernation: "
            "stopping it plainly",
        )
    return Step.STOP, None


def _trust(instance: Instance, at: datetime) -> tuple[datetime | None, str, Note | None, bool]:
    """A, if the state tags may be believed; else why not (in words), and a warning for the
    state tags that lie (unreadable, or far later than the run). The last item says that a
    newer run has handled the instance already: A is a little later than this run."""
    raw = instance.handled
    if raw is None:
        return None, "newly seen", None, False
    anchor, problem = read_anchor(raw)
    if anchor is None:
        text = f"its state tag {shown(raw)} cannot be read ({problem}), so it is not trusted"
        return None, text, Note("OH-STATE-UNTRUSTED", text), False
    if anchor > at:
        if anchor - at <= NEWER_RUN:
            return anchor, "", None, True
        text = (
            f"its state tag says it was handled up to {iso(anchor)}, later than this run "
            f"({iso(at)}), so it is not trusted"
        )
        return None, text, Note("OH-STATE-UNTRUSTED", text), False
    found = instance.fingerprint
    if found is not None and not instance.fingerprint_ok:
        return (
            None,
            f"its state tags were written for another schedule value or another instance "
            f"(fingerprint {shown(found, 20)}: the value changed, or tags were copied at launch)",
            None,
            False,
        )
    if found is None and says_fingerprinted(raw):
        text = (
            f"its state tag {shown(raw)} says a fingerprint tag goes with it, and there is none "
            "(removed, or tags copied in part), so it is not trusted"
        )
        return None, text, Note("OH-STATE-UNTRUSTED", text), False
    if _predates(instance, anchor, at):
        assert instance.created is not None
        return (
            None,
            (
                f"its state tag says it was handled up to {iso(anchor)}, before it was created "
                f"({iso(instance.created)}): the state tags came with tags copied from another "
                "resource (a restore, a launch template), so they are not trusted"
            ),
            None,
            False,
        )
    return anchor, "", None, False


def _predates(instance: Instance, anchor: datetime | None, at: datetime) -> bool:
    """A state tag not bound to its resource by a fingerprint of today's kind (none: an earlier
    version's; or one naming an RDS resource by its ARN) whose A is before the resource was
    created: it was written for another resource and copied (a restore under the old name, a
    launch template, an AMI's tags). offhours' own adoption writes a fingerprint with A, so a
    state of its own that no fingerprint binds was written before this version, for a resource
    that existed then. A creation time after the run's time says nothing (AWS's clock and the
    run's disagree, or the run is a simulation of the past)."""
    created = instance.created
    return (
        anchor is not None
        and created is not None
        and (instance.fingerprint is None or instance.fingerprint_legacy)
        and anchor < created
        and created <= at + MAX_EVENT_SKEW
    )


def _left_alone(
    instance: Instance, verdict: Verdict, reason: str, forget: bool, codes: tuple[str, ...] = ()
) -> Decision:
    if forget and (instance.handled is not None or instance.fingerprint is not None):
        return Decision(
            instance,
            Step.FORGET,
            verdict,
            f"{reason}; its state tags are removed, so a schedule given later is adopted",
            codes=codes,
        )
    return Decision(instance, Step.NONE, verdict, reason, codes=codes)


def _error_code(r: Reading) -> str:
    """The troubleshooting code of why the value is not a schedule."""
    return r.error.code if r.error is not None else "OH-VALUE-INVALID"


def decide(
    instance: Instance, at: datetime, settings: Settings, reading: Reading | None = None
) -> Decision:
    """The decision for one instance at the run's time `at` (aware UTC): its override's, if it
    has one that can be used, else its schedule's; and the notice of a stop that is near."""
    r = reading if reading is not None else read_value(instance.schedule, at, settings)
    override, problem, remove = _read_override(instance, at, settings, r)
    if override is not None:
        decision = _decide_override(instance, at, settings, r, override)
    elif (hold := _hold_cancelled(instance, at)) is not None:
        decision = _end_of_hold(instance, at, r, hold, clear=False)
    else:
        decision = _decide_schedule(instance, at, settings, r)
        if problem is not None:
            remove = remove and _never_touched(instance) is None
            decision = _with_note(decision, problem, remove)
    if settings.notice_minutes > 0:
        decision = _with_notice(decision, at, settings, r, override)
    if (
        decision.verdict is Verdict.UNCHANGED
        and is_quiet(decision)
        and (anchor := _first_fingerprint_due(instance, at, r)) is not None
    ):
        decision = replace(decision, step=Step.MARK, anchor=anchor)
    return decision


def _first_fingerprint_due(instance: Instance, at: datetime, r: Reading) -> datetime | None:
    """A, when the instance's state tag is believed and plain (no notice remembered in it) but
    its fingerprint tag was never written: adopted in a run whose time or rate limits ran out
    before its fingerprint (background work), or handled by an earlier version. Its decision
    is then to record A as it is (no call: it holds already) and, as background work, the
    fingerprint, so that deferred fingerprints are finished by the next runs."""
    if (
        instance.fingerprint is not None
        or instance.untagged
        or instance.override is not None
        or instance.skip_reason is not None
        or r.opt_out
        or r.schedule is None
        or instance.handled is None
    ):
        return None
    handled, _, _, newer = _trust(instance, at)
    if handled is None or newer:
        return None
    if handled_value(handled, None, False, None, found_off(instance.handled)) != instance.handled:
        return None
    return handled


def _kind(instance: Instance) -> str:
    """What the resource is, in words."""
    return kind_words(instance.resource_type)


def _never_touched(instance: Instance) -> Decision | None:
    """The reasons offhours never touches an instance (its kind's rules, which its gateway
    gives as `skip_reason`: an Auto Scaling member, a one-time Spot instance, a read replica…),
    and instances that must settle first."""
    if instance.skip_reason is not None:
        return Decision(instance, Step.NONE, Verdict.SKIPPED, instance.skip_reason)
    if instance.state in TRANSITIONAL_STATES:
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            f"{instance.state}: waits for the next run to settle",
        )
    if instance.state not in SETTLED_STATES:
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            (
                f"its status is {instance.state!r}: offhours starts or stops it only from "
                "available or stopped, so it waits for the next run"
            ),
        )
    return None


def _hold_cancelled(instance: Instance, at: datetime) -> str | None:
    """Why the override that offhours holds is over before its end: its tag was removed (or
    can no longer be read). None where offhours holds none, or its state is not trusted."""
    if instance.override is not None and not instance.untagged:
        return None  # an override that cannot be used is a warning; its hold is decided there
    recorded = read_held(instance.handled)
    if recorded is None or _never_touched(instance) is not None:
        return None
    handled, _, _, newer = _trust(instance, at)
    if handled is None or newer:
        return None
    return f"the override that offhours held until {recorded.removeprefix('held=')} was removed"


def _override_zone(r: Reading, settings: Settings) -> str:
    return r.schedule.timezone if r.schedule is not None else settings.default_timezone


def _read_override(
    instance: Instance, at: datetime, settings: Settings, r: Reading
) -> tuple[Override | None, Note | None, bool]:
    """The instance's override, or why it is ignored (None, None: it has none), and whether
    its tag is to be removed: one beyond MaxOverrideHours would take effect by itself later,
    once its end came within the limit."""
    if instance.override is None:
        return None, None, False
    value = shown(instance.override)
    if instance.untagged:
        return (
            None,
            Note(
                "OH-OVERRIDE-UNTAGGED",
                f"its override {value} is ignored: the schedule tag is gone, and offhours acts "
                "only on instances that carry it",
            ),
            False,
        )
    try:
        zone_name = _override_zone(r, settings)
        override = parse_override(instance.override, zone_name, at, settings.max_override_hours)
        return override, None, False
    except OverrideTooLong as exc:
        # Removed only when the limit is surely passed: measured from the run's time, which
        # may be up to 15 minutes before the clock that `offhours override` checked it with,
        # and in the schedule's own zone (not the default zone that stands in for it while the
        # catalogue cannot be read).
        sure = exc.until - at > timedelta(hours=settings.max_override_hours) + MAX_EVENT_SKEW
        if sure and (r.schedule is not None or r.opt_out):
            return None, Note(exc.code, f"its override {value} is ignored and removed: {exc}"), True
        return None, Note(exc.code, f"its override {value} is ignored: {exc}"), False
    except OverrideError as exc:
        return None, Note(exc.code, f"its override {value} is ignored: {exc}"), False
    except Exception as exc:  # a bad tag never stops the run
        why = f"its override {value} is ignored ({type(exc).__name__}: {exc})"
        return None, Note("OH-OVERRIDE-INVALID", why), False


def _decide_override(
    instance: Instance, at: datetime, settings: Settings, r: Reading, override: Override
) -> Decision:
    """A person's override (DESIGN §7): held until its instant, whatever the schedule says;
    then the schedule's desired state applies, and the override tag goes. It acts only as
    offhours' own record says: on an instance whose state tags it trusts, a new override is a
    request, acted on at once and recorded (`held=<end>`); one that comes with an instance
    offhours has no trusted record of (first seen, tags copied at launch) is recorded and held
    from the next run, never acted on in the run that finds it; and its end acts only where
    the state tag says that offhours held it. An override over before offhours held it
    (copied, or left behind after its end was applied) loses its tag, and the schedule
    decides as if it had never been there."""
    waiting = _never_touched(instance)
    if waiting is not None:
        return waiting
    zone_name = _override_zone(r, settings)
    current = DesiredState.RUNNING if instance.state == "running" else DesiredState.STOPPED
    handled, why_not, distrust, newer = _trust(instance, at)
    recorded = read_held(instance.handled) if handled is not None else None
    held_end = held_until(recorded)
    if held_end is not None and held_end <= at and override.pinned is not None:
        # A time without a date ("until 22:00") whose instant was never written back is read
        # anew at every run: read from just before the end that offhours holds, it is that
        # override, over (not tomorrow's 22:00).
        try:
            before = parse_override(
                instance.override or "",
                zone_name,
                held_end - timedelta(seconds=1),
                settings.max_override_hours,
            )
            if before.until == held_end:
                override = Override(override.state, held_end, None)
        except Exception:
            pass
    held = held_word(override.until)
    if override.until > at:
        reason = f"override by tag {override.describe(zone_name)}: {override.state.value}"
        if newer and handled is not None:
            return Decision(
                instance,
                Step.NONE,
                Verdict.UNCHANGED,
                f"{reason}; a newer run has handled it already (up to {iso(handled)})",
                override.state,
                held=recorded,
            )
        if handled is None:  # no record of its own: adopted with the override, held from now
            return Decision(
                instance,
                Step.MARK,
                Verdict.ADOPT,
                (
                    f"{why_not}, with an {reason}: adopted without starting or stopping it; "
                    "offhours holds the override from the next run, and its end applies the "
                    "schedule"
                ),
                override.state,
                None,
                at,
                override_pin=override.pinned,
                held=held,
                **_warned(distrust),
            )
        if current is not override.state:
            step, warning = _step_for(override.state, instance, r.schedule)
            return Decision(
                instance,
                step,
                Verdict.ACT,
                reason,
                override.state,
                None,
                at,
                override_pin=override.pinned,
                held=held,
                **_warned(warning),
            )
        return Decision(
            instance,
            Step.NONE if recorded == held else Step.MARK,
            Verdict.UNCHANGED,
            f"{reason}, as it is",
            override.state,
            None,
            handled,
            override_pin=override.pinned,
            held=held,
        )
    ended = f"override by tag ended at {iso(override.until)}"
    if recorded is None:  # never held by offhours: it never acts
        decision = _decide_schedule(instance, at, settings, r)
        why = (
            "before offhours held it (it came with tags copied at launch, or its end was "
            "applied already), so it is removed and never acts"
        )
        return replace(
            decision,
            reason=f"{ended} {why}; {decision.reason}",
            override_clear=True,
        )
    if recorded != held:  # the person shortened the override that offhours held: it is over
        ended = f"{ended} (offhours held it until {iso(held_end) if held_end else '?'})"
    return _end_of_hold(instance, at, r, ended, clear=True)


def _end_of_hold(
    instance: Instance, at: datetime, r: Reading, ended: str, *, clear: bool
) -> Decision:
    """The end of an override that offhours held: the schedule's desired state applies (the
    state tag keeps no `held=` after it), and the override tag goes (`clear`)."""
    handled = read_anchor(instance.handled)[0] if instance.handled else None
    current = DesiredState.RUNNING if instance.state == "running" else DesiredState.STOPPED
    desired = r.desired if r.schedule is not None else None
    if desired is None:
        if r.opt_out:
            verdict, why, forget = Verdict.SKIPPED, "the tag value opts it out", True
        elif r.schedule is None:
            verdict, why = Verdict.INVALID, f"its schedule is invalid ({r.error})"
            forget = not r.transient
        else:
            verdict, why, forget = Verdict.UNCHANGED, "its schedule has no opinion yet", False
        return Decision(
            instance,
            Step.FORGET if forget else Step.MARK,
            verdict,
            f"{ended}; {why}, so it is left as it is",
            anchor=None if forget else handled,
            override_clear=clear,
            codes=(_error_code(r),) if verdict is Verdict.INVALID else (),
        )
    if current is not desired:
        step, warning = _step_for(desired, instance, r.schedule)
        return Decision(
            instance,
            step,
            Verdict.ACT,
            f"{ended}: the schedule wants it {desired.value}",
            desired,
            r.event,
            at,
            override_clear=clear,
            **_warned(warning),
        )
    return Decision(
        instance,
        Step.MARK,
        Verdict.UNCHANGED,
        f"{ended}: already {instance.state}, as the schedule wants",
        desired,
        r.event,
        at,
        override_clear=clear,
    )


def _with_notice(
    d: Decision, at: datetime, settings: Settings, r: Reading, override: Override | None
) -> Decision:
    """The decision, with the notice of a stop that falls within NoticeMinutes of the run, for
    a running instance that this run does not stop; once per stop (the state tag remembers).
    No notice for what offhours never stops (skipped: never touched, opted out, untagged) or
    cannot read (invalid): no stop is pending there."""
    if d.instance.state != "running" or d.step in (Step.START, Step.STOP, Step.HIBERNATE):
        return d
    if d.verdict in (Verdict.SKIPPED, Verdict.INVALID):
        return d
    window = timedelta(minutes=settings.notice_minutes)
    stop: datetime | None = None
    if override is not None and override.until > at:
        if (
            override.state is DesiredState.RUNNING
            and r.schedule is not None
            and override.until - at <= window
            and _stopped_at(r.schedule, override.until)
        ):
            stop = override.until
    else:
        stop = r.next_stop
    if stop is None or not _notice_due(d.instance, stop, at, settings):
        return d
    return replace(d, notice=stop, notice_zone=_override_zone(r, settings))


def _notice_due(instance: Instance, stop: datetime, at: datetime, settings: Settings) -> bool:
    """The stop falls within NoticeMinutes of the run, and its notice was not sent yet (as a
    state tag that is this instance's own says: a `notice=` word copied with another
    instance's tags does not count)."""
    window = timedelta(minutes=settings.notice_minutes)
    if not at < stop <= at + window:
        return False
    if read_notice(instance.handled) != iso(stop):
        return True
    return _trust(instance, at)[0] is None


def _stopped_at(schedule: Schedule, at: datetime) -> bool:
    last, _ = timeline(schedule).around(at, 0)
    return last is not None and last.action is Action.STOP


def _decide_schedule(instance: Instance, at: datetime, settings: Settings, r: Reading) -> Decision:
    """The decision that the schedule (and the state tags) make."""
    if instance.untagged:
        return _left_alone(
            instance, Verdict.SKIPPED, "its schedule tag is gone: offhours leaves it alone", True
        )
    if r.opt_out:
        return _left_alone(
            instance,
            Verdict.SKIPPED,
            "opted out: the tag value says "
            f"{instance.schedule.strip() or '(empty)'!r}, so offhours leaves it alone",
            True,
        )
    if r.schedule is None:
        return _left_alone(
            instance,
            Verdict.INVALID,
            f"invalid schedule, left untouched: {r.error}",
            not r.transient,
            (_error_code(r),),
        )
    schedule = r.schedule
    waiting = _never_touched(instance)
    if waiting is not None:
        return waiting

    event, desired = r.event, r.desired
    handled, why_not, distrust, newer = _trust(instance, at)
    if newer and handled is not None:
        return Decision(
            instance,
            Step.NONE,
            Verdict.UNCHANGED,
            (
                f"a newer run has handled it already (up to {iso(handled)}); this run, of "
                f"{iso(at)}, leaves it alone"
            ),
            desired,
            event,
        )
    enforce = schedule.enforce or settings.converge
    current = DesiredState.RUNNING if instance.state == "running" else DesiredState.STOPPED

    if enforce and desired is not None:
        # With no event (a schedule that runs all the time), A only needs to exist.
        anchor = event.at if event is not None else (handled or at)
        word = "enforce" if schedule.enforce else "converge"
        if current is desired:
            step = Step.MARK if handled is None or handled < anchor else Step.NONE
            return Decision(
                instance,
                step,
                Verdict.UNCHANGED,
                f"already {instance.state}, as the schedule wants ({word})",
                desired,
                event,
                anchor,
                **_warned(distrust),
            )
        step, warning = _step_for(desired, instance, schedule)
        return Decision(
            instance,
            step,
            Verdict.ACT,
            (f"{word}: the schedule wants it {desired.value} and it is {instance.state}"),
            desired,
            event,
            anchor,
            **_warned(distrust, warning),
        )

    if handled is None:
        return Decision(
            instance,
            Step.MARK,
            Verdict.ADOPT,
            (
                f"{why_not}: adopted without starting or stopping it; the schedule takes "
                f"over from its next event ({r.next_text})"
            ),
            desired,
            event,
            at,
            **_warned(distrust),
        )

    if event is None:
        return Decision(
            instance,
            Step.NONE,
            Verdict.UNCHANGED,
            (f"the schedule has had no event yet: {r.next_text}"),
            desired,
            None,
        )

    if event.at > handled:
        target = desired
        assert target is not None  # the state of the last event
        if current is target:
            return Decision(
                instance,
                Step.MARK,
                Verdict.UNCHANGED,
                (f"already {instance.state}, as the {r.event_text} wants"),
                desired,
                event,
                event.at,
            )
        step, warning = _step_for(target, instance, schedule)
        return Decision(
            instance,
            step,
            Verdict.ACT,
            f"the schedule's {r.event_text} applies",
            desired,
            event,
            event.at,
            **_warned(warning),
        )

    if (
        instance.auto_started is not None
        and instance.auto_started > handled
        and desired is DesiredState.STOPPED
        and current is DesiredState.RUNNING
    ):
        step, warning = _step_for(DesiredState.STOPPED, instance, schedule)
        return Decision(
            instance,
            step,
            Verdict.ACT,
            (
                f"{service_of(instance.resource_type)} started it on its own at "
                f"{iso(instance.auto_started)}, as it does to a "
                f"{_kind(instance)} stopped for seven days; stopped again, as the "
                f"{r.event_text} wants"
            ),
            desired,
            event,
            at,
            **_warned(warning),
        )

    if (
        event.action is Action.START
        and current is DesiredState.STOPPED
        and instance.start_undone is not None
        and at - event.at <= UNDONE_WINDOW
    ):
        return Decision(
            instance,
            Step.NONE,
            Verdict.FAILED,
            (f"the {r.event_text} did not hold: {instance.start_undone}"),
            desired,
            event,
            error_code=instance.state_reason or "StartUndone",
            codes=("OH-START-UNDONE",),
        )

    if current is desired:
        return Decision(
            instance,
            Step.NONE,
            Verdict.UNCHANGED,
            (f"{instance.state}, as the {r.event_text} wants"),
            desired,
            event,
        )
    return Decision(
        instance,
        Step.NONE,
        Verdict.UNCHANGED,
        (
            f"respected a manual change: {instance.state} by hand since the {r.event_text}; "
            f"left so until the next event ({r.next_text})"
        ),
        desired,
        event,
    )


def needs_details(instance: Instance, at: datetime, settings: Settings, reading: Reading) -> bool:
    """Whether the decision for an instance known only by its tags (value, state tags) depends
    on anything else: its state, the reasons it is never touched, and so on. When it does not,
    the decision is "nothing to do, nothing to say" (a DEBUG line) whatever those are: the run
    need not read the instance (`offhours.service`); a test checks this against `decide`. A
    first fingerprint still to write (`_first_fingerprint_due`) is something to do."""
    return _needs_details(instance, at, settings, reading) or (
        _first_fingerprint_due(instance, at, reading) is not None
    )


def _needs_details(instance: Instance, at: datetime, settings: Settings, reading: Reading) -> bool:
    if instance.override is not None:
        return True  # a person's request: it may act, and it is always said
    if read_held(instance.handled) is not None:
        return True  # an override that offhours held, its tag removed: its end may act
    if instance.skip_reason is not None and not instance.untagged and not reading.opt_out:
        return reading.schedule is None  # never touched: a quiet skip, and no notice
    stop = reading.next_stop
    if (
        settings.notice_minutes > 0
        and not instance.untagged
        and stop is not None
        and _notice_due(instance, stop, at, settings)
    ):
        return True  # a notice to put: said at INFO, so the instance is read
    if instance.untagged:
        return instance.handled is not None or instance.fingerprint is not None
    if reading.opt_out:
        return instance.handled is not None or instance.fingerprint is not None
    schedule = reading.schedule
    if schedule is None:
        return True
    if schedule.enforce or settings.converge:
        return True
    handled, _, _, newer = _trust(instance, at)
    if newer:
        return False
    if handled is None:
        return True
    event = reading.event
    if event is None:
        return False
    if event.at > handled:
        return True
    if (
        instance.auto_started is not None
        and instance.auto_started > handled
        and reading.desired is DesiredState.STOPPED
    ):
        return True  # RDS started it after seven days stopped: it may need stopping again
    # A start that the service undid (its gateway says so, `Instance.start_undone`: EC2's finds
    # those instances with one filtered listing) is a failure to report within the hour after
    # the start.
    return (
        event.action is Action.START
        and at - event.at <= UNDONE_WINDOW
        and instance.start_undone is not None
    )


def plan(instances: Iterable[Instance], at: datetime, settings: Settings) -> Plan:
    """Decisions for every instance. One bad tag never stops the others."""
    return Plan(at, list(decide_all(instances, at, settings)))


def decide_all(
    instances: Iterable[Instance],
    at: datetime,
    settings: Settings,
    readings: dict[str, Reading] | None = None,
) -> Iterator[Decision]:
    """A decision for each instance, in order, as they arrive (decided once per group of
    instances alike: see `plan_groups`)."""
    decider = _Decider(at, settings, readings)
    for instance in instances:
        first, _ = decider.first_of_group(instance)
        yield first if instance is first.instance else replace(first, instance=instance)


@dataclass(slots=True)
class Group:
    """Instances whose decision is the same: `decision` is the first one's; `members` are all of
    them (None for a group of quiet decisions when they are only counted)."""

    decision: Decision
    count: int = 0
    members: list[Instance] | None = None

    @property
    def quiet(self) -> bool:
        return is_quiet(self.decision)

    def decisions(self) -> Iterator[Decision]:
        first = self.decision
        for instance in self.members or ():
            yield first if instance is first.instance else replace(first, instance=instance)


def is_quiet(decision: Decision) -> bool:
    """Nothing to do and nothing to say: a DEBUG line."""
    return (
        decision.step is Step.NONE
        and decision.verdict in (Verdict.UNCHANGED, Verdict.SKIPPED)
        and _says_nothing(decision)
    )


def records_fingerprint_only(decision: Decision) -> bool:
    """The decision only records A as it already is, for its first fingerprint to follow
    (`_first_fingerprint_due`): background work, nothing to say either (a DEBUG line)."""
    handled = decision.instance.handled
    return (
        decision.step is Step.MARK
        and decision.verdict is Verdict.UNCHANGED
        and _says_nothing(decision)
        and handled is not None
        and decision.anchor == read_anchor(handled)[0]
    )


def _says_nothing(decision: Decision) -> bool:
    """No warning, no override to pin or clear, no notice, no person's request."""
    return (
        decision.warning is None
        and decision.override_pin is None
        and not decision.override_clear
        and decision.notice is None
        and decision.instance.override is None
    )


def _group_key(i: Instance) -> tuple[object, ...]:
    """What an instance's decision depends on, besides the run's time and the settings. The
    fingerprint is the one per-instance fact: it enters as whether it matches (worked out when
    the instance was read), or as itself where it does not (the reason quotes it)."""
    ok = i.fingerprint_ok
    return (
        i.schedule,
        i.handled,
        ok if ok is not False else i.fingerprint,
        # A state not bound by a fingerprint of today's kind is judged by the resource's
        # creation time too (`_predates`); an earlier version's fingerprint otherwise decides
        # as a matching one does (only what is written differs, per instance).
        i.created
        if i.created is not None and (i.fingerprint is None or i.fingerprint_legacy)
        else None,
        i.state,
        i.start_undone,
        i.hibernation_configured,
        i.untagged,
        i.override,
        i.resource_type,
        i.skip_reason,
        i.auto_started,
    )


class _Decider:
    """Decides once per group of instances alike, and each distinct tag value once."""

    def __init__(
        self, at: datetime, settings: Settings, readings: dict[str, Reading] | None
    ) -> None:
        self.at = at
        self.settings = settings
        self.readings = {} if readings is None else readings
        self.decided: dict[tuple[object, ...], Decision] = {}

    def first_of_group(self, instance: Instance) -> tuple[Decision, tuple[object, ...] | None]:
        """The decision of the first instance of the group (and the group's key); an
        unforeseen error is this instance's failed decision, with no group."""
        try:
            key = _group_key(instance)
            decision = self.decided.get(key)
            if decision is None:
                reading = self.readings.get(instance.schedule)
                if reading is None:
                    reading = read_value(instance.schedule, self.at, self.settings)
                    self.readings[instance.schedule] = reading
                decision = self.decided[key] = decide(instance, self.at, self.settings, reading)
            return decision, key
        except Exception as exc:
            failed = Decision(
                instance,
                Step.NONE,
                Verdict.FAILED,
                f"could not be decided, left untouched ({type(exc).__name__}: {exc})",
                error_code="InternalError",
                codes=("OH-INTERNAL-ERROR",),
            )
            return failed, None


def plan_groups(
    instances: Iterable[Instance],
    at: datetime,
    settings: Settings,
    readings: dict[str, Reading] | None = None,
    *,
    keep_quiet: bool = False,
) -> list[Group]:
    """Decisions by group: instances are grouped by what their decision depends on (value,
    state tags, state, the reasons they are never touched), and each group is decided once.
    A fleet has far fewer groups than instances (the instances of one value are handled at the
    same events), so the cost per instance is a key and a dict lookup. Quiet groups (nothing to
    do, nothing to say) keep only their count unless `keep_quiet`.

    Each distinct tag value is read once (`readings` keeps them across calls of one run).
    Whatever one instance's tags hold, the others are decided: an unforeseen error is that
    instance's failure, never the run's."""
    decider = _Decider(at, settings, readings)
    groups: dict[tuple[object, ...], Group] = {}
    out: list[Group] = []
    for instance in instances:
        try:
            group = groups.get(_group_key(instance))
        except Exception:
            group = None
        if group is None:
            first, key = decider.first_of_group(instance)
            group = groups.get(key) if key is not None else None
            if group is None:
                keep = keep_quiet or not is_quiet(first)
                group = Group(first, 0, [] if keep else None)
                out.append(group)
                if key is not None:
                    groups[key] = group
        group.count += 1
        if group.members is not None:
            group.members.append(instance)
    return out
