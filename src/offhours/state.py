"""The state tags: up to when offhours has handled an instance, and for which value.

offhours keeps its state in two tags of the instance, which it alone writes (DESIGN §3):

- `<TagKey>:offhours-handled`: A, the instant up to which it has handled the instance (UTC,
  ISO 8601), e.g. ``2026-03-27T17:00:00Z``. It moves at every event the instance is brought to.
  A second word ``notice=<instant>`` says that the notice of the stop at that instant was sent
  (DESIGN §7: once per instance and stop, even across cold starts); it is the same for every
  instance of a schedule, so it is written in batches too. The word ``fp`` says that the
  fingerprint tag goes with it: a state tag that says so, on an instance without a fingerprint
  tag, was copied in part or had its fingerprint removed, and is not believed.
- `<TagKey>:offhours-fingerprint`: which instances, and which schedule value, A is for. Each
  instance's entry is six characters (36 bits, base64url) of the BLAKE2b hash of
  ``"<instance id>\\n<value>"``; the tag holds the entries of the instances that were written
  in the same call, up to 42 of them side by side (252 characters), and an instance's state is
  its own when its entry is in its tag at a multiple of six. A fingerprint that does not hold
  the instance's entry was written for another value (the tag was changed) or for other
  instances (tags copied by a launch template, an AMI, a restore or by hand): the instance is
  adopted, never acted on because of somebody else's history. A check against accidents,
  copies and edits, not a secret: whoever may write tags may write it too. A copied tag
  passes by chance with a probability of at most 42 in 2^36 (6e-10) per copy. Earlier versions
  wrote the CRC-32 of the same text in eight hex digits; such a tag is still read as the
  instance's own when it matches.

Why two tags, and why entries side by side: EC2 writes one tag value to a whole batch of
instances in one call. A moves for many instances at the same event, so it is written in
batches; the fingerprint names the instance, so a tag that names one instance takes a call of
its own (3,000 CreateTags for a first sight of 3,000 instances, 300 s at EC2's rate), and one
that names 42 takes one call for the 42 (72 calls for 3,000, inside the bucket's burst). It is
written only when it changes (an adoption, a new value, or a state written by an earlier
version, which had no fingerprint and is read as matching).

Everything here is input from outside (anyone who may tag the instance may write it): a value
that cannot be read is reported as a problem, never raised.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from datetime import UTC, datetime
from functools import lru_cache

from offhours.schedule import iso

STATE_TAG_SUFFIX = ":offhours-handled"
FINGERPRINT_TAG_SUFFIX = ":offhours-fingerprint"
MAX_TAG_VALUE = 256  # EC2's limit for a tag value
ENTRY_LENGTH = 6  # characters of one instance's fingerprint entry (36 bits)
ENTRIES_PER_TAG = MAX_TAG_VALUE // ENTRY_LENGTH  # 42 instances share one fingerprint tag value
LEGACY_LENGTH = 8  # the CRC-32 of earlier versions, in hex
FINGERPRINT_MARK = "fp"  # in the state tag: the fingerprint tag goes with it
NOTICE_PREFIX = "notice="
HELD_PREFIX = "held="  # the override that offhours holds, and its end
OFF_MARK = "off"  # in the state tag: offhours keeps the resource stopped from A (`savings`)
OFF_PREFIX = "off="  # ... from that instant: a stop made later than its event

_INSTANT = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?$", re.ASCII
)


def state_tag_key(schedule_tag_key: str) -> str:
    """The tag in which offhours records up to when it has handled an instance."""
    return f"{schedule_tag_key}{STATE_TAG_SUFFIX}"


def fingerprint_tag_key(schedule_tag_key: str) -> str:
    """The tag in which offhours records which instance and value its state is for."""
    return f"{schedule_tag_key}{FINGERPRINT_TAG_SUFFIX}"


def fingerprint(instance_id: str, value: str) -> str:
    """The instance's fingerprint entry for the schedule value its state is for."""
    digest = hashlib.blake2b(f"{instance_id}\n{value}".encode(errors="replace"), digest_size=6)
    return base64.urlsafe_b64encode(digest.digest())[:ENTRY_LENGTH].decode()


def fingerprint_holds(found: str, instance_id: str, value: str) -> bool:
    """Whether the fingerprint tag's value `found` is this instance's for this value: its entry
    stands in it at a multiple of six characters, or it is the CRC-32 that an earlier version
    wrote. Read without trusting it (any text may stand there)."""
    if len(found) == LEGACY_LENGTH:
        legacy = zlib.crc32(f"{instance_id}\n{value}".encode(errors="replace"))
        if found == format(legacy, "08x"):
            return True
    entry = fingerprint(instance_id, value)
    at = found.find(entry)
    while at != -1:
        if at % ENTRY_LENGTH == 0:
            return True
        at = found.find(entry, at + 1)
    return False


def shared_fingerprint(entries: list[str]) -> str:
    """The one fingerprint tag value that holds the entries of up to `ENTRIES_PER_TAG`
    instances written in the same call."""
    if not 0 < len(entries) <= ENTRIES_PER_TAG:
        raise ValueError(f"a fingerprint tag holds 1 to {ENTRIES_PER_TAG} entries")
    return "".join(entries)


