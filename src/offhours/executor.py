"""The executor: apply a plan through the gateway, and say what became of each decision.

Starts, stops and hibernations go in batches. Each batch is followed at once by the state tags
of the instances it brought to their event's state, in the same slice of the run's time budget:
`may_record`, a looser budget than `may_call`, is asked before those tag calls, so that an
action is not left without its record when the run nears its time limit. Then the state tags of
the instances that were only adopted or marked, and the removals of state tags. The state tag
is written only after the call that brought the instance there succeeded: a failed or
unfinished action leaves A as it was, and the next run tries again. An outcome is `done` only
once its state tag is written; an action whose tag could not be written in time is `deferred`
(the next run finds the instance in the event's state and records it). A dry run makes no call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from offhours.instance import Instance
from offhours.override import override_tag_key
from offhours.planner import Decision, Plan, Step, Verdict
from offhours.resources import BatchResult, Gateway, PartialBatch, chunks
from offhours.savings import Saving
from offhours.schedule import iso
from offhours.state import (
    ENTRIES_PER_TAG,
    FINGERPRINT_MARK,
    OFF_MARK,
    OFF_PREFIX,
    fingerprint_shown,
    fingerprint_tag_key,
    found_off,
    handled_value,
    read_anchor,
    says_fingerprinted,
    state_tag_key,
)


class Outcomes:
    DONE = "done"
    DRY_RUN = "dry-run"
    FAILED = "failed"
    SKIPPED = "skipped"
    INVALID = "invalid"
    UNCHANGED = "unchanged"
    ADOPTED = "adopted"
    DEFERRED = "deferred"


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    outcome: str
    reason: str
    changed: bool = False
    error_code: str | None = None
    state_after: str | None = None  # the state tags after the run, if they changed ("": gone)
    request_id: str = ""  # EC2's request id of the call that acted on the instance
    saving: Saving | None = None  # the hours of offhours' stop that this decision ended
    people: tuple[datetime, datetime] | None = None  # ... of a person's stop it ended
    # The troubleshooting codes (`offhours.codes`) of what the run's calls made of it: why it
    # failed or was put off, a notice not put; the decision's own are `decision.codes`.
    codes: tuple[str, ...] = ()

    @property
    def all_codes(self) -> tuple[str, ...]:
        """The line's codes, its main one first: a failure's, else the decision's (its
        warning, or why it is invalid), then the others, each once."""
        own, decided = self.codes, self.decision.codes
        if not own or not decided:
            return own or decided
        first, rest = (own, decided) if self.outcome == Outcomes.FAILED else (decided, own)
        return tuple(dict.fromkeys((*first, *rest)))

    @property
    def state_before(self) -> str:
        i = self.decision.instance
        return state_text(i.handled, i.fingerprint, i)

    @property
    def state_tag_after(self) -> str:
        return self.state_before if self.state_after is None else self.state_after


def state_text(handled: str | None, fingerprint: str | None, instance: Instance) -> str:
    """offhours' two state tags as one line shows them: "A fp=xxxxxx+41" (the instance's own
    fingerprint entry, and how many other instances' entries its tag holds; the state tag's
    word "fp", which says that the fingerprint tag goes with it, only when that tag is
    missing)."""
    words = (handled or "").split()
    if fingerprint is not None:
        off = [w for w in words[1:] if w == OFF_MARK or w.startswith(OFF_PREFIX)]
        words = words[:1] + [w for w in words[1:] if w != FINGERPRINT_MARK and w not in off]
        identity = instance.identity or instance.id
        words.append(f"fp={fingerprint_shown(fingerprint, identity, instance.schedule)}")
        words += off  # last, as the state tag has it (`off` or `off=<instant>`)
    return " ".join(words)


def share_fingerprints(
    gateway: Gateway, tags: dict[str, dict[str, str]], fp_key: str
) -> dict[str, dict[str, str]]:
    """The tags to write, with the fingerprint entries of instances whose other tags are the
    same put side by side in one value (`offhours.state`), up to 42 instances a value: one
    call writes them all, where a fingerprint of one instance takes a call of its own. Not
    where each resource takes a call of its own anyway (RDS)."""
    if getattr(gateway, "tags_each_alone", False):
        return tags
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    shared = dict(tags)
    for iid, wanted in tags.items():
        if fp_key in wanted:
            rest = tuple(sorted((k, v) for k, v in wanted.items() if k != fp_key))
            groups.setdefault(rest, []).append(iid)
    for ids in groups.values():
        for chunk in chunks(ids, min(ENTRIES_PER_TAG, gateway.batch_size)):
            value = "".join(tags[i][fp_key] for i in chunk)
            for i in chunk:
                shared[i] = {**tags[i], fp_key: value}
    return shared


ACTING = (Step.START, Step.STOP, Step.HIBERNATE)
# Puts the notices of stops that are near, asking the run's time budget (`may_call`) before
# each call; returns the instances notified, and why not others.
Notifier = Callable[[list[Decision], Callable[[], bool] | None], tuple[set[str], dict[str, str]]]


def _static(decision: Decision) -> Outcome:
    """The outcome of a decision that needs no call."""
    verdict = decision.verdict
    if verdict is Verdict.INVALID:
        return Outcome(decision, Outcomes.INVALID, decision.reason)
    if verdict is Verdict.SKIPPED:
        return Outcome(decision, Outcomes.SKIPPED, decision.reason)
    if verdict is Verdict.FAILED:
        return Outcome(decision, Outcomes.FAILED, decision.reason, error_code=decision.error_code)
    return Outcome(decision, Outcomes.UNCHANGED, decision.reason)


def _dry_notes(d: Decision) -> str:
    notes = []
    if d.notice is not None:
        notes.append(f"dry run: would put the notice of the stop at {iso(d.notice)}")
    if d.override_pin is not None:
        notes.append(f"dry run: would pin the override as {d.override_pin!r}")
    if d.override_clear:
        notes.append("dry run: would remove the override tag")
    return "".join(f"; {n}" for n in notes)


def dry_run(plan: Plan) -> list[Outcome]:
    return [replace(o, reason=o.reason + _dry_notes(o.decision)) for o in _dry_run(plan)]


def _dry_run(plan: Plan) -> list[Outcome]:
    outcomes = []
    for d in plan.decisions:
        if d.step in ACTING:
            outcomes.append(
                Outcome(d, Outcomes.DRY_RUN, f"dry run, would {d.step.value}: {d.reason}")
            )
        elif d.verdict is Verdict.ADOPT:
            outcomes.append(Outcome(d, Outcomes.DRY_RUN, f"dry run, would adopt: {d.reason}"))
        elif d.step is Step.FORGET:
            static = _static(d)
            outcomes.append(Outcome(d, static.outcome, f"dry run, nothing removed: {d.reason}"))
        else:
            outcomes.append(_static(d))
    return outcomes


@dataclass
class Execution:
    outcomes: list[Outcome]
    endpoint_error: str | None = None
    calls: int = 0
    # First fingerprints left to the caller (`defer_fingerprints`): id -> the tags to write.
    fingerprints: dict[str, dict[str, str]] = field(default_factory=dict)


def execute(
    plan: Plan,
    gateway: Gateway,
    *,
    tag_key: str,
    may_call: Callable[[], bool] | None = None,
    may_record: Callable[[], bool] | None = None,
    notify: Notifier | None = None,
    defer_fingerprints: bool = False,
    gone: str | None = None,
) -> Execution:
    """Apply the plan. `may_call` is asked before every call that starts new work (the run's
    time budget); `may_record` before writing the state tags of instances just acted on.
    `notify` puts the notices of stops that are near (`offhours.notices`); after the actions,
    the state tags remember them, overrides get their instants pinned, and overrides that are
    over lose their tags. A state tag that already holds what would be written is not written
    again. With `defer_fingerprints`, the first fingerprints (background work, a call per
    instance) are not written here but returned, for the caller to write once every event of
    the run has had its calls. `gone` says why the service went away earlier in the run:
    nothing is attempted then."""
    run = _Run.begin(plan, gateway, tag_key, may_call, may_record, gone)
    _act(run)  # each batch of actions is followed at once by its record (`_record`)
    _notify(run, notify)
    run.marks = _marks(run)
    # Background work (adoptions, remembered notices, clean-up, first fingerprints) leaves the
    # reserve of EC2's buckets to events (`offhours.pace`).
    with background(gateway):
        _mark(run)
        _forget(run)
        _fingerprint(run, defer_fingerprints)
    _pin(run)
    _clear(run)
    return Execution(
        _outcomes(run),
        run.endpoint_error,
        run.calls,
        fingerprints=run.pending if defer_fingerprints else {},
    )


@dataclass
class _Run:
    """One run of `execute`: what it was given, and the ledger of what its calls did."""

    plan: Plan
    gateway: Gateway
    state_key: str
    fp_key: str
    override_key: str
    may_call: Callable[[], bool] | None
    record_budget: Callable[[], bool] | None  # asked before the state tags of actions
    endpoint_error: str | None  # why the service went away; nothing is attempted after
    # A kind that tags each resource with its own call (RDS) writes the fingerprint with A.
    one_call_each: bool
    as_read: dict[str, Instance]
    by_step: dict[Step, list[Decision]]
    due: list[Decision]  # whose stop is near enough for a notice
    calls: int = 0
    acted: BatchResult = field(default_factory=BatchResult)  # starts, stops, hibernations
    acted_ok: set[str] = field(default_factory=set)  # whose action succeeded
    tagged: BatchResult = field(default_factory=BatchResult)  # state tags written
    forgotten: BatchResult | None = None  # state tags removed (None: none to remove)
    pinned: BatchResult = field(default_factory=BatchResult)  # override instants pinned
    cleared: BatchResult = field(default_factory=BatchResult)  # override tags removed
    noticed: set[str] = field(default_factory=set)  # instances whose notice was put in this run
    notice_failed: dict[str, str] = field(default_factory=dict)  # id -> why its notice was not
    marks: dict[str, dict[str, str]] = field(default_factory=dict)  # state tags that only move
    recorded: set[str] = field(default_factory=set)  # whose state tags the run wrote
    later: dict[str, dict[str, str]] = field(default_factory=dict)  # fingerprints after actions
    pending: dict[str, dict[str, str]] = field(default_factory=dict)  # ... of those recorded
    fingerprinted: set[str] = field(default_factory=set)  # whose later fingerprint was written

    @classmethod
    def begin(
        cls,
        plan: Plan,
        gateway: Gateway,
        tag_key: str,
        may_call: Callable[[], bool] | None,
        may_record: Callable[[], bool] | None,
        gone: str | None,
    ) -> _Run:
        by_step: dict[Step, list[Decision]] = {step: [] for step in Step}
        for d in plan.decisions:
            by_step[d.step].append(d)
        return cls(
            plan=plan,
            gateway=gateway,
            state_key=state_tag_key(tag_key),
            fp_key=fingerprint_tag_key(tag_key),
            override_key=override_tag_key(tag_key),
            may_call=may_call,
            record_budget=may_record if may_record is not None else may_call,
            endpoint_error=gone,
            one_call_each=getattr(gateway, "tags_each_alone", False),
            as_read={d.instance.id: d.instance for d in plan.decisions},
            by_step=by_step,
            due=[d for d in plan.decisions if d.notice is not None],
        )

    def attempt(self, ids: list[str], call: Callable[..., BatchResult], *args: Any) -> BatchResult:
        """One batched operation; nothing more is tried once EC2 has gone away."""
        if self.endpoint_error is not None:
            return BatchResult(not_attempted=list(ids))
        try:
            result = call(*args)
        except PartialBatch as exc:
            result, self.endpoint_error = exc.result, str(exc)
        self.calls += result.calls
        return result

    def share(self, tags: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return share_fingerprints(self.gateway, tags, self.fp_key)

    def write(
        self, tags: dict[str, dict[str, str]], budget: Callable[[], bool] | None
    ) -> BatchResult:
        """Write each instance's tags, except where its tags already hold those values (an
        `enforce` re-applying after a change by hand would rewrite A with itself)."""
        same = [
            i
            for i, wanted in tags.items()
            if _holds(self.as_read.get(i), wanted, self.state_key, self.fp_key)
        ]
        needed = self.share({i: wanted for i, wanted in tags.items() if i not in same})
        result = (
            self.attempt(list(needed), self.gateway.tag_each, needed, budget)
            if needed
            else BatchResult()
        )
        result.succeeded += same
        return result

    def fingerprint_later(self, d: Decision) -> bool:
        """Its fingerprint tag is new (it never had one) and A moves to an event: A goes with
        its event's batch, and the fingerprint in a call of its own after every event's calls
        (background work); A does not say "fp" until that tag is there. An adoption, or a
        first fingerprint on its own, writes A and the fingerprint together (a call each):
        no state tag of offhours' is ever left unbound to its instance by its own doing."""
        return (
            on_event(d)
            and d.fingerprint_after is not None
            and d.instance.fingerprint is None
            and not self.one_call_each
        )

    def tags_of(self, d: Decision) -> dict[str, str]:
        """The state tags to write with A. A fingerprint that replaces another one goes with A
        (else the next run would find the other one again); one that an instance never had
        goes with A too, except where A moves to an event (`fingerprint_later`), which puts
        it in `later`."""
        assert d.anchor is not None
        notice = d.notice if d.instance.id in self.noticed else None
        fp = d.fingerprint_after
        if fp is None:  # the instance has its own fingerprint tag already
            return {self.state_key: handled_value(d.anchor, notice, held=d.held, off=self.off(d))}
        if self.fingerprint_later(d):  # A says "fp" the next time it moves
            self.later[d.instance.id] = {self.fp_key: fp}
            return {self.state_key: handled_value(d.anchor, notice, False, d.held, self.off(d))}
        state = handled_value(d.anchor, notice, held=d.held, off=self.off(d))
        return {self.state_key: state, self.fp_key: fp}

    def off(self, d: Decision) -> bool | datetime:
        """The state tag's `off` word with A (`Decision.off`): `off=<the run's time>` for a stop
        made later than its event (a run missed, a stop retried or deferred), so that its hours
        count from when it was made; as it was found where A stays."""
        if not d.off or d.anchor is None:
            return False
        handled = d.instance.handled
        if handled and read_anchor(handled)[0] == d.anchor:
            return found_off(handled)
        if d.step in (Step.STOP, Step.HIBERNATE) and self.plan.at - d.anchor > LATE_STOP:
            return self.plan.at
        return True

    def settled(self, d: Decision) -> bool:
        """The decision's own step is done (an override tag may follow it)."""
        iid = d.instance.id
        if d.step in ACTING:
            return iid in self.acted_ok
        if d.step is Step.MARK:
            return iid in self.recorded
        return True

    def written(self, d: Decision) -> str | None:
        """The state tags as the run leaves them."""
        if d.anchor is None:
            return None
        fp = d.fingerprint_after
        later_fp = self.fingerprint_later(d)
        if fp is None or (later_fp and d.instance.id not in self.fingerprinted):
            fp = d.instance.fingerprint
        notice = d.notice if d.instance.id in self.noticed else None
        state = handled_value(d.anchor, notice, not later_fp, d.held, self.off(d))
        return state_text(state, fp, d.instance)


