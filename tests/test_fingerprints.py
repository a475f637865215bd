"""The fingerprint tag (DESIGN §3, `offhours.state`): up to 42 instances' entries side by side
in one value, so that a first sight of N instances takes N/42 CreateTags, not N; and every
fingerprint still names its instances, so a copied tag is not believed."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, strategies as st

from offhours.executor import share_fingerprints
from offhours.instance import Instance
from offhours.state import (
    ENTRIES_PER_TAG,
    ENTRY_LENGTH,
    MAX_TAG_VALUE,
    fingerprint,
    fingerprint_holds,
    fingerprint_shown,
    shared_fingerprint,
)

OFFICE = "Mon-Fri 08:00-18:00 UTC"
FP = "Schedule:offhours-fingerprint"
STATE = "Schedule:offhours-handled"
ids = st.from_regex(r"i-[0-9a-f]{17}", fullmatch=True)


class Batching:
    """What `share_fingerprints` asks of a gateway."""

    batch_size = 100


def test_an_entry_is_six_url_safe_characters_and_42_fill_a_tag_value():
    entry = fingerprint("i-0123456789abcdef0", OFFICE)
    assert len(entry) == ENTRY_LENGTH == 6
    assert set(entry) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert ENTRIES_PER_TAG == 42 and ENTRIES_PER_TAG * ENTRY_LENGTH <= MAX_TAG_VALUE
    with pytest.raises(ValueError):
        shared_fingerprint([entry] * 43)


def test_an_earlier_versions_crc_still_reads_as_the_instances_own():
    legacy = format(zlib.crc32(f"i-1\n{OFFICE}".encode()), "08x")
    assert fingerprint_holds(legacy, "i-1", OFFICE)
    assert not fingerprint_holds(legacy, "i-2", OFFICE)
    assert not fingerprint_holds(legacy, "i-1", "Mon-Fri 09:00-18:00 UTC")


def test_an_entry_counts_only_at_a_multiple_of_six():
    entry = fingerprint("i-1", OFFICE)
    assert fingerprint_holds("x" * 6 + entry, "i-1", OFFICE)
    assert not fingerprint_holds("xyz" + entry + "abc", "i-1", OFFICE)  # straddles two entries
    assert fingerprint_holds("xyz" + entry + "abc" + entry, "i-1", OFFICE)
    assert not fingerprint_holds("", "i-1", OFFICE)


@given(st.lists(ids, min_size=1, max_size=ENTRIES_PER_TAG, unique=True), ids, st.text())
def test_a_shared_tag_names_its_instances_and_their_value_and_nobody_else(members, other, value):
    tag = shared_fingerprint([fingerprint(i, value) for i in members])
    assert len(tag) <= MAX_TAG_VALUE
    assert all(fingerprint_holds(tag, i, value) for i in members)
    if other not in members:  # a tag copied to another instance (2^-36 per entry by chance)
        assert not fingerprint_holds(tag, other, value)
    assert not fingerprint_holds(tag, members[0], value + " enforce")  # a changed value


@given(st.text(max_size=300), ids)
def test_any_text_in_the_tag_is_read_without_a_crash(text, iid):
    fingerprint_holds(text, iid, OFFICE)
    fingerprint_shown(text, iid, OFFICE)


def test_instances_written_together_share_one_value_up_to_42_a_value():
    tags = {
        f"i-{k}": {STATE: "2026-03-27T16:00:00Z fp", FP: fingerprint(f"i-{k}", OFFICE)}
        for k in range(100)
    }
    tags["i-odd"] = {STATE: "2026-03-27T17:00:00Z fp", FP: fingerprint("i-odd", OFFICE)}
    tags["i-plain"] = {STATE: "2026-03-27T16:00:00Z"}  # no fingerprint to write: as it is
    shared = share_fingerprints(Batching(), tags, FP)  # type: ignore[arg-type]
    values = [shared[f"i-{k}"][FP] for k in range(100)]
    assert [len(set(values[s : s + 42])) for s in (0, 42, 84)] == [1, 1, 1]
    assert len(set(values)) == 3 and [len(v) for v in dict.fromkeys(values)] == [252, 252, 96]
    assert shared["i-odd"][FP] == fingerprint("i-odd", OFFICE)  # its A differs: a call alone
    assert shared["i-plain"] == tags["i-plain"]
    assert all(fingerprint_holds(shared[i][FP], i, OFFICE) for i in tags if i != "i-plain")
    assert all(shared[i][STATE] == tags[i][STATE] for i in tags)


def test_a_gateway_that_tags_each_resource_alone_writes_entries_alone():
    class Alone(Batching):
        tags_each_alone = True

    tags = {f"arn:{k}": {FP: fingerprint(f"arn:{k}", OFFICE)} for k in range(3)}
    assert share_fingerprints(Alone(), tags, FP) == tags  # type: ignore[arg-type]


def test_a_log_line_shows_the_instances_own_entry_and_how_many_others_share_the_tag():
    members = [f"i-{k}" for k in range(5)]
    tag = shared_fingerprint([fingerprint(i, OFFICE) for i in members])
    assert fingerprint_shown(tag, "i-2", OFFICE) == f"{fingerprint('i-2', OFFICE)}+4"
    assert fingerprint_shown(tag, "i-9", OFFICE) == tag[:17] + "..."  # not its own: as found
    alone = fingerprint("i-1", OFFICE)
    assert fingerprint_shown(alone, "i-1", OFFICE) == alone


def test_an_instance_reads_its_shared_fingerprint_as_its_own():
    tag = shared_fingerprint([fingerprint(i, OFFICE) for i in ("i-1", "i-2")])
    mine = Instance(id="i-2", state="running", schedule=OFFICE, fingerprint=tag)
    theirs = Instance(id="i-3", state="running", schedule=OFFICE, fingerprint=tag)
    assert mine.fingerprint_ok is True and theirs.fingerprint_ok is False