def fingerprint_shown(found: str, instance_id: str, value: str) -> str:
    """The fingerprint tag as a log line shows it: the instance's own entry where the tag holds
    it among others ("abcdef+41": and 41 others'), else the tag as it is, cut short."""
    if len(found) <= LEGACY_LENGTH:
        return found
    entry = fingerprint(instance_id, value)
    if fingerprint_holds(found, instance_id, value):
        return f"{entry}+{len(found) // ENTRY_LENGTH - 1}"
    return found if len(found) <= 20 else found[:17] + "..."


@lru_cache(maxsize=65536)
def read_anchor(text: str) -> tuple[datetime | None, str | None]:
    """A from the state tag's value, read without trusting it: (A, None), or (None, why it
    cannot be read)."""
    if len(text) > MAX_TAG_VALUE:
        return None, f"it is longer than {MAX_TAG_VALUE} characters"
    first, notices, marks, others, overrides = _words(text)
    if len(notices) > 1 or marks > 1 or others or len(overrides) > 1:
        return None, "it is not an instant (ISO 8601, like 2026-03-27T17:00:00Z)"
    return _instant(first)


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, tuple[str, ...], int, int, tuple[str, ...]]:
    """The state tag's words: the instant's, the instants of `notice=` words, how many `fp`
    words, how many other words (none in a tag that offhours wrote), and the `held=` words.
    One `off` (or `off=<instant>`) word is one of offhours' (`read_off`); a second is another
    word."""
    words = text.split()
    first, rest = (words[0], words[1:]) if words else ("", [])
    notices = tuple(w[len(NOTICE_PREFIX) :] for w in rest if w.startswith(NOTICE_PREFIX))
    overrides = tuple(w for w in rest if w.startswith(HELD_PREFIX))
    marks = rest.count(FINGERPRINT_MARK)
    offs = min(sum(1 for w in rest if w == OFF_MARK or w.startswith(OFF_PREFIX)), 1)
    others = len(rest) - len(notices) - marks - len(overrides) - offs
    return first, notices, marks, others, overrides


def read_off(text: str | None) -> bool:
    """Whether the state tag says that offhours keeps the resource stopped from A (it stopped
    it at A's event, or found it stopped then): the start of a stop whose hours count as saved
    when it ends (`offhours.savings`)."""
    return off_since(text) is not None


def found_off(text: str | None) -> bool | datetime:
    """The `off` word of a state tag as `handled_value` takes it, to write it again as it was:
    False (none), True (`off`) or its instant (`off=<instant>`)."""
    since = off_since(text)
    if since is None:
        return False
    return since if since != read_anchor(text or "")[0] else True


def off_since(text: str | None) -> datetime | None:
    """When the stop that the state tag records began: A for `off`, the instant of
    `off=<instant>` (a stop made later than its event); None where it records none, or cannot
    be read."""
    if not text:
        return None
    words = text.split()
    for word in words[1:]:
        if word == OFF_MARK:
            return _instant(words[0])[0]
        if word.startswith(OFF_PREFIX):
            return _instant(word[len(OFF_PREFIX) :])[0]
    return None


def _instant(word: str) -> tuple[datetime | None, str | None]:
    if not _INSTANT.match(word):
        return None, "it is not an instant (ISO 8601, like 2026-03-27T17:00:00Z)"
    try:
        at = datetime.fromisoformat(word)
        return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)), None
    except ValueError as exc:
        return None, f"it is not an instant ({exc})"
    except OverflowError:
        return None, "it lies at the edge of the calendar"


def read_notice(text: str | None) -> str | None:
    """The instant of the stop whose notice was sent, as the state tag writes it, or None."""
    if not text:
        return None
    notices = _words(text)[1]
    return notices[0] if len(notices) == 1 else None


def read_held(text: str | None) -> str | None:
    """The override record of the state tag as written (`held=<instant>`), or None."""
    if not text:
        return None
    overrides = _words(text)[4]
    return overrides[0] if len(overrides) == 1 else None


def held_word(until: datetime) -> str:
    """The state tag's word that records the override that offhours holds, and its end."""
    return f"{HELD_PREFIX}{iso(until)}"


def held_until(word: str | None) -> datetime | None:
    """The end instant of a `held=` word, or None where it cannot be read."""
    if word is None or not word.startswith(HELD_PREFIX):
        return None
    return _instant(word[len(HELD_PREFIX) :])[0]


def says_fingerprinted(text: str | None) -> bool:
    """Whether the state tag says that a fingerprint tag goes with it."""
    return text is not None and _words(text)[2] > 0


def handled_value(
    anchor: datetime,
    notice: datetime | None = None,
    fingerprinted: bool = True,
    held: str | None = None,
    off: bool | datetime = False,
) -> str:
    """The state tag's value: A, whether the fingerprint tag goes with it (it is on the
    instance, or written in the same call), the stop whose notice was sent, the override
    that offhours holds (`held_word`), and whether offhours keeps it stopped from A (`off`)."""
    return (
        iso(anchor)
        + (f" {FINGERPRINT_MARK}" if fingerprinted else "")
        + (f" {NOTICE_PREFIX}{iso(notice)}" if notice is not None else "")
        + (f" {held}" if held is not None else "")
        + (
            f" {OFF_PREFIX}{iso(off)}"
            if isinstance(off, datetime)
            else f" {OFF_MARK}"
            if off
            else ""
        )
    )


def shown(text: str, limit: int = 80) -> str:
    """A tag value as a log line quotes it."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
