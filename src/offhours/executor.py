"""The executor: apply a plan through the gateway, and say what became of each decision.

Starts, stops and hibernations go first, in batches; then the state tags, grouped by value, for
the instances that reached their event's state (or were adopted). The state tag is written only
after the call that brought the instance there succeeded: a failed or unfinished action leaves A
as it was, and the next run tries again. A dry run makes no call at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from offhours.ec2 import BatchResult, Ec2Gateway, PartialBatch
from offhours.planner import Decision, Plan, Step, Verdict
from offhours.schedule import iso


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


_ACTING = (Step.START, Step.STOP, Step.HIBERNATE)


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


def dry_run(plan: Plan) -> list[Outcome]:
    outcomes = []
    for d in plan.decisions:
        if d.step in _ACTING:
            outcomes.append(
                Outcome(d, Outcomes.DRY_RUN, f"dry run, would {d.step.value}: {d.reason}")
            )
        elif d.verdict is Verdict.ADOPT:
            outcomes.append(Outcome(d, Outcomes.DRY_RUN, f"dry run, would adopt: {d.reason}"))
        else:
            outcomes.append(_static(d))
    return outcomes


@dataclass
class Execution:
    outcomes: list[Outcome]
    endpoint_error: str | None = None
    calls: int = 0


def _tag(
    gateway: Ec2Gateway,
    key: str,
    value: str,
    may_call: Callable[[], bool] | None,
    ids: list[str],
) -> BatchResult:
    return gateway.tag(ids, key, value, may_call)


def execute(
    plan: Plan,
    gateway: Ec2Gateway,
    *,
    state_key: str,
    may_call: Callable[[], bool] | None = None,
) -> Execution:
    """Apply the plan. `may_call` is asked before every call (the run's time budget)."""
    calls = 0
    endpoint_error: str | None = None

    def attempt(ids: list[str], call: Callable[[list[str]], BatchResult]) -> BatchResult:
        """One batched operation; nothing more is tried once EC2 has gone away."""
        nonlocal calls, endpoint_error
        if endpoint_error is not None:
            return BatchResult(not_attempted=list(ids))
        try:
            result = call(ids)
        except PartialBatch as exc:
            result, endpoint_error = exc.result, str(exc)
        calls += result.calls
        return result

    operations: dict[Step, Callable[[list[str]], BatchResult]] = {
        Step.START: lambda ids: gateway.start(ids, may_call),
        Step.STOP: lambda ids: gateway.stop(ids, may_call=may_call),
        Step.HIBERNATE: lambda ids: gateway.stop(ids, hibernate=True, may_call=may_call),
    }
    acted: dict[Step, BatchResult] = {}
    for step in _ACTING:
        ids = [d.instance.id for d in plan.decisions if d.step is step]
        acted[step] = attempt(ids, operations[step]) if ids else BatchResult()

    to_mark: dict[str, list[str]] = defaultdict(list)
    for d in plan.decisions:
        if d.anchor is None:
            continue
        if d.step is Step.MARK or (d.step in _ACTING and d.instance.id in acted[d.step].succeeded):
            to_mark[iso(d.anchor)].append(d.instance.id)
    tagged = BatchResult()
    for value, ids in to_mark.items():
        result = attempt(ids, partial(_tag, gateway, state_key, value, may_call))
        tagged.succeeded += result.succeeded
        tagged.failed.update(result.failed)
        tagged.not_attempted += result.not_attempted

    not_reached = (
        f"not attempted: EC2 could not be reached ({endpoint_error})"
        if endpoint_error
        else "not attempted: the run was near its time limit; the next run does it"
    )
    outcomes: list[Outcome] = []
    for d in plan.decisions:
        iid = d.instance.id
        if d.step in _ACTING:
            result = acted[d.step]
            if iid in result.failed:
                code, message = result.failed[iid]
                outcomes.append(
                    Outcome(
                        d,
                        Outcomes.FAILED,
                        f"{d.step.value} failed ({code}: {message}); {d.reason}",
                        error_code=code,
                    )
                )
            elif iid in result.not_attempted:
                outcomes.append(Outcome(d, Outcomes.DEFERRED, f"{not_reached}; {d.reason}"))
            elif iid in tagged.failed:
                code, message = tagged.failed[iid]
                outcomes.append(
                    Outcome(
                        d,
                        Outcomes.FAILED,
                        (
                            f"{d.step.value} done, but recording the state tag failed "
                            f"({code}: {message}); the next run records it; {d.reason}"
                        ),
                        changed=True,
                        error_code=code,
                    )
                )
            else:
                outcomes.append(Outcome(d, Outcomes.DONE, d.reason, changed=True))
        elif d.step is Step.MARK:
            if iid in tagged.failed:
                code, message = tagged.failed[iid]
                outcomes.append(
                    Outcome(
                        d,
                        Outcomes.FAILED,
                        f"recording the state tag failed ({code}: {message}); {d.reason}",
                        error_code=code,
                    )
                )
            elif iid in tagged.not_attempted:
                outcomes.append(Outcome(d, Outcomes.DEFERRED, f"{not_reached}; {d.reason}"))
            elif d.verdict is Verdict.ADOPT:
                outcomes.append(Outcome(d, Outcomes.ADOPTED, d.reason))
            else:
                outcomes.append(Outcome(d, Outcomes.UNCHANGED, d.reason))
        else:
            outcomes.append(_static(d))
    return Execution(outcomes, endpoint_error, calls)
