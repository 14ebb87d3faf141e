"""Classes by example through the real path: photos the user puts in class folders (Dropbox SDK
against the emulator, SQS and DynamoDB on moto, Chalice's test client) teach the classes. The
stories that hold for main.py --folder too (a correction, a deleted example, a rename, an unknown
name taught by its folder) are told once, for both: tests/test_stories_both_stores.py."""
from __future__ import annotations

import json

from local.sample_photos import EXAMPLE_CROPS, NEW_CROP, crop, jpeg


def learn_from_the_folders(service) -> None:
    """What Dropbox does after the user changes something: a notification, then the queue runs."""
    service.notify()
    service.source.drain(timeout=60)


def test_configure_says_an_unknown_name_stands_on_the_examples_in_its_folder_and_how_many(service):
    for i, box in enumerate(EXAMPLE_CROPS):
        service.dropbox.put(f"/Grandma/g{i}.jpg", crop("astronaut", box))
    learn_from_the_folders(service)
    [grandma, _] = service.configure(["Grandma", "cat"])["covers"]
    assert grandma["examples"] == 3 and grandma["description"] == "Grandma: the photos in its folder (its examples) alone"


def test_the_services_own_moves_are_never_taken_as_examples_nor_queued_to_be_learned(service):
    service.configure(["cat", "food", "vehicle"])
    for name in ("chelsea", "coffee", "motorcycle"):
        service.dropbox.put(f"/All/{name}.jpg", jpeg(name))
    learn_from_the_folders(service)
    # The moves' own notification, followed through the class folders: recorded moves are passed over.
    assert service.notify()["to_learn"] == 0
    service.source.drain(timeout=60)
    assert sorted(service.dropbox.files("/")) == ["/Cat/chelsea.jpg", "/Food/coffee.jpg", "/Vehicle/motorcycle.jpg"]
    assert json.loads(service.get("/status").body)["learned"] == {}


def test_a_move_of_the_services_seen_before_its_record_lands_is_not_taken_as_an_example(service,
                                                                                           dies_after_its_move):
    service.configure(["cat"])
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.post("/sort", {})
    # A worker moved the photo and died before recording it; the class folders' notification comes
    # first, so the photo is queued to be learned while its sort is still in flight.
    service.source.poll_once()
    assert dies_after_its_move == [1] and service.dropbox.exists("/Cat/a.jpg")
    assert service.notify()["to_learn"] == 1
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Cat/a.jpg": jpeg("chelsea")}
    assert json.loads(service.get("/status").body)["learned"] == {}


def test_examples_two_classes_share_count_half_for_each_so_the_photos_name_decides(service):
    # The user keeps the same shots of their cat in /Cat and in /Mittens (saved twice): a new shot is
    # as close to the one class's examples as to the other's, so their score is shared out, half each.
    for i, box in enumerate(EXAMPLE_CROPS):
        service.dropbox.put(f"/Cat/c{i}.jpg", crop("chelsea", box))
        service.dropbox.put(f"/Mittens/m{i}.jpg", crop("chelsea", box, quality=84))
    learn_from_the_folders(service)
    service.configure(["Mittens", "cat"])
    new = crop("chelsea", NEW_CROP)
    service.dropbox.put("/All/new.jpg", new)
    learn_from_the_folders(service)
    assert service.dropbox.files("/All") == {} and service.dropbox.files("/")["/Cat/new.jpg"] == new
    [decision] = json.loads(service.get("/status").body)["recent_decisions"]
    assert decision["runner_up"]["class"] == "Mittens" and decision["runner_up"]["score"] < 0.6


def test_photos_the_user_puts_in_unsorted_or_duplicates_are_no_examples_of_a_class(service):
    service.configure(["cat", "food"], duplicates="folder")
    service.dropbox.put("/All/rocket.jpg", jpeg("rocket"))
    learn_from_the_folders(service)
    assert "/Unsorted/rocket.jpg" in service.dropbox.files("/")
    # The user sorts by hand what the service left unsorted, and parks photos in /Unsorted and /Duplicates.
    service.dropbox.user_move("/Unsorted/rocket.jpg", "/Vehicle/rocket.jpg")
    service.dropbox.put("/Unsorted/hubble.jpg", jpeg("hubble"))
    service.dropbox.put("/Duplicates/coffee.jpg", jpeg("coffee"))
    learn_from_the_folders(service)
    learned = json.loads(service.get("/status").body)["learned"]
    assert learned == {"vehicle": {"examples": 1, "corrections": 0}}  # no class "unsorted" or "duplicates"


def test_photos_in_a_class_folders_subfolders_are_no_examples(service):
    service.dropbox.put("/Cat/c.jpg", jpeg("chelsea"))
    service.dropbox.put("/Cat/sub/a.jpg", jpeg("coffee"))  # the user's own filing inside /Cat, not the class
    service.dropbox.put("/Cat/sub/deeper/b.jpg", jpeg("rocket"))
    assert service.notify()["to_learn"] == 1
    service.source.drain(timeout=60)
    assert json.loads(service.get("/status").body)["learned"] == {"cat": {"examples": 1, "corrections": 0}}


def test_status_counts_each_example_once_through_adds_a_redelivered_learn_and_a_forget(service):
    from chalicelib.rules.messages import LearnRequest

    for i, box in enumerate(EXAMPLE_CROPS):
        service.dropbox.put(f"/Cat/c{i}.jpg", crop("chelsea", box))
    learn_from_the_folders(service)
    assert json.loads(service.get("/status").body)["learned"] == {"cat": {"examples": 3, "corrections": 0}}
    # SQS delivers a learn request again: the same example, counted once.
    sqs, url = service.source._sqs, service.source.queue_url
    again = LearnRequest(service.dropbox.id_of("/Cat/c0.jpg"), "/Cat/c0.jpg")
    sqs.send_message(QueueUrl=url, MessageBody=again.to_json())
    service.source.drain(timeout=60)
    assert json.loads(service.get("/status").body)["learned"] == {"cat": {"examples": 3, "corrections": 0}}
    service.dropbox.user_delete("/Cat/c1.jpg")
    learn_from_the_folders(service)
    assert json.loads(service.get("/status").body)["learned"] == {"cat": {"examples": 2, "corrections": 0}}
