"""The fault switches themselves: the fake Dropbox's rate-based faults and DynamoDB throttling."""
from __future__ import annotations

import pytest

from local.in_process import DynamoThrottle, short_throttle_backoff
from local.sample_photos import jpeg


def faults_seen(store, calls: int) -> list[str]:
    seen = []
    for _ in range(calls):
        try:
            store.get_file("id:nope")
            seen.append("ok")
        except Exception as e:  # noqa: BLE001  (what the store says is the point)
            seen.append(type(e).__name__)
    return seen


def test_rate_faults_are_seeded_counted_and_retried(store, dropbox_fake):
    dropbox_fake.put("/All/a.jpg", jpeg("chelsea"))
    store.get_file("id:warm-up")  # the access token, before faults start
    dropbox_fake.fault_rate(0.3, ["500", "503", "429"], seed=3, routes=["files/get_metadata"])
    first = faults_seen(store, 30)
    injected = sum(dropbox_fake.injected.values())
    dropbox_fake.fault_rate(0.3, ["500", "503", "429"], seed=3, routes=["files/get_metadata"])
    assert faults_seen(store, 30) == first  # the same seed, the same faults
    assert 10 <= injected <= 40  # about 30 % of the 30 calls and their retries
    assert set(first) <= {"ok", "TransientStoreError"}  # retried by the store, rarely exhausted
    assert {kind for (route, kind) in dropbox_fake.injected} <= {"500", "503", "429"}
    assert {route for (route, kind) in dropbox_fake.injected} == {"files/get_metadata"}
    dropbox_fake.fault_rate(0)
    before = sum(dropbox_fake.injected.values())
    assert faults_seen(store, 10) == ["ok"] * 10 and sum(dropbox_fake.injected.values()) == before


def test_rate_faults_refuse_unknown_kinds_and_rates(dropbox_fake):
    with pytest.raises(ValueError):
        dropbox_fake.fault_rate(0.1, ["418"])
    with pytest.raises(ValueError):
        dropbox_fake.fault_rate(1.5)


def test_the_token_endpoint_never_answers_expired_token(store, dropbox_fake):
    dropbox_fake.fault_rate(1.0, ["expired_token"], routes=["oauth2/token"])
    assert store.get_file("id:nope") is None  # the refresh went through
    assert not dropbox_fake.injected


def test_a_throttled_dynamodb_call_is_retried_by_botocore_and_changes_nothing(aws):
    from chalicelib.adapters.state import StateStore, TransientStateError
    with short_throttle_backoff():
        throttle = DynamoThrottle(rate=0.25, seed=2).install()
        try:
            state = StateStore("throttled")  # its client is made after the hook is installed
            state.create_table()
            for _ in range(20):
                state.add_queued(1)
            assert state.totals()[0] == 20  # every throttled attempt had no effect; every call landed
            assert throttle.throttled > 3 and throttle.by_operation.get("UpdateItem")

            throttle.rate = 1.0
            calls = throttle.calls
            with pytest.raises(TransientStateError, match="ProvisionedThroughputExceededException"):
                state.add_queued(1)
            # aws.client's retries={"max_attempts": 4} counts retries (botocore's Config says so;
            # total_max_attempts counts attempts): 1 call + 4 retries.
            assert throttle.calls - calls == 5
            throttle.rate = 0.0
            assert state.totals()[0] == 20
        finally:
            throttle.uninstall()


def test_a_token_that_expires_twice_in_one_call_is_retried_not_given_up(service):
    # What rate-based faults made happen in the soak: a batch's threads share one SDK client; one
    # thread's 401 refresh races another's, so a retry meets an expired token again.
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    service.dropbox.fail("files/download", "expired_token", times=2)
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Cat/a.jpg": jpeg("chelsea")}