# A stop made this long after its event counts its hours from when it was made.
LATE_STOP = timedelta(minutes=15)


def _act(run: _Run) -> None:
    """Starts, stops and hibernations, in batches; each batch recorded at once."""
    gateway, may_call = run.gateway, run.may_call
    operations: dict[Step, Callable[[list[str]], BatchResult]] = {
        Step.START: lambda ids: gateway.start(ids, may_call),
        Step.STOP: lambda ids: gateway.stop(ids, may_call=may_call),
        Step.HIBERNATE: lambda ids: gateway.stop(ids, hibernate=True, may_call=may_call),
    }
    for step in ACTING:
        for chunk in chunks(run.by_step[step], gateway.batch_size):
            ids = [d.instance.id for d in chunk]
            result = run.attempt(ids, operations[step], ids)
            run.acted.merge(result)
            _record(run, chunk, result)
    run.acted_ok = set(run.acted.succeeded)


def _record(run: _Run, chunk: list[Decision], result: BatchResult) -> None:
    """The state tags of the instances a batch brought to their event's state, under the
    looser budget (`may_record`)."""
    done = set(result.succeeded)
    values = {
        d.instance.id: run.tags_of(d)
        for d in chunk
        if d.instance.id in done and d.anchor is not None
    }
    if values:
        run.tagged.merge(run.write(values, run.record_budget))


