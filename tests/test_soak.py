"""All of it at once: ~100 photos and the hard cases, dropped in batches while Dropbox fails 12 % of
calls, DynamoDB throttles 15 % and loses the answer of 5 % of its writes, SQS refuses 5 % of sends
and deletes, notifications are re-sent and lost, POST /sort overlaps the webhooks, photos are renamed
while queued and a plain file stands where a class folder should be (local/soak.py has the scenario
and the invariant; bench/soak.py runs it with 1000 photos). Once with exact copies sorted like any
photo, once with them moved to /Duplicates."""
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
                       blocked_folder=True, corrections=3)
    result = soak.run(service, plan, dropbox_rate=0.12, aws=aws_faults, seed=1, drain_timeout=120, chaos=chaos,
                      duplicates=duplicates)
    print(result.summary())
    print(result.details())
    for problem in result.problems:
        print("PROBLEM", problem)
    assert result.problems == []
    assert result.figures() == (0,) * 8  # dlq lost duplicated overwritten unrecorded double stuck chaos_missed
    # The faults really happened, and were retried rather than shrugged off.
    assert result.faults["dynamodb throttle"] > 0 and result.faults["dynamodb lost answer"] > 0
    assert sum(result.faults.values()) > 15 and result.retries["dropbox"] > 0
    assert result.corrected == 3  # the user's corrections happened mid-run, and lost nothing
