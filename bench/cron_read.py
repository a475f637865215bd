"""Reading a cron value: the cost of one distinct value, dense expressions included.

A read is what `offhours check` and the planner do with a value they have not seen before:
parse it, then ask for its desired state, its last event and its next five events. Caches are
cleared before every read, so each figure is a cold read. Every expression is read in UTC and in
Europe/Berlin at instants around the spring-forward and fall-back switches, at the end of
February of a leap year and in an ordinary week. Then the same expressions with
``holidays=DE-BB`` (Brandenburg: Easter Sunday is a holiday there), read in Europe/Berlin on
holidays: Christmas Day, the end of two closed days in a row, and Easter Sunday 2027, which is
the spring-forward day; a start on a closed day is skipped, so each search must jump over it.
The holidays package is imported before the clock starts (a process pays that once, about a
tenth of a second, and only when a value names one of its codes); its per-year tables are
cleared with the other caches. Goal: the worst read at most 20 ms.
Prints figures; it is not a timed test.
Run: .venv/bin/python bench/cron_read.py
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

from offhours import language, timeline

try:  # the compiled-expression cache, where there is one
    from offhours import cron as cron_module
except ImportError:  # pragma: no cover - older trees
    cron_module = None  # type: ignore[assignment]
try:  # holidays and closures, where there are
    from offhours import closures as closures_module
except ImportError:  # pragma: no cover - older trees
    closures_module = None  # type: ignore[assignment]

GOAL_MS = 20.0
DENSE = [
    "start=* * * * *",
    "start=* * * 5 *",
    "start=*/5 * * 5 *",
    "start=* * * * *; stop=*/2 * * * *",
    "start=* 2 * * *; stop=* 3 * * *",
    "start=* * 29 2 *",
    "start=* * 29 2 mon",
    "start=* * 29 2 */7",
    "start=* * L * fri#5",
    "start=* 0 * * mon#5; stop=* 12 * * mon#5",
    "start=0-30 * 1-7 * 1-5; stop=31-59 * 1-7 * 1-5",
    "stop=* * 31 * *",
    "start=0 8 * * 1-5; stop=30 18 * * 1-5",
]
ZONES = ["UTC", "Europe/Berlin"]
INSTANTS = [
    datetime(2026, 3, 27, 16, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 15, tzinfo=UTC),
    datetime(2028, 2, 29, 23, 59, 30, tzinfo=UTC),
]
HOLIDAY_INSTANTS = [
    datetime(2026, 12, 25, 12, 0, tzinfo=UTC),
    datetime(2026, 12, 26, 22, 59, 30, tzinfo=UTC),
    datetime(2027, 3, 28, 0, 59, tzinfo=UTC),
    datetime(2027, 3, 28, 12, 0, tzinfo=UTC),
]


def clear_caches() -> None:
    modules = [language, timeline, cron_module, closures_module]
    for module in modules:
        if module is None:
            continue
        for value in vars(module).values():
            if isinstance(value, functools._lru_cache_wrapper):
                value.cache_clear()


def read(value: str, at: datetime) -> float:
    clear_caches()
    start = time.perf_counter()
    line = timeline.timeline(language.parse_schedule(value))
    line.desired_state(at)
    line.last_event(at)
    line.next_events(at, 5)
    return time.perf_counter() - start


def table(suffixes: list[str], instants: list[datetime]) -> tuple[float, str]:
    print(f"{'value':<48} {'worst ms':>9} {'median ms':>10}")
    worst_all = (0.0, "")
    for expression in DENSE:
        times = []
        for suffix in suffixes:
            value = f"{expression}; {suffix}"
            for at in instants:
                times.append(min(read(value, at) for _ in range(3)))
        times.sort()
        worst, median = times[-1] * 1000, times[len(times) // 2] * 1000
        worst_all = max(worst_all, (worst, expression))
        print(f"{expression:<48} {worst:>9.2f} {median:>10.2f}")
    return worst_all


def main() -> None:
    print("cron reads: parse + desired state + last event + next 5 events, cold caches")
    worst_all = table([f"tz={zone}" for zone in ZONES], INSTANTS)
    if closures_module is not None:
        import holidays  # noqa: F401  (once per process: not part of a read)

        print("\nthe same with holidays=DE-BB, in Europe/Berlin on holidays")
        worst_all = max(worst_all, table(["tz=Europe/Berlin; holidays=DE-BB"], HOLIDAY_INSTANTS))
    print(f"worst read: {worst_all[0]:.2f} ms ({worst_all[1]}); goal: at most {GOAL_MS:.0f} ms")


if __name__ == "__main__":
    main()
