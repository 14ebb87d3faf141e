"""Nothing lost under faults, load and hostile input: ~100 photos and the hard cases, dropped in
batches while Dropbox fails 12 % of calls and DynamoDB throttles 15 % (local/soak.py has the scenario
and the invariant; bench/soak.py runs it with 1000 photos)."""
from __future__ import annotations

import pytest

from local import soak
from local.in_process import DynamoThrottle, short_throttle_backoff


@pytest.fixture
def throttle(service):
    # Installed on boto3's default session (which moto's mock_aws, started by `service`, replaces)
    # before the app makes its DynamoDB client, on first use.
    with short_throttle_backoff():
        hook = DynamoThrottle(rate=0.15, seed=7).install()
        yield hook
        hook.uninstall()


def test_all_of_it_at_once_nothing_lost_under_faults(service, throttle):
    plan = soak.scenario(photos=100, batches=4, seed=1)
    result = soak.run(service, plan, dropbox_rate=0.12, throttle=throttle, seed=1, drain_timeout=120)
    print(result.summary())
    print(result.details())
    for problem in result.problems:
        print("PROBLEM", problem)
    assert result.problems == []
    assert (result.lost, result.duplicated, result.overwritten, result.dlq) == (0, 0, 0, 0)
    # The faults really happened, and were retried rather than shrugged off.
    assert result.faults["dynamodb throttle"] > 0 and sum(result.faults.values()) > 15
    assert result.retries["dropbox"] > 0