def _notify(run: _Run, notify: Notifier | None) -> None:
    """The notices of stops that are near; none once the service has gone away."""
    due = run.due
    if due and notify is not None and run.endpoint_error is None:
        sent, run.notice_failed = notify(due, run.may_call)
        run.noticed.update(sent)
    elif due:
        run.notice_failed = dict.fromkeys((d.instance.id for d in due), "not attempted in this run")


def _marks(run: _Run) -> dict[str, dict[str, str]]:
    """The state tags that move without an action: adoptions and marks, and the notices put
    remembered in a state tag that does not move otherwise."""
    marks = {d.instance.id: run.tags_of(d) for d in run.by_step[Step.MARK] if d.anchor is not None}
    for d in run.due:
        current = read_anchor(d.instance.handled)[0] if d.instance.handled else None
        if d.step is Step.NONE and d.instance.id in run.noticed and current is not None:
            # "fp" stays as it was found (a state tag that says "fp" without its fingerprint
            # tag must go on saying so), and is added once the fingerprint tag is there.
            marked = d.instance.fingerprint is not None or says_fingerprinted(d.instance.handled)
            state = handled_value(current, d.notice, marked, d.held, found_off(d.instance.handled))
            marks[d.instance.id] = {run.state_key: state}
    return marks


def _mark(run: _Run) -> None:
    """Write the marks: a notice put is recorded as an action is (else the next run puts it
    again), under the looser budget; the rest under the run's."""
    told = {i: m for i, m in run.marks.items() if i in run.noticed}
    if told:
        run.tagged.merge(run.write(told, run.record_budget))
    if rest := {i: m for i, m in run.marks.items() if i not in told}:
        run.tagged.merge(run.write(rest, run.may_call))
    run.recorded = set(run.tagged.succeeded)


