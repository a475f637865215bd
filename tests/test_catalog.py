"""The catalogue of named schedules is input like any other (DESIGN §4): bounded, and a bad
document is a clear `CatalogError`, never a hang, a crash or a traceback."""

from __future__ import annotations

import pytest

from offhours.catalog import (
    MAX_CATALOG_BYTES,
    CatalogEntryError,
    CatalogError,
    load_catalog,
    parse_catalog,
)


def test_a_plain_catalogue_reads_as_before():
    catalog = parse_catalog(
        "office-hours:\n  value: Mon-Fri 08:00-18:00\n  description: eight to six\n"
        "stop-nightly: stop=0 20 * * *\n"
    )
    assert catalog.lookup("office-hours") == ("office-hours", "Mon-Fri 08:00-18:00", "eight to six")
    assert catalog.lookup("STOP-NIGHTLY") == ("stop-nightly", "stop=0 20 * * *", None)


def test_a_yaml_alias_bomb_is_refused_at_once():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
    )
    assert len(bomb) < 700  # 9**9 strings once expanded
    with pytest.raises(CatalogError, match="aliases"):  # refused before anything expands
        parse_catalog(bomb)


def test_deep_nesting_is_refused_without_a_recursion_error():
    with pytest.raises(CatalogError, match="nested deeper"):
        parse_catalog("office-hours: " + "[" * 20000 + "]" * 20000)


def test_a_document_larger_than_the_bound_is_refused():
    big = "".join(f"n{i}: Mon-Fri 08:00-18:00\n" for i in range(MAX_CATALOG_BYTES // 20))
    with pytest.raises(CatalogError, match="larger than 64 KiB"):
        parse_catalog(big)


def test_too_many_entries_are_refused():
    many = "".join(f"n{i}: 08:00-18:00\n" for i in range(1001))
    with pytest.raises(CatalogError, match="at most 1000"):
        parse_catalog(many)


def test_an_overlong_entry_invalidates_only_itself():
    catalog = parse_catalog(f"good: 08:00-18:00\nlong: '{'x' * 300}'\n{'n' * 200}: 08:00-09:00\n")
    assert catalog.lookup("good") == ("good", "08:00-18:00", None)
    with pytest.raises(CatalogEntryError, match="256 characters"):
        catalog.lookup("long")
    with pytest.raises(CatalogEntryError, match="128 characters"):
        catalog.lookup("n" * 128)


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("- a\n- b\n", "mapping"),
        ("office-hours: [unclosed\n", "not a usable YAML"),
        ("? [a, b]\n: x\n", "not a usable YAML"),
    ],
)
def test_a_broken_document_is_one_clear_error(document, words):
    with pytest.raises(CatalogError, match=words):
        parse_catalog(document)


def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_bytes(b"office-hours: \xff\xfe 08:00-18:00\n")
    with pytest.raises(CatalogError, match="not UTF-8 text"):
        load_catalog(path)


@pytest.mark.parametrize(
    "document",
    [
        "a: 2026-13-45\n",
        "a: {value: 2026-02-30}\n",
        "a: " + "9" * 5000 + "\n",
        "a: !!python/object:os.system ls\n",
        "a: .inf\n",
    ],
    ids=["bad-date", "bad-date-in-entry", "huge-int", "python-tag", "float"],
)
def test_every_value_is_read_as_text_so_no_value_fails_to_construct(document):
    catalog = parse_catalog(document)  # no error for the document as a whole
    (entry,) = catalog.entries
    assert entry.name == "a"
    assert isinstance(entry.value, str)


def test_a_value_that_is_not_a_schedule_invalidates_only_its_users():
    catalog = parse_catalog("good: 08:00-18:00\nodd: 2026-13-45\n")
    assert catalog.lookup("good") == ("good", "08:00-18:00", None)
    assert catalog.lookup("odd") == ("odd", "2026-13-45", None)  # invalid where it is used


# -- a calendar named like a holidays code (DESIGN §7) ------------------------------------------


@pytest.mark.parametrize(
    ("name", "shadowed"),
    [
        ("can", "CAN (Canada)"),
        ("CAN", "CAN (Canada)"),
        ("de", "DE (Germany)"),
        ("De", "DE (Germany)"),
        ("US-CA", "US-CA (United States, subdivision CA)"),
        ("us-ca", "US-CA (United States, subdivision CA)"),
        ("gb-sct", "GB-SCT (United Kingdom, subdivision SCT)"),
    ],
)
def test_a_calendar_named_like_a_holidays_code_is_an_error_in_the_catalogue(name, shadowed):
    # holidays=can means Canada's holidays: the catalogue's 'can' would never be used.
    document = f"office-hours: 08:00-18:00\n{name}:\n  dates: [2026-12-24]\n"
    with pytest.raises(CatalogError) as caught:
        parse_catalog(document, source="SSM parameter /offhours/x/catalog")
    assert str(caught.value) == (
        f"SSM parameter /offhours/x/catalog: the calendar {name!r} has the name of the "
        f"holidays code {shadowed}; rename it"
    )


def test_a_shadowed_calendar_is_an_error_even_when_its_dates_cannot_be_read():
    with pytest.raises(CatalogError, match="the calendar 'de' has the name of the holidays code"):
        parse_catalog("de:\n  dates: [24.12.2026]\n")


def test_a_schedule_or_an_unshadowed_calendar_may_look_like_a_code():
    # A schedule is never named by holidays=, and de-closures is no code of the package.
    catalog = parse_catalog(
        "de: 08:00-18:00\nus-ca: {value: 09:00-17:00}\nde-closures:\n  dates: [2026-12-24]\n"
    )
    assert catalog.lookup("de") == ("de", "08:00-18:00", None)
    assert catalog.lookup("US-CA") == ("us-ca", "09:00-17:00", None)
    assert catalog.calendars() == ["de-closures"]


def test_a_shadowed_calendar_makes_named_schedules_invalid_and_is_said_once():
    """As any other catalogue that cannot be used: the run says why once, its named schedules
    are invalid (their state tags kept), and every other value is read as usual."""
    from datetime import UTC, datetime

    from offhours.catalog import CatalogUnavailable, LazyCatalog
    from offhours.planner import Settings, read_value

    document = "office-hours: 08:00-18:00\ncan:\n  dates: [2026-12-24]\n"
    said: list[str] = []
    catalog = LazyCatalog(lambda: parse_catalog(document), said.append)
    at = datetime(2026, 12, 24, 12, tzinfo=UTC)
    settings = Settings(catalog=catalog)
    named = read_value("office-hours", at, settings)
    assert named.error is not None and named.transient
    assert "the calendar 'can' has the name of the holidays code CAN (Canada)" in str(named.error)
    with pytest.raises(CatalogUnavailable, match="rename it"):
        catalog.calendar("can")
    assert said == [
        "catalogue: the calendar 'can' has the name of the holidays code CAN (Canada); rename it"
    ]
    plain = read_value("Mon-Fri 08:00-18:00 holidays=DE", at, settings)
    assert plain.error is None and plain.desired is not None


def test_the_built_in_catalogue_shadows_no_holidays_code():
    from offhours.catalog import default_catalog
    from offhours.closures import package_code

    calendars = default_catalog().calendars()  # parses: no CatalogError
    assert calendars and all(package_code(name) is None for name in calendars)
