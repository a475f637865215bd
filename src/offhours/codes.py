"""The codes that offhours' warning and error lines carry, and the troubleshooting page.

Every WARNING and ERROR line that offhours writes has a field `code`: a short, stable name such
as `OH-STATE-UNTRUSTED` (`OH-<AREA>-<WHAT>`), which the troubleshooting page explains under an
anchor of its own (`troubleshooting.md#oh-state-untrusted`). So do the INFO decision lines that
say a piece of work was put off or went wrong beside the decision (a notice not put, an Auto
Scaling group's own scheduled action that will undo a stop). `offhours check` gives the code
of an invalid value.

A decision line with more than one (a failed action on an instance whose state tag was not
trusted, say) has them all in `codes`, the line's main one first: a failure's first, else its
warning's, in the order the reason says them; `code` is always the main one.

The code is set where the line's words are made (the place that knows why), as a literal
string: `grep -rn OH-STATE-UNTRUSTED src/` finds every place that writes it, and
tests/test_codes.py checks that every code in the source is one of `CODES`, and the reverse.
A code never changes its meaning; one that is no longer written stays out of the source and
out of `CODES` together. docs/troubleshooting.md is generated from `CODES`
(`troubleshooting_markdown`, written by docs/gen_troubleshooting.py).
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass

WIDTH = 96  # the page's lines


@dataclass(frozen=True)
class Code:
    """What a code means, in words for a person reading the log at 3 a.m."""

    title: str  # what happened, in a few words
    cause: str  # why it happens
    fix: str  # what to do about it
    level: str  # the line's level: ERROR, WARNING or INFO (a decision line's outcome decides)
    line: str  # which lines carry it, in words
    example: str = ""  # what the line says, shortened with "..."
    example_key: str = "reason"  # the field of the line that says it


CODES: dict[str, Code] = {
    # --- tag values -------------------------------------------------------------------------
    "OH-VALUE-INVALID": Code(
        "The schedule tag's value is not a schedule",
        "The value of the schedule tag cannot be read: a typo, a time written `8am` instead of "
        "`08:00`, a cron expression with six fields, a word offhours does not know. The reason "
        "quotes the piece that is wrong and says at which character it starts.",
        "Run `offhours check 'VALUE'` on a workstation: it says the same, and shows what a "
        "corrected value means. Fix the tag; the next run adopts the resource and its schedule "
        "applies from its next event. Until then offhours leaves the resource untouched and "
        "removes its state tags, so a value given later starts afresh.",
        "WARNING",
        "a decision line, outcome `invalid`",
        "invalid schedule, left untouched: '8am' at character 9: is not a time: expected HH:MM, "
        "like 08:00",
    ),
    "OH-VALUE-TIMEZONE": Code(
        "The value names a time zone that does not exist",
        "The value names a time zone that is not an IANA name (`Europe/Berln`, "
        "`tz=US/Pacifc`). The reason suggests the closest name when there is one. (A word "
        "without a `/`, such as `Berlin`, reads as a word offhours does not know: "
        "OH-VALUE-INVALID.)",
        "Write the zone's IANA name (`Europe/Berlin`, `America/New_York`, `UTC`); "
        "`offhours check 'VALUE'` says whether it is known. A value without a zone uses the "
        "deployment's `DefaultTimezone`.",
        "WARNING",
        "a decision line, outcome `invalid`",
        "invalid schedule, left untouched: 'Europe/Berln' at character 21: unknown time zone "
        "'Europe/Berln': expected an IANA name like Europe/Berlin (did you mean "
        "'Europe/Berlin'?)",
    ),
    "OH-VALUE-NAME-UNKNOWN": Code(
        "The value names a schedule that the catalogue does not have",
        "The value is a single name (a named schedule), and the deployment's catalogue of named "
        "schedules has no schedule of that name (the reason lists those it has), or the name "
        "is one of its calendars, which go after a schedule as `holidays=NAME`.",
        "Use a name the catalogue has, or add the schedule to the catalogue (the SSM parameter "
        "`CatalogParameter`, or the built-in one). `offhours check 'VALUE' --catalog FILE` reads "
        "a catalogue file.",
        "WARNING",
        "a decision line, outcome `invalid`",
        "invalid schedule, left untouched: 'office-hour' at character 1: is not a schedule in "
        "the catalogue (it has: office-hours, ...)",
    ),
    "OH-VALUE-HOLIDAYS-UNKNOWN": Code(
        "A holidays= word names no calendar",
        "A `holidays=CODE` word names neither a country or subdivision of the `holidays` package "
        "(`DE`, `DE-BY`, `US-CA`) nor a calendar of the catalogue. The reason suggests the "
        "closest code or lists the country's subdivisions.",
        "Correct the code (`offhours check 'VALUE'` says which are known), or add the calendar "
        "to the catalogue.",
        "WARNING",
        "a decision line, outcome `invalid`",
        "invalid schedule, left untouched: 'DE-BZ' at character 44: is not a subdivision of DE "
        "in the holidays package (it has: BB, BE, BW, BY, ...)",
    ),
    "OH-CATALOG-UNAVAILABLE": Code(
        "The catalogue of named schedules cannot be read",
        "The run could not load the catalogue: the SSM parameter is missing, the function may "
        "not read it, or its text is not a valid catalogue. One ERROR line (`catalog-error`) says "
        "why; every value that names a schedule or a catalogue calendar is invalid in that run, "
        "with this code on its decision line. Their state tags are kept: the trouble is the "
        "run's, not the values'.",
        "Read the error line's message. Restore or correct the parameter (`aws ssm "
        "get-parameter --name ...`); check the text with `offhours check NAME --catalog FILE`. "
        "Values that do not name a schedule are not concerned, and the next run that reads "
        "the catalogue acts as usual.",
        "ERROR",
        "the run's `catalog-error` line, and (at WARNING) the decision lines of the values "
        "concerned, outcome `invalid`",
        "the catalogue of named schedules cannot be used, so named schedules are invalid in "
        "this run (their state tags are kept): ...",
        example_key="message",
    ),
    "OH-CATALOG-ENTRY-INVALID": Code(
        "A named schedule or calendar of the catalogue is invalid",
        "The value names an entry of the catalogue whose own value (or calendar) cannot be "
        "read: the catalogue was changed by hand and the entry broke. Every resource that names "
        "it is left untouched.",
        "Correct the entry in the catalogue; `offhours check NAME --catalog FILE` reads it as "
        "the run does.",
        "WARNING",
        "a decision line, outcome `invalid`",
        "invalid schedule, left untouched: 'office-hours' at character 1: names catalogue entry "
        "'office-hours', which is invalid: ...",
    ),
    # --- state tags ---------------------------------------------------------------------------
    "OH-STATE-UNTRUSTED": Code(
        "The state tag is not believed: the resource is adopted",
        "offhours' state tag (`<TagKey>:offhours-handled`) cannot be read, says the resource "
        "was handled later than the run, or says that a fingerprint tag goes with it and there "
        "is none. Somebody or something wrote or removed offhours' tags by hand (a script, "
        "Terraform without `ignore_tags`, tags copied in part). offhours does not act on a "
        "record it cannot believe: it adopts the resource without starting or stopping it, and "
        "its schedule applies from its next event.",
        "Nothing to do for the resource. Find what writes the tags: leave "
        "`<TagKey>:offhours-handled` and `<TagKey>:offhours-fingerprint` to offhours "
        "(Terraform: list both in the provider's `ignore_tags`). State tags written for "
        "another schedule value or another instance are not this code: see Other problems "
        "below.",
        "WARNING",
        "a decision line, outcome `adopted`",
        "its state tag 'yesterday' cannot be read (...), so it is not trusted",
        example_key="warning",
    ),
    "OH-STATE-TAG-FAILED": Code(
        "offhours' state tag could not be written or removed",
        "The start or stop (if any) was done, but writing the state tag that records it, or "
        "removing the state tags of a resource offhours no longer handles, failed: `error_code` "
        "gives AWS's code (`AccessDenied`, `UnauthorizedOperation`, a tag policy, a resource "
        "that has as many tags as AWS allows).",
        "Read `error_code`. The function's role needs `ec2:CreateTags`/`ec2:DeleteTags` (or "
        "the kind's tagging calls) on the resource; an SCP or a tag policy may forbid the tag "
        "key. The next run finds the resource in its event's state and records it.",
        "ERROR",
        "a decision line, outcome `failed`",
        "stop done, but recording the state tag failed (UnauthorizedOperation: ...); the next "
        "run records it; ...",
    ),
    # --- overrides and notices ----------------------------------------------------------------
    "OH-OVERRIDE-INVALID": Code(
        "The override tag cannot be read: it is ignored",
        "The resource's override tag (`<TagKey>:override`) holds a value that is not an "
        "override, which reads like `running until 22:00`, `stopped until Mon 08:00` or "
        "`running until 2026-12-02T09:00`. The schedule decides as if it were not there.",
        "Write the override with `offhours override ID --running --until TIME` (or "
        "`--stopped`), which checks it, or correct the tag by hand; `offhours check --instance "
        "ID` says how it reads.",
        "WARNING",
        "a decision line",
        "its override 'runing until 22:00' is ignored: ...",
        example_key="warning",
    ),
    "OH-OVERRIDE-TOO-LONG": Code(
        "The override lasts longer than MaxOverrideHours: it is ignored",
        "The override's end is further away than the deployment's `MaxOverrideHours` allows. It "
        "is ignored; when its end is surely past the limit, its tag is removed (else it would "
        "take effect by itself later, once its end came within the limit).",
        "Ask for a shorter override, or raise `MaxOverrideHours`. To keep a resource stopped or "
        "running for good, change its schedule tag (or opt it out).",
        "WARNING",
        "a decision line",
        "its override 'running until 2026-06-01' is ignored and removed: ... MaxOverrideHours ...",
        example_key="warning",
    ),
    "OH-OVERRIDE-UNTAGGED": Code(
        "An override on a resource without the schedule tag: ignored",
        "The resource carries an override tag and offhours' state tags, but its schedule tag is "
        "gone: offhours acts only on resources that carry it, so the override is ignored.",
        "Put the schedule tag back if offhours should handle the resource, else remove the "
        "override tag.",
        "WARNING",
        "a decision line",
        "its override 'stopped until 22:00' is ignored: the schedule tag is gone, ...",
        example_key="warning",
    ),
    "OH-OVERRIDE-TAG-FAILED": Code(
        "The override tag could not be written or removed",
        "offhours writes the override's instant back into its tag (an override by a time of "
        "day) and removes the tag once the override is over; that call failed (`error_code`).",
        "Read `error_code`: usually the function's tagging permissions, or an SCP. The next run "
        "tries again; an override left behind after its end never acts again.",
        "ERROR",
        "a decision line, outcome `failed`",
        "...; removing the override tag failed (AccessDenied: ...)",
    ),
    "OH-NOTICE-NOT-PUT": Code(
        "The notice of a stop could not be put",
        "With `NoticeMinutes`, offhours puts an `Instance Stop Pending` event on EventBridge "
        "before a stop. This one was not put: PutEvents failed (the reason gives AWS's code), "
        "the run's time ran out, or the run reached its limit of 500 notices per target. The "
        "stop itself is not held back.",
        "Read the reason. A refused PutEvents: the function's `events:PutEvents` permission on "
        "the default bus. A later run puts the notice while the stop is still ahead.",
        "INFO",
        "a decision line",
        "...; the notice of the stop at 2026-03-27T17:00:00Z could not be put (AccessDenied: ...)",
    ),
    # --- starting and stopping ----------------------------------------------------------------
    "OH-ACTION-FAILED": Code(
        "A start or a stop failed",
        "AWS refused the call or it failed: `error_code` gives AWS's code. The usual ones: "
        "`UnauthorizedOperation`/`AccessDenied` (the role, an SCP, a permissions boundary), "
        "`InsufficientInstanceCapacity` (EC2 has no capacity for the type in that zone), "
        "`IncorrectInstanceState`/`InvalidDBInstanceState` (the resource changed state in "
        "between), `UnsupportedOperation`. The state tag is left as it was.",
        "Read `error_code` and the reason. The next run tries again, as long as the event is "
        "the latest; capacity errors usually pass, permission errors do not. The `failed` "
        "alarm fires.",
        "ERROR",
        "a decision line, outcome `failed`",
        "start failed (InsufficientInstanceCapacity: ...); the schedule's start at ... applies",
    ),
    "OH-START-UNDONE": Code(
        "A start did not hold: the resource stopped again at once",
        "EC2 stopped the instance again right after offhours started it, with "
        "`Client.InternalError`: the usual sign of an EBS volume encrypted with a "
        "customer-managed KMS key that the function may not use. The run after the start "
        "reports it as failed (the alarm fires) instead of calling the start a success.",
        "Add the key's ARN to the stack's `KmsKeyArns` parameter (the function then has "
        "`kms:CreateGrant` on it), and start the instance by hand or wait for the next start "
        "event.",
        "ERROR",
        "a decision line, outcome `failed`",
        "the start at 2026-03-27T08:00:00Z did not hold: EC2 stopped it again with "
        "Client.InternalError, ...",
    ),
    "OH-HIBERNATE-UNSUPPORTED": Code(
        "hibernate means nothing for this kind of resource: stopped plainly",
        "The value says `hibernate`, and the resource is not an EC2 instance (a database, a "
        "cluster, a group): it is stopped the ordinary way.",
        "Nothing is wrong with the stop. Remove `hibernate` from the value to silence the warning.",
        "WARNING",
        "a decision line",
        "the schedule says hibernate, which means nothing for a database: stopping it plainly",
        example_key="warning",
    ),
    "OH-HIBERNATE-UNCONFIGURED": Code(
        "The instance is not configured for hibernation: stopped plainly",
        "The value says `hibernate`, but the EC2 instance was not launched with hibernation "
        "enabled (it can only be set at launch): it is stopped the ordinary way, and its memory "
        "is lost.",
        "Launch the instance with hibernation enabled (an encrypted root volume large enough "
        "for its memory), or remove `hibernate` from the value.",
        "WARNING",
        "a decision line",
        "the schedule says hibernate, but the instance is not configured for hibernation: "
        "stopping it plainly",
        example_key="warning",
    ),
    "OH-SIZE-UNKNOWN": Code(
        "A group's size to start it to is unknown: left as it is",
        "To start an Auto Scaling group or an EKS node group, offhours restores the sizes it "
        "recorded at the stop (the `<TagKey>:offhours-size` tag). That record is missing or "
        "not this group's, and the value names no `size=MIN/DESIRED/MAX` to fall back on.",
        "Add `size=MIN/DESIRED/MAX` to the value (`Mon-Fri 08:00-18:00 size=1/2/4`), or set the "
        "group's sizes by hand.",
        "ERROR",
        "a decision line, outcome `failed`",
        "start failed (SizeUnknown: ..., and the tag value names no size=MIN/DESIRED/MAX to "
        "start it to: left as it is); ...",
    ),
    "OH-SIZE-INVALID": Code(
        "The size to start a node group to cannot be used",
        "EKS needs a node group's maximum size to be at least 1, and the size to start it to "
        "names a maximum of 0.",
        "Correct the value's `size=` word (`size=0/1/3` starts it with one node, at most three).",
        "ERROR",
        "a decision line, outcome `failed`",
        "start failed (SizeInvalid: EKS needs a maximum size of at least 1, ...); ...",
    ),
    "OH-ASG-SCHEDULED-ACTION": Code(
        "An Auto Scaling group's own scheduled action will undo the stop",
        "offhours stopped the group (sizes 0/0/0), and the group has scheduled actions of its "
        "own that set a size above 0: when they run, the group starts again. offhours leaves "
        "them as they are.",
        "Remove the group's scheduled actions, or align them with the schedule tag: two "
        "schedulers on one group undo each other.",
        "INFO",
        "a decision line, outcome `done`",
        "...; warning: its own scheduled action 'night-batch' (0 22 * * *) sets a size above 0 "
        "and will undo this stop ...",
    ),
    "OH-RDS-EVENTS-CUT": Code(
        "RDS's events were not read to the end",
        "RDS starts a database that has been stopped for seven days; offhours finds those "
        "starts in RDS's events, to stop the database again. The events could not be read to "
        "the end (a page limit, a page that failed, the run's time): those starts are taken for "
        "a person's start this run, and the databases stay running until their next stop event.",
        "Usually passes by itself. If it repeats: the function's `rds:DescribeEvents` "
        "permission, or a very busy account (the line's `listings` say how far each listing "
        "got).",
        "WARNING",
        "an `rds-events-error` line",
        "RDS events of 111122223333/eu-central-1 were not read to the end: ...",
        example_key="message",
    ),
    # --- targets ------------------------------------------------------------------------------
    "OH-TARGET-REGION": Code(
        "A target's region is not a region",
        "`Regions` names a region that is not an AWS region name, or one the installed "
        "botocore does not know (a typo, or a region newer than the package).",
        "Correct the stack's `Regions` parameter; for a new region, update the package.",
        "ERROR",
        "a `target-error` line",
        "target own account/eu-centrl-1: 'eu-centrl-1' is not a known AWS region ...",
        example_key="message",
    ),
    "OH-TARGET-UNREACHABLE": Code(
        "A service could not be reached in a target",
        "The endpoint of EC2 (or RDS, Auto Scaling, EKS) in that region did not answer, or "
        "went away in the middle of the run. Nothing more was tried there in this run; what was "
        "not attempted is said on its decision lines.",
        "Usually passes by itself: the next run tries again. If it repeats: the function's "
        "network (a VPC without a NAT gateway or VPC endpoints), or a region not enabled in "
        "the account.",
        "ERROR",
        "a `target-error` line, and (at INFO) the decision lines of what was not attempted, "
        "outcome `deferred`",
        "target own account/eu-central-1: EC2 cannot be reached: ...",
        example_key="message",
    ),
    "OH-TARGET-REFUSED": Code(
        "AWS refused a call for a whole target",
        "A call for the whole target failed with AWS's error (the code is in the line): most "
        "often `AccessDenied` on assuming the member role, or on listing the resources. The "
        "member role is missing in that account, its trust does not name this stack's role "
        "that reconciles, its external id differs, or an SCP forbids the call.",
        "For `AccessDenied` on the role: deploy the member stack in that account; its trust "
        "must name `SchedulerRoleArn` (with `FanOut`, `WorkerRoleArn`; the member stack's "
        "`WorkerRoleArn` is set exactly when `FanOut` is), and `MemberExternalId` must match. "
        "For a listing: the function's permissions in that account.",
        "ERROR",
        "a `target-error` line",
        "target 111122223333/eu-central-1: AccessDenied: User: ... is not authorized to perform: "
        "sts:AssumeRole ...",
        example_key="message",
    ),
    "OH-TARGET-FAILED": Code(
        "A target failed for another reason",
        "Something else went wrong for a whole target (no credentials, a response that could "
        "not be read): the line gives the error's type and words. The other targets ran.",
        "Read the error. If it repeats and says nothing you can act on, report it with the line.",
        "ERROR",
        "a `target-error` line",
        "target own account/eu-central-1 (RDS): NoCredentialsError: Unable to locate credentials",
        example_key="message",
    ),
    "OH-CONFIG-NO-REGION": Code(
        "No region to look after",
        "Neither `REGIONS` nor `AWS_REGION` is set, so the run has no target.",
        "Set the stack's `Regions` parameter (the function's `REGIONS` variable).",
        "ERROR",
        "a line of the run",
        "no region to look after: set REGIONS, or run where AWS_REGION is set",
        example_key="message",
    ),
    "OH-CONFIG-TIMEZONE": Code(
        "The deployment's default time zone is invalid",
        "A value without a zone of its own uses `DefaultTimezone`, and that is not an IANA "
        "zone name.",
        "Set the stack's `DefaultTimezone` (or `--default-timezone`) to an IANA name such as "
        "`Europe/Berlin`.",
        "WARNING",
        "a decision line, outcome `invalid`",
        "invalid schedule, left untouched: the deployment's default time zone is invalid: ...",
    ),
    # --- time and rate limits -----------------------------------------------------------------
    "OH-RUN-DEFERRED": Code(
        "Work was left for the next run",
        "The run's time or AWS's rate limits ran out before a target's work was done: some "
        "decisions (`deferred`) and first fingerprints (`background_deferred`) were left. "
        "Throttling is not a failure: offhours paces its calls to AWS's limits, and the next "
        "runs finish the work. The deferred targets alarm fires.",
        "Nothing, if it happens after a large change (a first run over many resources). If it "
        "repeats: raise `TimeoutSeconds`, or turn on `FanOut` (one worker per target).",
        "WARNING",
        "a `target-deferred` line",
        "target own account/us-east-1: 120 decision(s) and 0 first fingerprint(s) left for the "
        "next run (...); the next runs finish them",
        example_key="message",
    ),
    "OH-RUN-TIME-LIMIT": Code(
        "The run was near its time limit",
        "The run stops starting new calls when less than 20 seconds of the invocation are "
        "left: a target that was not reached, or a decision that was not attempted, is the "
        "next run's. The order of targets turns from run to run, so the same ones are never "
        "always last.",
        "If it repeats: raise `TimeoutSeconds`, or turn on `FanOut`.",
        "WARNING",
        "a `target-deferred` line, and (at INFO) the decision lines of what was not "
        "attempted, outcome `deferred`",
        "target own account/us-east-1: not reached, the run was near its time limit; the next "
        "run does it",
        example_key="message",
    ),
    "OH-RUN-RATE-LIMITED": Code(
        "AWS's rate limit left no time for the call in this run",
        "offhours paces its calls to the service's rate limits (and slows down when AWS "
        "throttles): a call that could not get its turn within the run's time is left to the "
        "next run. Other tools calling the same API in the account share those limits.",
        "Nothing, unless it repeats: then look for other heavy callers of the API in the "
        "account (CloudTrail), raise `TimeoutSeconds`, or turn on `FanOut`.",
        "INFO",
        "a decision line, outcome `deferred`",
        "not attempted: EC2's rate limit left no time for it in this run (throttling, not a "
        "fault of the instance); the next run does it; ...",
    ),
    # --- events and the fan-out queue ---------------------------------------------------------
    "OH-EVENT-NO-TIME": Code(
        "The event has no time: the clock is used",
        "The function was invoked with an event that has no `time` (a test event from the "
        "console, a hand-made invocation). The run uses the function's clock.",
        "Nothing, for a test. Scheduled runs come from EventBridge, whose events have a time.",
        "WARNING",
        "a line of the run",
        "the event has no time; using the clock",
        example_key="message",
    ),
    "OH-EVENT-TIME-INVALID": Code(
        "The event's time cannot be read: nothing was done",
        "The event's `time` is not an ISO 8601 instant. The run changes nothing and counts a "
        "failed target, so that the alarm fires.",
        "Invoke the function with EventBridge's scheduled event, or a `time` like "
        "`2026-03-27T16:00:00Z`.",
        "ERROR",
        "an `event-rejected` line",
        "the event's time 'yesterday' is not an ISO 8601 instant; nothing was done",
        example_key="message",
    ),
    "OH-EVENT-TIME-SKEW": Code(
        "The event's time is far from the clock: nothing was done",
        "The event's time is more than 15 minutes before or after the function's clock: a "
        "replayed event from an archive, the sample `events/scheduled.json` sent to a real "
        "account, a retry hours later. A run always acts at its event's time, and acting on an "
        "old one would replay its events, so nothing is done; the alarm fires.",
        "Nothing for a replay or a sample. To run now by hand, send an event whose time is now "
        "(or use `offhours run`).",
        "ERROR",
        "an `event-rejected` line",
        "the event's time 2026-03-27T16:00:00Z is 3 h 5 min behind the clock (...): a replayed, "
        "sample or late event is not acted on; nothing was done",
        example_key="message",
    ),
    "OH-EVENT-WRONG-FUNCTION": Code(
        "The event was sent to the wrong function: nothing was done",
        "The scheduler got SQS queue messages (meant for the fan-out worker), or the worker got "
        "an event that is not from its queue.",
        "Point the event source at the right handler: the schedule at "
        "`offhours.handler.lambda_handler`, the queue at `offhours.worker.lambda_handler`. The "
        "stack does this; a hand-made trigger may not.",
        "ERROR",
        "an `event-rejected` line",
        "this is the scheduler: queue messages are for offhours.worker.lambda_handler; nothing "
        "was done",
        example_key="message",
    ),
    "OH-MESSAGE-UNREADABLE": Code(
        "A queue message is not an offhours target: dropped",
        "With `FanOut`, the worker got a message that is not one the scheduler writes (not "
        "JSON, fields missing or of the wrong form). It is dropped, not retried, and counted "
        "failed.",
        "Find who sends to the queue: its policy lets only the scheduler send. Messages are "
        '`{"region": ..., "account": ..., "time": ...}`.',
        "ERROR",
        "a `message-dropped` line",
        "not an offhours target message (not JSON): ...",
        example_key="message",
    ),
    "OH-MESSAGE-NOT-A-TARGET": Code(
        "A queue message names a target that is not this deployment's: dropped",
        "The message names an account or region that is not among the worker's own "
        "`TargetAccounts` x `Regions`. The worker runs only what its configuration confirms: no "
        "role is assumed, nothing is touched.",
        "If the scheduler and the worker disagree, they run with different settings: redeploy "
        "the stack so that both have the same. Otherwise, find who sends to the queue.",
        "ERROR",
        "a `message-dropped` line",
        "target 111122223333/eu-west-1 is not one of this deployment's targets (TARGET_ACCOUNTS "
        "x REGIONS): dropped, no role assumed, nothing touched",
        example_key="message",
    ),
    "OH-MESSAGE-AHEAD": Code(
        "A queue message's run is ahead of the clock: dropped",
        "The message's run time is more than a minute after the worker's clock: not a message "
        "the scheduler wrote for a run that has happened.",
        "Find who sends to the queue.",
        "ERROR",
        "a `message-dropped` line",
        "target own account/us-east-1: the run's time ... is ahead of the clock (...): dropped, "
        "nothing touched",
        example_key="message",
    ),
    "OH-MESSAGE-STALE": Code(
        "A queue message waited more than 15 minutes: dropped",
        "The message's run is more than 15 minutes old: the workers could not keep up (their "
        "concurrency, throttling, errors and retries), or old messages were sent back from the "
        "dead-letter queue. A newer run of the same target catches up with its latest event.",
        "Nothing for a one-off. If it repeats: raise `WorkerMaxConcurrency`, or look at the "
        "worker's errors.",
        "ERROR",
        "a `message-dropped` line",
        "target own account/us-east-1: the queued run of ... is more than 15 minutes old (...); "
        "a newer run of this target catches up: dropped",
        example_key="message",
    ),
    "OH-MESSAGE-RETRY-DELAY": Code(
        "A failed message's retry could not be brought forward",
        "A target failed; the worker asks the queue to show its message again in 30 seconds, "
        "and that call failed. The queue's own visibility timeout then decides when the retry "
        "comes: later, not never.",
        "Nothing. If it repeats: the worker's `sqs:ChangeMessageVisibility` permission.",
        "WARNING",
        "a line of the run",
        "could not shorten the retry delay of message ...: ...",
        example_key="message",
    ),
    "OH-QUEUE-SEND-FAILED": Code(
        "A target could not be put on the queue",
        "With `FanOut`, the scheduler puts one message per target on the queue; the queue "
        "refused this one (the line gives SQS's code). The target is not run at this time.",
        "Read the code: the scheduler's `sqs:SendMessage` permission, the queue's KMS key, or "
        "the queue itself. The next run puts it again.",
        "ERROR",
        "a `target-error` line",
        "target own account/us-east-1: the queue refused the message: ...",
        example_key="message",
    ),
    # --- offhours' own errors -----------------------------------------------------------------
    "OH-INTERNAL-ERROR": Code(
        "offhours met an error it did not foresee",
        "Reading a value, evaluating a schedule at the run's time, or deciding for a resource "
        "raised an error that offhours does not expect: a bug. The resource is left untouched "
        "(and its state tags kept); the other resources are decided as usual.",
        "Report it with the line (the reason gives the error's type and words, and the "
        "resource's tags). `offhours check 'VALUE' --at TIME` at the line's `event_time` "
        "often shows it again.",
        "ERROR",
        "a decision line, outcome `failed` (`invalid` where a value could not be read)",
        "could not be decided, left untouched (KeyError: ...)",
    ),
}

# The page's sections, in order: a heading, and the areas (OH-<AREA>-...) it takes.
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Tag values and the catalogue", ("VALUE", "CATALOG")),
    ("State tags", ("STATE",)),
    ("Overrides and notices", ("OVERRIDE", "NOTICE")),
    ("Starting and stopping", ("ACTION", "START", "HIBERNATE", "SIZE", "ASG", "RDS")),
    ("Targets, regions and settings", ("TARGET", "CONFIG")),
    ("Time and rate limits", ("RUN",)),
    ("Events and the fan-out queue", ("EVENT", "MESSAGE", "QUEUE")),
    ("offhours' own errors", ("INTERNAL",)),
)


def area(code: str) -> str:
    """The code's area: `STATE` for `OH-STATE-UNTRUSTED`."""
    return code.split("-")[1]