def _forget(run: _Run) -> None:
    """Remove the state tags of instances offhours no longer handles."""
    forget = [d.instance.id for d in run.by_step[Step.FORGET]]
    if forget:
        run.forgotten = run.attempt(
            forget, run.gateway.untag, forget, (run.state_key, run.fp_key), run.may_call
        )


def _fingerprint(run: _Run, defer: bool) -> None:
    """The first fingerprints of instances whose A was recorded: written here, or left to
    the caller (`defer`)."""
    run.pending = {i: tags for i, tags in run.later.items() if i in run.recorded}
    if run.pending and not defer:
        result = run.attempt(
            list(run.pending), run.gateway.tag_each, run.share(run.pending), run.may_call
        )
        run.fingerprinted = set(result.succeeded)


# The override tag is rewritten (its instant pinned) or removed only where it still holds
# what the run read: a newer value that a person wrote in between is theirs.


def _pin(run: _Run) -> None:
    """Pin the instants of overrides whose decision's own step is done."""
    pins: dict[str, tuple[str, str | None]] = {
        d.instance.id: (d.instance.override, d.override_pin)
        for d in run.plan.decisions
        if d.override_pin is not None and d.instance.override is not None and run.settled(d)
    }
    if pins:
        run.pinned = run.attempt(
            list(pins), run.gateway.rewrite, run.override_key, pins, run.may_call
        )


