"""Reconcile scenarios (DESIGN §3, §4) against the local EC2 endpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from offhours.aws import Clients
from offhours.catalog import default_catalog
from offhours.config import Config
from offhours.service import RunReport, run
from tests.fleet import Fleet

OFFICE = "Mon-Fri 08:00-18:00 UTC"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def clients() -> Clients:
    return Clients()


@pytest.fixture
def reconcile(fleet: Fleet, clients: Clients) -> Any:
    def go(when: str, *, dry: bool = False, converge: bool = False, **config: Any) -> RunReport:
        cfg = Config(regions=("us-east-1",), **config)
        return run(cfg, at(when), clients=clients, catalog=default_catalog(), dry=dry,
                   converge=converge)

    return go


def outcome_of(report: RunReport, instance_id: str) -> Any:
    for target in report.targets:
        for o in target.outcomes:
            if o.decision.instance.id == instance_id:
                return o
    raise AssertionError(f"{instance_id} not in the report")


def test_a_newly_tagged_instance_is_adopted_and_waits_for_its_next_event(fleet, reconcile):
    iid = fleet.one(OFFICE)  # running at night: tagging it must not stop it
    report = reconcile("2026-03-26T22:00:00")
    assert fleet.state(iid) == "running"
    assert fleet.handled(iid) == "2026-03-26T22:00:00Z"
    assert outcome_of(report, iid).outcome == "adopted"
    reconcile("2026-03-26T23:00:00")
    assert fleet.state(iid) == "running"
    reconcile("2026-03-27T08:05:00")  # the start event: already running
    assert fleet.state(iid) == "running"
    assert fleet.handled(iid) == "2026-03-27T08:00:00Z"
    reconcile("2026-03-27T18:05:00")
    assert fleet.state(iid) == "stopped"
    assert fleet.handled(iid) == "2026-03-27T18:00:00Z"


def test_a_manual_start_after_a_stop_is_respected_until_the_next_event(fleet, reconcile):
    iid = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    reconcile("2026-03-27T18:05:00")
    assert fleet.state(iid) == "stopped"
    fleet.start(iid)  # a person works late
    report = reconcile("2026-03-27T20:00:00")
    assert fleet.state(iid) == "running"
    assert "manual" in outcome_of(report, iid).reason
    reconcile("2026-03-30T07:55:00")
    assert fleet.state(iid) == "running"
    reconcile("2026-03-30T18:00:00")
    assert fleet.state(iid) == "stopped"


def test_dry_run_changes_nothing(fleet, reconcile):
    iid = fleet.one(OFFICE, handled="2026-03-27T08:00:00Z")
    report = reconcile("2026-03-27T18:05:00", dry=True)
    assert fleet.state(iid) == "running"
    assert fleet.handled(iid) == "2026-03-27T08:00:00Z"
    assert outcome_of(report, iid).outcome == "dry-run"
    assert report.counts()["stopped"] == 0
