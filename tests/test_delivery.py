"""At-least-once delivery and racing notifications: nothing queued twice, nothing lost."""
from __future__ import annotations

import json
import threading

import pytest

from local.sample_photos import jpeg


def queued_paths(service) -> list[str]:
    sqs, url = service.source._sqs, service.source.queue_url
    paths = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        paths += [json.loads(m["Body"])["path"] for m in messages]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return sorted(paths)


def test_a_notification_during_a_sync_is_picked_up_by_that_sync(service, stalled_list_changes):
    service.configure(["cat"])
    service.dropbox.put("/All/first.jpg", jpeg("chelsea"))
    service.notify()  # stores the cursor
    assert queued_paths(service) == ["/All/first.jpg"]

    # The next sync stalls inside Dropbox (a slow list_folder/continue) while holding the lease.
    listing, resume = stalled_list_changes
    service.dropbox.put("/All/second.jpg", jpeg("chelsea"))
    first = threading.Thread(target=service.notify)
    first.start()
    assert listing.wait(10)
    # A photo arrives after the stalled sync listed; its notification finds the lease taken.
    service.dropbox.put("/All/third.jpg", jpeg("chelsea"))
    assert service.notify() == {"queued": 0, "skipped": 0, "to_learn": 0}
    resume.set()
    first.join(10)
    # The holder saw the pending mark and listed again: each photo queued exactly once.
    assert queued_paths(service) == ["/All/second.jpg", "/All/third.jpg"]


def test_replayed_notification_queues_nothing_new(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    assert service.notify()["queued"] == 1
    assert service.notify()["queued"] == 0
    assert queued_paths(service) == ["/All/a.jpg"]


def test_a_photo_moved_before_its_message_is_handled_is_left_alone(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/b.jpg", jpeg("chelsea"))
    service.notify()
    service.dropbox.user_move("/All/a.jpg", "/Keep/a.jpg")
    service.dropbox.user_delete("/All/b.jpg")
    service.source.drain(timeout=30)
    assert service.dropbox.files("/") == {"/Keep/a.jpg": jpeg("chelsea")}
    status = json.loads(service.get("/status").body)
    assert status["gone"] == 2 and status["finished"] == 2 and status["sorted"] == {}


def test_a_move_whose_record_was_cut_off_is_recorded_on_redelivery(service, dies_after_its_move):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    job = json.loads(service.post("/sort", {}).body)
    # A worker moves the photo and dies before recording it; SQS delivers the message again.
    service.source.drain(timeout=30)
    assert dies_after_its_move == [1]
    progress = json.loads(service.get(f"/jobs/{job['job_id']}").body)
    assert progress["finished"] and progress["sorted"] == {"Cat": 1}
    assert service.dropbox.files("/") == {"/Cat/a.jpg": jpeg("chelsea")}


def test_transient_dropbox_failures_are_retried_then_dead_lettered_with_the_reason(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    # Every download fails for longer than the store's own retries and SQS's 3 receives.
    service.dropbox.fail("files/download", "503", times=100)
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/All/a.jpg": jpeg("chelsea")}
    status = json.loads(service.get("/status").body)
    assert status["failed"] == 1
    assert status["queue"]["dead_letter"] == 1
    [problem] = status["recent_problems"]
    assert problem["path"] == "/All/a.jpg" and "3 attempts" in problem["reason"]


def test_a_failure_that_clears_up_sorts_the_photo_on_redelivery(service):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.dropbox.put("/All/b.jpg", jpeg("chelsea"))
    service.notify()
    service.dropbox.fail("files/move_batch_v2", "503", times=4)  # the batch's move exhausts its retries
    service.source.drain(timeout=60)
    assert sorted(service.dropbox.files("/")) == ["/Cat/a.jpg", "/Cat/b.jpg"]
    status = json.loads(service.get("/status").body)
    assert status["sorted"] == {"Cat": 2} and status["failed"] == 0
    assert service.source.failures == 1


def test_after_post_configure_the_very_next_batch_sorts_with_the_new_classes_and_loses_nothing(service):
    service.configure(["cat"])
    for i in range(12):
        service.dropbox.put(f"/All/chelsea-{i}.jpg", jpeg("chelsea"))
    service.notify()
    assert service.source.poll_once() == 10  # the first batch, under ["cat"]
    service.configure(["food"], unsorted_folder="Other")
    assert service.source.poll_once() == 2  # the very next batch, in the same container
    final = service.dropbox.files("/")
    assert sorted(p.rsplit("/", 1)[0] for p in final) == ["/Cat"] * 10 + ["/Other"] * 2
    assert all(data == jpeg("chelsea") for data in final.values())
    status = json.loads(service.get("/status").body)
    assert status["sorted"] == {"Cat": 10} and status["unsorted"] == 2 and status["failed"] == 0


@pytest.fixture
def config_reads():
    """Every DynamoDB GetItem of the configuration item from now on, as "version" (a read of the
    version number alone) or "whole". Registered before the app makes its clients (they copy the
    session's handlers), i.e. before the test's first request."""
    import boto3
    reads: list[str] = []

    def count(params, **_):
        if params.get("Key", {}).get("pk", {}).get("S") == "config":
            projected = params.get("ExpressionAttributeNames", {}).get(params.get("ProjectionExpression"))
            reads.append("version" if projected == "version" else "whole")

    events = boto3._get_default_session()._session.get_component("event_emitter")
    events.register("before-parameter-build.dynamodb.GetItem", count, unique_id="test-config-reads")
    yield reads
    events.unregister("before-parameter-build.dynamodb.GetItem", unique_id="test-config-reads")


def test_each_batch_reads_the_configuration_version_once_and_the_classes_only_after_a_change(service, config_reads):
    def sort(count: int, first: int) -> tuple[list[str], int]:
        """Put `count` photos in /All, notify, and sort them all: the batches' reads of the
        configuration item, and how many batches there were."""
        for i in range(first, first + count):
            service.dropbox.put(f"/All/chelsea-{i}.jpg", jpeg("chelsea"))
        service.notify()
        config_reads.clear()
        before = service.source.batches
        service.source.drain(timeout=60)
        return list(config_reads), service.source.batches - before

    service.configure(["cat"])
    reads, batches = sort(25, 0)
    # The container's first batch reads the classes; every batch reads the version once.
    assert batches >= 3 and reads == ["version", "whole"] + ["version"] * (batches - 1)

    reads, batches = sort(12, 100)  # nothing changed: the version alone
    assert batches >= 2 and reads == ["version"] * batches

    service.configure(["food"], unsorted_folder="Other")
    reads, batches = sort(12, 200)  # changed: the first batch after it reads the classes again
    assert batches >= 2 and reads == ["version", "whole"] + ["version"] * (batches - 1)
    final = service.dropbox.files("/")
    assert sorted(p.rsplit("/", 1)[0] for p in final) == ["/Cat"] * 37 + ["/Other"] * 12
    assert all(data == jpeg("chelsea") for data in final.values())
