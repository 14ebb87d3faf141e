"""All of it at once: ~100 photos, the hard cases and a camera roll (Live Photos, RAW+JPEG pairs,
videos, a video and a RAW uploaded after their photo was sorted), dropped in batches while Dropbox
fails 12 % of calls, DynamoDB throttles 15 % and loses the answer of 5 % of its writes, SQS refuses 5 % of sends
and deletes, notifications are re-sent and lost, Dropbox resets its cursors, POST /sort overlaps the
webhooks, photos are renamed while queued and a plain file stands where a class folder should be;
the user corrects sorted photos, renames some inside their class folder, drags queued ones into a
class folder, undoes a job (one of whose messages SQS then delivers again) and drops copies of an
undone and of a deleted photo (local/soak.py has the scenario and the invariant; bench/soak.py runs
it with 1000 photos). Once with exact copies sorted like any photo, once with them moved to
/Duplicates."""
from __future__ import annotations

import pytest

from local import soak
from local.in_process import AwsFaults, DynamoThrottle, short_throttle_backoff

SQS_WRITES = frozenset({"SendMessageBatch", "SendMessage", "DeleteMessageBatch"})


@pytest.fixture
def aws_faults(service):
    # Installed on boto3's default session (which moto's mock_aws, started by `service`, replaces)
    # before the app makes its clients, on first use.
    with short_throttle_backoff():
        hooks = {"dynamodb throttle": DynamoThrottle(rate=0.15, seed=7).install(),
                 "dynamodb lost answer": AwsFaults("dynamodb", 0.05, seed=8, lost_answers=True,
                                                   operations=frozenset({"TransactWriteItems"})).install(),
                 "sqs refusal": AwsFaults("sqs", 0.05, seed=9, operations=SQS_WRITES).install()}
        yield hooks
        for hook in hooks.values():
            hook.uninstall()


@pytest.mark.parametrize("duplicates", ["keep", "folder"])
def test_all_of_it_at_once_nothing_lost_under_faults(service, aws_faults, duplicates):
    plan = soak.scenario(photos=100, batches=4, seed=1)
    chaos = soak.Chaos(overlap_sort=True, resend_webhooks=True, drop_notification=True, renames=2,
                       blocked_folder=True, corrections=3, cursor_resets=2, queued_moves=2, class_renames=2,
                       undo=True, orphan_copies=True)
    result = soak.run(service, plan, dropbox_rate=0.12, aws=aws_faults, seed=1, drain_timeout=120, chaos=chaos,
                      duplicates=duplicates)
    print(result.summary())
    print(result.details())
    for problem in result.problems:
        print("PROBLEM", problem)
    # Every figure by name, so that a failure says which promise broke (undone_resorted=1, ...).
    broken = {name: n for name, n in result.figures().items() if n}
    assert not broken, f"broken promises: {broken}"
    assert result.problems == []
    # The faults really happened, and were retried rather than shrugged off.
    assert result.faults["dynamodb throttle"] > 0 and result.faults["dynamodb lost answer"] > 0
    assert sum(result.faults.values()) > 15 and result.retries["dropbox"] > 0
    assert result.corrected == 3  # the user's corrections happened mid-run, and lost nothing
    # The camera roll was dropped: 5 Live Photos and 2 RAW+JPEG pairs (a video and a RAW of them
    # after their photo was sorted), 2 videos on their own (and a copy of an undone one, maybe).
    assert (result.companions, result.late) == (7, 2) and result.videos >= 2
    assert (result.cursor_resets, result.user_moves, result.class_renames, result.redelivered,
            result.orphan_copies) == (2, 2, 2, 1, 2) and result.undone >= 2