def anchor(code: str) -> str:
    """The code's anchor on the troubleshooting page: `oh-state-untrusted`."""
    return code.lower()


INTRO = """\
# Troubleshooting

<!-- Generated from src/offhours/codes.py by docs/gen_troubleshooting.py: edit those, not this
page (tests/test_codes.py checks that it is what they write). -->

Every WARNING and ERROR line that offhours writes carries a `code`, a short name that does not
change from one version to the next, and this page has a section for each. So do the INFO
decision lines that say a piece of work was put off, or went wrong beside the decision (a
notice not put, a group's own scheduled action). `offhours check VALUE` prints the code of an
invalid value (`"code"` with `--json`). A decision line with several codes has them all in
`codes`, the main one (a failure's, else its warning's) first and in `code`.

To find the lines that carry a code, in CloudWatch Logs Insights on the log group
`/offhours/<stack>`:

```
fields @timestamp, code, reason, message
| filter ispresent(code)
| sort @timestamp desc
```

How often each came up, and the history of one code:

```
filter ispresent(code) | stats count(*) by code, level
```

```
fields @timestamp, instance_id, reason | filter code = "OH-STATE-UNTRUSTED"
```

A decision line's `reason` (other lines: `message`) says in words what happened to which
resource; `error_code`, where there is one, is AWS's own code for the call that failed. Each
section below says what the code means and what to do, with the words its line reads (shortened
with ...). A link to one code is `troubleshooting.md#` and the code in lower case
(`#oh-state-untrusted`).
"""

