"""The planner: instances + time + settings to decisions, each with a reason in plain words.

Reconcile rules (DESIGN §3). offhours acts at a schedule's events and, between them, leaves
instances as people left them. Let E be the schedule's latest event at or before the run's time,
and A the instant up to which offhours has handled the instance (its state tag):

- No A: the instance is adopted. A becomes the run's time and nothing else happens; its schedule
  takes over from its next event. (`enforce`, and the `converge` setting, act at once.)
- E later than A, or `enforce`: bring the instance to E's state (the desired state, for enforce).
  A becomes E once the instance is in that state, and only then.
- Otherwise nothing: a person who started or stopped it since A is respected until the next event.
- Missed runs are caught up by applying the latest event only.
- `pending`, `stopping` and `shutting-down` instances wait for the next run.
- Never touched: Auto Scaling members, one-time Spot instances, instance-store roots, opted-out
  values. An invalid value leaves the instance alone and says why.

The planner is pure: no clock, no AWS. The service gathers the instances, the executor applies
the decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from offhours.instance import TRANSITIONAL_STATES, Instance, parse_anchor
from offhours.language import CatalogLike, is_opt_out, parse_schedule
from offhours.schedule import Action, DesiredState, Event, Schedule, ScheduleError, iso
from offhours.timeline import timeline

KMS_HINT = (
    "EC2 stopped it again with Client.InternalError, the usual sign of an encrypted EBS volume "
    "whose KMS key offhours may not use: give the function kms:CreateGrant on that key "
    "(the KmsKeyArns parameter)"
)


class Step(StrEnum):
    """What the executor does for a decision."""

    START = "start"
    STOP = "stop"
    HIBERNATE = "hibernate"
    MARK = "mark"  # only record the state tag
    NONE = "none"


class Verdict(StrEnum):
    """How a decision counts in the run's summary when nothing goes wrong."""

    ACT = "act"
    ADOPT = "adopt"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    INVALID = "invalid"
    FAILED = "failed"


@dataclass(frozen=True)
class Settings:
    tag_key: str = "Schedule"
    default_timezone: str = "UTC"
    catalog: CatalogLike | None = None
    converge: bool = False


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

    @property
    def action(self) -> str:
        if self.verdict is Verdict.ADOPT:
            return "adopt"
        return self.step.value if self.step not in (Step.MARK, Step.NONE) else "none"


@dataclass
class Plan:
    at: datetime
    decisions: list[Decision] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reading:
    """What one tag value says at the run's time; worked out once per distinct value."""

    schedule: Schedule | None = None
    error: ScheduleError | None = None
    opt_out: bool = False
    event: Event | None = None
    desired: DesiredState | None = None
    event_text: str = ""
    next_text: str = ""


def read_value(value: str, at: datetime, settings: Settings) -> Reading:
    if is_opt_out(value):
        return Reading(opt_out=True)
    try:
        schedule = parse_schedule(
            value, default_timezone=settings.default_timezone, catalog=settings.catalog
        )
    except ScheduleError as exc:
        return Reading(error=exc)
    tl = timeline(schedule)
    event = tl.last_event(at)
    upcoming = tl.next_events(at, 1)
    next_text = (
        f"the next event is a {upcoming[0].action.value} at {iso(upcoming[0].at)}"
        if upcoming
        else "no further event is scheduled"
    )
    event_text = f"{event.action.value} at {iso(event.at)}" if event else ""
    # The desired state is the last event's; only without one does the timeline say more.
    desired = event.action.state if event is not None else tl.desired_state(at)
    return Reading(schedule, None, False, event, desired, event_text, next_text)


def _step_for(
    target: DesiredState, instance: Instance, schedule: Schedule
) -> tuple[Step, str | None]:
    if target is DesiredState.RUNNING:
        return Step.START, None
    if schedule.hibernate:
        if instance.hibernation_configured:
            return Step.HIBERNATE, None
        return Step.STOP, (
            "the schedule says hibernate, but the instance is not configured for hibernation: "
            "stopping it plainly"
        )
    return Step.STOP, None


def decide(
    instance: Instance, at: datetime, settings: Settings, reading: Reading | None = None
) -> Decision:
    """The decision for one instance at the run's time `at` (aware UTC)."""
    r = reading if reading is not None else read_value(instance.schedule, at, settings)
    if r.opt_out:
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            "opted out: the tag value says "
            f"{instance.schedule.strip() or '(empty)'!r}, so offhours leaves it alone",
        )
    if r.schedule is None:
        return Decision(
            instance, Step.NONE, Verdict.INVALID, f"invalid schedule, left untouched: {r.error}"
        )
    schedule = r.schedule
    if instance.auto_scaling_group:
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            (
                f"member of Auto Scaling group {instance.auto_scaling_group!r}: stopping it would "
                "make the group replace it, so offhours never touches it (schedule the group "
                "instead)"
            ),
        )
    if instance.spot == "unknown":
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            (
                "Spot instance whose request type could not be read (it may be one-time, which "
                "cannot be stopped): left alone to be safe"
            ),
        )
    if instance.spot == "one-time":
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            (
                "one-time Spot instance: it cannot be stopped and started, so offhours never "
                "touches it"
            ),
        )
    if instance.root_device_type == "instance-store":
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            (
                "its root device is an instance store: it cannot be stopped, so offhours never "
                "touches it"
            ),
        )
    if instance.state in TRANSITIONAL_STATES:
        return Decision(
            instance,
            Step.NONE,
            Verdict.SKIPPED,
            f"{instance.state}: waits for the next run to settle",
        )

    event, desired = r.event, r.desired
    handled = parse_anchor(instance.handled)
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
            warning,
        )

    if handled is None:
        note = " (its state tag was unreadable)" if instance.handled else ""
        return Decision(
            instance,
            Step.MARK,
            Verdict.ADOPT,
            (
                f"newly seen{note}: adopted without starting or stopping it; the schedule takes "
                f"over from its next event ({r.next_text})"
            ),
            desired,
            event,
            at,
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
            warning,
        )

    if (
        event.action is Action.START
        and current is DesiredState.STOPPED
        and instance.state_reason == "Client.InternalError"
    ):
        return Decision(
            instance,
            Step.NONE,
            Verdict.FAILED,
            (f"the {r.event_text} did not hold: {KMS_HINT}"),
            desired,
            event,
            error_code="Client.InternalError",
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


def plan(instances: Iterable[Instance], at: datetime, settings: Settings) -> Plan:
    """Decisions for every instance. One bad tag never stops the others."""
    return Plan(at, list(decide_all(instances, at, settings)))


def decide_all(
    instances: Iterable[Instance], at: datetime, settings: Settings
) -> Iterator[Decision]:
    """Decisions as instances arrive; each distinct tag value is read once."""
    readings: dict[str, Reading] = {}
    for instance in instances:
        reading = readings.get(instance.schedule)
        if reading is None:
            reading = readings[instance.schedule] = read_value(instance.schedule, at, settings)
        yield decide(instance, at, settings, reading)