def _clear(run: _Run) -> None:
    """Remove the override tags that are over, where the decision's own step is done."""
    clears: dict[str, tuple[str, str | None]] = {
        d.instance.id: (d.instance.override, None)
        for d in run.plan.decisions
        if d.override_clear and d.instance.override is not None and run.settled(d)
    }
    if clears:
        run.cleared = run.attempt(
            list(clears), run.gateway.rewrite, run.override_key, clears, run.may_call
        )


@dataclass(frozen=True)
class _Unreached:
    """The work the run did not attempt, and why."""

    why: str
    code: str  # its troubleshooting code
    acted: set[str]  # actions
    tagged: set[str]  # state tags
    forgotten: set[str]  # removals of state tags

    @classmethod
    def of(cls, run: _Run) -> _Unreached:
        if run.endpoint_error:
            code = "OH-TARGET-UNREACHABLE"
            why = (
                f"not attempted: {run.gateway.service} could not be reached ({run.endpoint_error})"
            )
        elif "rate" in (run.acted.deferred_reason, run.tagged.deferred_reason):
            code = "OH-RUN-RATE-LIMITED"
            why = (
                f"not attempted: {run.gateway.service}'s rate limit left no time for it in this "
                "run (throttling, not a fault of the instance); the next run does it"
            )
        else:
            code = "OH-RUN-TIME-LIMIT"
            why = "not attempted: the run was near its time limit; the next run does it"
        forgotten = set(run.forgotten.not_attempted) if run.forgotten is not None else set()
        acted, tagged = set(run.acted.not_attempted), set(run.tagged.not_attempted)
        return cls(why, code, acted, tagged, forgotten)


