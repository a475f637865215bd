"""A call per resource, paced to the service's one bucket: the services without batch calls
(Auto Scaling, EKS) share this loop. A call that offhours itself refuses (`Refused`) is that
resource's failure, never the others'; a throttled one waits for the bucket and is tried again
a few times, and is otherwise left to the next run (`not_attempted`), never failed; an entry
that needs a second call takes its own token (`take`), and counts it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offhours.pace import THROTTLING_CODES, Pacer
from offhours.resources import (
    CONNECTION_ERRORS,
    BatchResult,
    MayCall,
    OutOfTime,
    PartialBatch,
    error_of,
    request_id_of,
)

MAX_THROTTLES = 3


class Refused(Exception):
    """offhours itself refuses to act on a resource (its size is unknown): its failure.
    `troubleshooting` is its code in `offhours.codes`, where it has one of its own."""

    def __init__(self, code: str, message: str, troubleshooting: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.troubleshooting = troubleshooting


class NoToken(Exception):
    """The bucket has no token for an entry's next call within the run's time."""


class PerResource:
    """Calls to one service, a resource at a time, each paced to `pacer`'s bucket "*"."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self._extra = 0  # calls made by entries beyond their first

    def take(self) -> None:
        """The token of one more call in an entry of `each` (a record, then the resize)."""
        self.pacer.settle("*")
        if not self.pacer.acquire("*"):
            raise NoToken
        self._extra += 1

    def pages(self, pages: Iterator[Any], service: str) -> Iterator[Any]:
        """The pages of a listing, each paced to the bucket."""
        while True:
            if not self.pacer.acquire("*"):
                raise OutOfTime(f"{service}'s rate limit left no time to finish the listing")
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                self.pacer.settle("*")
            yield page

    def each(
        self, call: Callable[[str], Any], ids: Sequence[str], may_call: MayCall
    ) -> BatchResult:
        """`call` for each of `ids`, in order, within the run's time and the bucket."""
        result = BatchResult()
        pending = list(ids)
        throttles = 0
        while pending:
            if may_call is not None and not may_call():
                result.deferred_reason = "time"
                break
            if not self.pacer.acquire("*"):
                result.deferred_reason = "rate"
                break
            name = pending.pop(0)
            before = self._extra
            try:
                response = call(name)
            except Refused as exc:
                result.failed[name] = (exc.code, exc.message)
                if exc.troubleshooting is not None:
                    result.codes[name] = exc.troubleshooting
                continue
            except NoToken:
                result.deferred_reason = "rate"
                result.not_attempted.append(name)
                break
            except ClientError as exc:
                code = error_of(exc)
                if request_id_of(exc.response):
                    result.request_ids[name] = request_id_of(exc.response)
                if code[0] in THROTTLING_CODES and throttles < MAX_THROTTLES:
                    self.pacer.throttled("*")
                    throttles += 1
                    pending.insert(0, name)
                elif code[0] in THROTTLING_CODES:
                    result.deferred_reason = "rate"
                    result.not_attempted.append(name)
                else:
                    result.failed[name] = code
                continue
            except CONNECTION_ERRORS as exc:
                result.not_attempted += [name, *pending]
                raise PartialBatch(result, str(exc)) from exc
            except BotoCoreError as exc:
                result.failed[name] = (type(exc).__name__, str(exc))
                continue
            finally:
                self.pacer.settle("*")
                result.calls += 1 + self._extra - before
            result.succeeded.append(name)
            if request_id_of(response):
                result.request_ids[name] = request_id_of(response)
        result.not_attempted += pending
        return result
