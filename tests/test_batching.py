"""One call per batch across the whole run (issue 16, item 4), and background work after every
event's calls (DESIGN §4, "AWS's rate limits"), through the real handler on the local
endpoint."""

from __future__ import annotations

from offhours import runtime
from offhours.state import fingerprint_holds
from tests.harness import EARLY, FRIDAY_START, LambdaContext, scheduled_event

LATE = "Mon-Fri 16:00-20:00 UTC"  # its start is the event's own 16:00
THURSDAY_STOP = "2026-03-26T20:00:00Z"
FP_KEY = "Schedule:offhours-fingerprint"


def ids_of(call: dict[str, str]) -> list[str]:
    return [v for k, v in sorted(call.items()) if k.startswith(("InstanceId.", "ResourceId."))]


def test_an_event_shared_by_many_instances_is_one_call_per_full_batch(fleet, invoke, hooks):
    """200 instances read in two slices (195 and 5) start in two calls of 100, not three
    (98, 97 and 5), and their state tags in two more."""
    due = fleet.launch(LATE, handled=THURSDAY_STOP, state="stopped", count=200, fingerprinted=True)
    starts = hooks.calls("StartInstances")
    tags = hooks.calls("CreateTags")
    run = invoke()
    assert run.result is not None and run.result["started"] == 200
    assert sorted(len(ids_of(c)) for c in starts) == [100, 100]
    assert sorted(len(ids_of(c)) for c in tags) == [100, 100]
    assert all(fleet.anchor(i) == "2026-03-27T16:00:00Z" for i in due)


def test_a_state_tag_that_already_holds_the_value_is_not_written_again(fleet, invoke, hooks):
    """`enforce` re-applies the 15:00 stop to an instance a person started after it: the
    instance is stopped again, and its state tag, which already says 15:00, is left as it is."""
    iid = fleet.one(f"{EARLY} enforce", fingerprinted=True, handled="2026-03-27T15:00:00Z fp")
    tags = hooks.calls("CreateTags")
    run = invoke()
    assert fleet.state(iid) == "stopped"
    assert run.decisions[iid]["outcome"] == "done"
    assert tags == []
    assert fleet.handled(iid) == "2026-03-27T15:00:00Z fp"


def test_first_fingerprints_wait_until_every_event_call_is_made(fleet, invoke, hooks):
    """An upgrade from a version without fingerprints: at the first stop, the stops of every
    slice go first, then the fingerprints (42 side by side in a call), never between the
    stops."""
    due = fleet.launch(EARLY, handled=FRIDAY_START, count=240)  # no fingerprint tag yet
    order: list[tuple[str, int, frozenset[str]]] = []

    def watch(operation: str):
        def record(params, **_):
            body = dict(params.get("body") or {})
            keys = frozenset(v for k, v in body.items() if k.startswith("Tag.") and ".Key" in k)
            order.append((operation, len(ids_of(body)), keys))

        return record

    hooks.on("before-call.ec2.StopInstances", watch("StopInstances"))
    hooks.on("before-call.ec2.CreateTags", watch("CreateTags"))
    run = invoke()
    assert run.result is not None and run.result["stopped"] == 240
    stops = [i for i, (op, _, _) in enumerate(order) if op == "StopInstances"]
    fingerprints = [i for i, (_, _, keys) in enumerate(order) if keys == {FP_KEY}]
    assert sorted(order[i][1] for i in fingerprints) == [30, 42, 42, 42, 42, 42]
    assert max(stops) < min(fingerprints)
    for iid in due:
        assert fingerprint_holds(fleet.tags(iid).get(FP_KEY, ""), iid, EARLY)


def test_fingerprints_a_run_could_not_write_are_counted_and_written_by_the_next_run(
    fleet, invoke, hooks
):
    """An upgrade from a version without fingerprints: at the 15:00 stop, 50 instances stop
    and their A moves with the batch; their fingerprints follow, 42 to a call, as background
    work. Time runs out after the first call: the other eight are counted
    (`background_deferred`, a warning, the deferred_work metric) and the next run, with
    nothing due, writes them without touching the instances or their A."""
    due = fleet.launch(EARLY, handled=FRIDAY_START, count=50)  # no fingerprint tag yet
    context = LambdaContext()
    written: list[str] = []

    def count(params, **_):
        body = dict(params.get("body") or {})
        if FP_KEY in body.values():
            written.extend(ids_of(body))
            context.remaining_ms = runtime.RESERVE_MS - 1

    hooks.on("before-call.ec2.CreateTags", count)
    first = invoke(context=context)
    assert first.result is not None and first.result["stopped"] == 50
    assert len(written) == 42
    assert first.summary["background_deferred"] == 8
    (warning,) = first.of_kind("target-deferred")
    assert warning["background_deferred"] == 8 and "first fingerprint" in warning["message"]
    assert first.emf["deferred_work"] in (8, [8], [8.0])
    fingerprinted = {i for i in due if fleet.tags(i).get(FP_KEY)}
    assert fingerprinted == set(written)
    later = scheduled_event(time="2026-03-27T16:05:00Z")
    second = invoke(later, context=LambdaContext())
    assert second.result is not None and second.result["failed"] == 0
    assert second.summary.get("background_deferred", 0) == 0
    assert second.of_kind("decision") == []  # background work only: DEBUG lines
    assert all(fingerprint_holds(fleet.tags(i).get(FP_KEY, ""), i, EARLY) for i in due)
    assert all(fleet.state(i) == "stopped" for i in due)
    assert all(fleet.anchor(i) == "2026-03-27T15:00:00Z" for i in due)


def test_a_first_sight_cut_short_adopts_what_it_wrote_whole_and_the_rest_next_run(
    fleet, invoke, hooks
):
    """Adopting writes A and the fingerprint together, 42 instances to a call (background
    work): an instance is adopted with both or not at all, so no state tag of offhours' is left
    unbound to its instance. Time runs out after the first call: eight are deferred and
    adopted at the next run."""
    new = fleet.launch(EARLY, count=50)
    context = LambdaContext()
    calls: list[str] = []

    def count(params, **_):
        calls.extend(ids_of(dict(params.get("body") or {})))
        context.remaining_ms = runtime.RESERVE_MS - 1

    hooks.on("before-call.ec2.CreateTags", count)
    first = invoke(context=context)
    assert first.summary["adopted"] == 42 and first.summary["deferred"] == 8
    assert first.result is not None and first.result["failed"] == 0
    for iid in new:
        tags = fleet.tags(iid)
        whole = FP_KEY in tags and "Schedule:offhours-handled" in tags
        assert whole is (iid in calls)
        assert ("Schedule:offhours-handled" in tags) is whole
        assert not whole or fingerprint_holds(tags[FP_KEY], iid, EARLY)
    second = invoke(scheduled_event(time="2026-03-27T16:05:00Z"), context=LambdaContext())
    assert second.summary["adopted"] == 8
    assert all(fleet.state(i) == "running" for i in new)