def _outcomes(run: _Run) -> list[Outcome]:
    """What became of each decision, with its notice and its override tag."""
    not_reached = _Unreached.of(run)
    outcomes: list[Outcome] = []
    for d in run.plan.decisions:
        if d.step in ACTING:
            outcome = _acted_outcome(run, d, not_reached)
        elif d.step is Step.MARK:
            outcome = _marked_outcome(run, d, not_reached)
        elif d.step is Step.FORGET:
            outcome = _forgotten_outcome(run, d, not_reached)
        else:
            outcome = _static(d)
        outcomes.append(
            _people(
                outcome,
                run.noticed,
                run.notice_failed,
                run.pinned,
                run.cleared,
                run.marks,
                run.recorded,
            )
        )
    return outcomes


def _acted_outcome(run: _Run, d: Decision, not_reached: _Unreached) -> Outcome:
    """A start, stop or hibernation, and the state tag that records it."""
    iid = d.instance.id
    acted, tagged = run.acted, run.tagged
    request_id = acted.request_ids.get(iid, "")
    if iid in acted.failed:
        code, message = acted.failed[iid]
        return Outcome(
            d,
            Outcomes.FAILED,
            f"{d.step.value} failed ({code}: {message}); {d.reason}",
            error_code=code,
            request_id=request_id,
            codes=(acted.codes.get(iid, "OH-ACTION-FAILED"),),
        )
    if iid in not_reached.acted:
        return Outcome(
            d, Outcomes.DEFERRED, f"{not_reached.why}; {d.reason}", codes=(not_reached.code,)
        )
    if iid in tagged.failed:
        code, message = tagged.failed[iid]
        return Outcome(
            d,
            Outcomes.FAILED,
            (
                f"{d.step.value} done, but recording the state tag failed "
                f"({code}: {message}); the next run records it; {d.reason}"
            ),
            changed=True,
            error_code=code,
            request_id=request_id,
            codes=("OH-STATE-TAG-FAILED",),
        )
    if iid in not_reached.tagged:
        return Outcome(
            d,
            Outcomes.DEFERRED,
            (
                f"{d.step.value} done, but its state tag was not written ("
                f"{not_reached.why.removeprefix('not attempted: ')}); the next run records "
                f"it; {d.reason}"
            ),
            changed=True,
            request_id=request_id,
            codes=(not_reached.code,),
        )
    note = acted.notes.get(iid)
    return Outcome(
        d,
        Outcomes.DONE,
        f"{d.reason}; {note}" if note else d.reason,
        changed=True,
        state_after=run.written(d),
        request_id=request_id,
        codes=(acted.codes[iid],) if note and iid in acted.codes else (),
    )


def _marked_outcome(run: _Run, d: Decision, not_reached: _Unreached) -> Outcome:
    """An adoption or a mark: the state tag written."""
    iid = d.instance.id
    tagged = run.tagged
    if iid in tagged.failed:
        code, message = tagged.failed[iid]
        return Outcome(
            d,
            Outcomes.FAILED,
            f"recording the state tag failed ({code}: {message}); {d.reason}",
            error_code=code,
            codes=("OH-STATE-TAG-FAILED",),
        )
    if iid in not_reached.tagged:
        return Outcome(
            d, Outcomes.DEFERRED, f"{not_reached.why}; {d.reason}", codes=(not_reached.code,)
        )
    if d.verdict is Verdict.ADOPT:
        return Outcome(d, Outcomes.ADOPTED, d.reason, state_after=run.written(d))
    return Outcome(d, Outcomes.UNCHANGED, d.reason, state_after=run.written(d))