# What the page says besides the codes: what people ask about that is no warning or error.
OTHER = """\
## Other problems

These are not warnings or errors, and their lines carry no code; they are what people most
often ask about.

- **`member of Auto Scaling group`** (a skipped EC2 instance): offhours never touches a group's
  members, since the group would replace them; schedule the group itself (`Resources` with
  `asg`, and the schedule tag on the group).
- **`one-time Spot instance`** and **`instance store`**: these cannot be stopped, so offhours
  leaves them alone.
- **`respected a manual change`**: someone started or stopped the resource since the last event;
  it stays so until the next event. Add `enforce` to the value if that is not what you want.
- **`newly seen: adopted`**: a new schedule tag (or a lost state tag, removed by Terraform
  without `ignore_tags`, say); the schedule applies from its next event, and nothing is started
  or stopped on the spot.
- **`its state tags were written for another schedule value or another instance`**: the value
  changed, or the instance was launched with another instance's tags (a launch template, an
  AMI); it is adopted, and its next event governs. Unlike
  [OH-STATE-UNTRUSTED](#oh-state-untrusted), nobody did anything wrong.
- **Nothing happens at all**: `offhours plan` shows what a run would do now; the summary line
  of each run (`"kind": "summary"`) counts what it saw. No summary line for 15 minutes: the
  heartbeat alarm fires (the schedule is disabled, or the function cannot start or times out).
  A deployment with `DryRun=true` changes nothing and says `dry run` on every line.
- **Daylight saving**: schedules follow their zone's clocks; `offhours check VALUE --at`
  any instant shows the UTC times. A window edge or a cron time inside a spring-forward gap
  happens when the clocks jump (02:30 Berlin on the switch day is 01:00 UTC); a repeated hour
  counts once, at its first occurrence.
"""