def _forgotten_outcome(run: _Run, d: Decision, not_reached: _Unreached) -> Outcome:
    """A state tag removed."""
    iid = d.instance.id
    forgotten = run.forgotten
    if forgotten is not None and iid in forgotten.failed:
        code, message = forgotten.failed[iid]
        return Outcome(
            d,
            Outcomes.FAILED,
            f"removing the state tag failed ({code}: {message}); {d.reason}",
            error_code=code,
            codes=("OH-STATE-TAG-FAILED",),
        )
    static = _static(d)
    if iid in not_reached.forgotten:
        return Outcome(
            d, static.outcome, f"{not_reached.why}; {d.reason}", codes=(not_reached.code,)
        )
    return Outcome(d, static.outcome, static.reason, state_after="")


def _holds(instance: Instance | None, wanted: dict[str, str], state_key: str, fp_key: str) -> bool:
    """Whether the instance's tags, as read in this run, already hold `wanted`."""
    if instance is None:
        return False
    have = {state_key: instance.handled, fp_key: instance.fingerprint}
    return all(key in have and have[key] == value for key, value in wanted.items())


def on_event(d: Decision) -> bool:
    """The decision is the current event's work: an action, or A moving to its event."""
    return d.step in ACTING or (d.event is not None and d.anchor == d.event.at)


@contextmanager
def background(gateway: Gateway) -> Iterator[None]:
    """The gateway's calls inside are background work, where the gateway paces its calls."""
    pacer = getattr(gateway, "pacer", None)
    if pacer is None:
        yield
        return
    with pacer.background():
        yield


def _people(
    outcome: Outcome,
    noticed: set[str],
    notice_failed: dict[str, str],
    pinned: BatchResult,
    cleared: BatchResult,
    marks: dict[str, dict[str, str]],
    recorded: set[str],
) -> Outcome:
    """What became of the notice and the override tag that come with a decision."""
    d = outcome.decision
    iid = d.instance.id
    notes: list[str] = []
    codes = list(outcome.codes)
    failed: tuple[str, str] | None = None
    if d.notice is not None:
        if iid in noticed:
            notes.append(f"the notice of the stop at {iso(d.notice)} was put on EventBridge")
        else:
            why = notice_failed.get(iid, "not attempted")
            notes.append(f"the notice of the stop at {iso(d.notice)} could not be put ({why})")
            codes.append("OH-NOTICE-NOT-PUT")
    if iid in pinned.failed:
        failed = pinned.failed[iid]
        notes.append(f"writing the override's instant failed ({failed[0]}: {failed[1]})")
    if iid in pinned.changed or iid in cleared.changed:
        notes.append(
            "its override tag changed since this run read it: the newer value is left as it is "
            "for the next run"
        )
    if iid in cleared.failed:
        failed = cleared.failed[iid]
        notes.append(f"removing the override tag failed ({failed[0]}: {failed[1]})")
    elif d.override_clear and iid in set(cleared.succeeded):
        notes.append("its override tag is removed")
    if not notes:
        return outcome
    reason = f"{outcome.reason}; {'; '.join(notes)}"
    state_after = outcome.state_after
    if d.step is Step.NONE and iid in marks and iid in recorded:
        state_after = state_text(
            marks[iid][next(iter(marks[iid]))], d.instance.fingerprint, d.instance
        )
    if failed is not None:
        code = "OH-OVERRIDE-TAG-FAILED"
        codes = [*codes, code] if outcome.outcome == Outcomes.FAILED else [code, *codes]
        return replace(
            outcome,
            outcome=Outcomes.FAILED,
            reason=reason,
            error_code=failed[0],
            codes=tuple(codes),
        )
    return replace(outcome, reason=reason, state_after=state_after, codes=tuple(codes))