def troubleshooting_markdown() -> str:
    """docs/troubleshooting.md: the intro, a section per group of areas with a heading per
    code whose anchor is explicit (`### OH-STATE-UNTRUSTED: ... {#oh-state-untrusted}`: the
    manual's Markdown has the attr_list extension), and the other problems."""
    parts = [INTRO]
    for heading, areas in SECTIONS:
        parts.append(f"## {heading}\n")
        parts += [_section(code, c) for code, c in CODES.items() if area(code) in areas]
    parts.append(OTHER)
    return "\n".join(parts)


def _section(code: str, c: Code) -> str:
    lines = [
        f"### {code}: {c.title} {{#{anchor(code)}}}",
        "",
        _wrap(f"**{c.level}**, on {c.line}."),
        "",
        _wrap(f"**What it means.** {c.cause}"),
        "",
        _wrap(f"**What to do.** {c.fix}"),
        "",
    ]
    if c.example:
        example = json.dumps(c.example, ensure_ascii=False)
        lines += ["The line says:", "", "```text", f'"{c.example_key}": {example}', "```", ""]
    return "\n".join(lines)


def _wrap(paragraph: str) -> str:
    """A paragraph in lines of the manual's width, each code it names a link to its section."""
    linked = _MENTION.sub(lambda m: f"[{m[0]}](#{anchor(m[0])})", paragraph)
    return textwrap.fill(linked, WIDTH, break_long_words=False, break_on_hyphens=False)


_MENTION = re.compile(r"(?<![\w`-])OH-[A-Z]+(?:-[A-Z]+)+(?![\w`-])")
