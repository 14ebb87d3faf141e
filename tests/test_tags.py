"""Tags instead of moves ("action": "tag") in the service, through the real path: Chalice's test
client, the SDK against the emulator's files/tags routes, moto. A photo stays where it is, byte for
byte, and gets one Dropbox tag per class above its threshold; undo takes off exactly those."""
from __future__ import annotations

import json

import pytest

from local.sample_photos import jpeg

# chelsea: a cat; coffee: food and coffee both above the threshold; rocket: none of the three.
CLASSES = ["cat", "food", "coffee"]
PHOTOS = {"/All/chelsea.jpg": jpeg("chelsea"), "/All/trip/coffee.jpg": jpeg("coffee"),
          "/All/rocket.jpg": jpeg("rocket")}


def tags(store, paths) -> dict[str, set[str]]:
    """Each file's tags as the SDK's files_tags_get returns them (DropboxStore.tags calls it)."""
    return dict(zip(paths, store.tags(list(paths))))


def tagged_by_the_webhook(service) -> str:
    service.configure(CLASSES, action="tag")
    for path, data in PHOTOS.items():
        service.dropbox.put(path, data)
    service.notify()
    service.source.drain(timeout=60)
    [job] = json.loads(service.get("/jobs").body)
    assert job["finished"]
    return job["job_id"]


def test_tagging_leaves_every_photo_in_place_byte_for_byte_with_one_tag_per_class_above_its_threshold(service, store):
    job_id = tagged_by_the_webhook(service)
    assert service.dropbox.files("/") == PHOTOS
    assert tags(store, PHOTOS) == {"/All/chelsea.jpg": {"cat"}, "/All/trip/coffee.jpg": {"food", "coffee"},
                                   "/All/rocket.jpg": set()}
    status = json.loads(service.get("/status").body)
    assert (status["tagged"], status["tagged_photos"], status["unsorted"], status["sorted"]) == (
        {"Cat": 1, "Coffee": 1, "Food": 1}, 2, 1, {})
    job = json.loads(service.get(f"/jobs/{job_id}").body)
    assert (job["tagged"], job["tagged_photos"], job["unsorted"], job["done"]) == (
        {"Cat": 1, "Coffee": 1, "Food": 1}, 2, 1, 3)


def test_a_class_name_with_a_space_becomes_a_tag_with_an_underscore(service, store):
    service.configure(["ice cream", "cat"], action="tag", threshold=0.0)  # every class reaches 0
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=60)
    assert tags(store, ["/All/chelsea.jpg"]) == {"/All/chelsea.jpg": {"ice_cream", "cat"}}


def test_undo_takes_off_exactly_the_tags_the_sort_added_and_leaves_the_users_own(service, store):
    service.configure(CLASSES, action="tag")
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    store.add_tag("/All/coffee.jpg", "food")  # the user's own, before the sort
    store.add_tag("/All/coffee.jpg", "holiday")
    before = tags(store, ["/All/coffee.jpg"])
    service.notify()
    service.source.drain(timeout=60)
    assert tags(store, ["/All/coffee.jpg"]) == {"/All/coffee.jpg": {"food", "holiday", "coffee"}}
    [job] = json.loads(service.get("/jobs").body)

    answer = json.loads(service.post("/undo", {"job_id": job["job_id"]}).body)

    assert (answer["untagged"], answer["moved_back"], answer["left"]) == (1, 0, [])
    assert answer["photos"] == [{"path": "/All/coffee.jpg", "tags_removed": ["coffee"]}]
    assert tags(store, ["/All/coffee.jpg"]) == before
    assert service.dropbox.files("/") == {"/All/coffee.jpg": jpeg("coffee")}
    status = json.loads(service.get("/status").body)
    assert (status.get("tagged"), status.get("tagged_photos"), status["unsorted"]) == (None, None, 0)


def test_after_undo_the_tree_and_tags_equal_those_before_and_the_webhook_tags_nothing_again(service, store):
    job_id = tagged_by_the_webhook(service)
    answer = json.loads(service.post("/undo", {"job_id": job_id}).body)
    assert answer["untagged"] == 2
    assert service.dropbox.files("/") == PHOTOS
    assert tags(store, PHOTOS) == {path: set() for path in PHOTOS}
    assert service.notify()["queued"] == 0
    service.source.drain(timeout=30)
    assert tags(store, PHOTOS) == {path: set() for path in PHOTOS}
    assert service.post("/undo", {"job_id": job_id}).status_code == 409


def test_a_sort_asked_again_leaves_photos_tagged_already_as_they_are(service, store):
    tagged_by_the_webhook(service)
    assert json.loads(service.post("/sort", {}).body)["total"] == 0
    status = json.loads(service.get("/status").body)
    assert (status["tagged"], status["tagged_photos"]) == ({"Cat": 1, "Coffee": 1, "Food": 1}, 2)


@pytest.fixture
def dies_after_its_tags(monkeypatch):
    """The next batch's worker dies right after tagging in Dropbox, before it records anything."""
    from chalicelib.adapters.dropbox_photos import DropboxPhotos

    deaths: list[int] = []
    original = DropboxPhotos.tag

    def tag_then_die(self, taggings, inbox):
        done = original(self, taggings, inbox)
        if not deaths:
            deaths.append(len(taggings))
            raise RuntimeError("the worker died after tagging")
        return done

    monkeypatch.setattr(DropboxPhotos, "tag", tag_then_die)
    yield deaths


def test_a_tagging_whose_record_was_cut_off_is_recorded_on_redelivery_once_and_its_undo_takes_the_tags_off(
        service, store, dies_after_its_tags):
    service.configure(CLASSES, action="tag")
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    job = json.loads(service.post("/sort", {}).body)
    service.source.drain(timeout=30)
    assert dies_after_its_tags == [1]
    assert tags(store, ["/All/coffee.jpg"]) == {"/All/coffee.jpg": {"food", "coffee"}}
    progress = json.loads(service.get(f"/jobs/{job['job_id']}").body)
    assert progress["finished"] and (progress["tagged"], progress["tagged_photos"]) == ({"Coffee": 1, "Food": 1}, 1)
    status = json.loads(service.get("/status").body)
    assert (status["tagged"], status["tagged_photos"]) == ({"Coffee": 1, "Food": 1}, 1)
    # The redelivery found the tags there and knew them for its own: the undo takes them off.
    answer = json.loads(service.post("/undo", {"job_id": job["job_id"]}).body)
    assert answer["untagged"] == 1
    assert tags(store, ["/All/coffee.jpg"]) == {"/All/coffee.jpg": set()}


def test_a_second_delivery_of_the_same_message_tags_nothing_twice_and_counts_once(service, store):
    service.configure(CLASSES, action="tag")
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    service.notify()
    [message] = service.source._sqs.receive_message(QueueUrl=service.source.queue_url)["Messages"]
    event = service.source._event([message])
    service.client.lambda_.invoke("classify", event)
    service.client.lambda_.invoke("classify", event)  # SQS delivered it again
    assert tags(store, ["/All/coffee.jpg"]) == {"/All/coffee.jpg": {"food", "coffee"}}
    assert service.dropbox.calls["files/tags/add"] == 2  # once per tag
    status = json.loads(service.get("/status").body)
    assert (status["tagged"], status["tagged_photos"]) == ({"Coffee": 1, "Food": 1}, 1)
    from chalicelib.wiring import wiring
    [entry] = wiring().state.ledger([service.dropbox.id_of("/All/coffee.jpg")]).values()
    assert entry.tags == ("coffee", "food") and not entry.moving  # nothing left in flight


def test_preview_of_tags_says_the_tags_it_would_add_and_tags_nothing(service, store):
    for path, data in PHOTOS.items():
        service.dropbox.put(path, data)
    job = json.loads(service.post("/sort", {"dry_run": True, "classes": CLASSES, "action": "tag"}).body)
    service.source.drain(timeout=60)
    answer = json.loads(service.get(f"/jobs/{job['job_id']}").body)
    previews = {p["path"]: (p["kind"], p["to"], p.get("tags")) for p in answer["preview"]}
    assert previews == {"/All/chelsea.jpg": ("tagged", "/All/chelsea.jpg", ["cat"]),
                        "/All/trip/coffee.jpg": ("tagged", "/All/trip/coffee.jpg", ["food", "coffee"]),
                        "/All/rocket.jpg": ("unsorted", "/All/rocket.jpg", None)}
    assert answer["action"] == "tag" and answer["tagged"] == {"Cat": 1, "Coffee": 1, "Food": 1}
    assert tags(store, PHOTOS) == {path: set() for path in PHOTOS}
    assert service.dropbox.calls["files/tags/add"] == 0


def test_configuring_tags_on_an_account_that_refuses_them_is_a_400_naming_it_and_stores_nothing(service):
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.tags_enabled = False
    response = service.post("/configure", {"classes": ["cat"], "action": "tag"})
    assert response.status_code == 400
    assert "does not take tags" in json.loads(response.body)["Message"]
    assert service.get("/configure").status_code == 404


def test_configuring_tags_before_the_inbox_exists_is_accepted(service):
    assert service.configure(["cat"], action="tag")["action"] == "tag"


def test_an_account_that_stops_taking_tags_fails_each_photo_saying_so_and_leaves_it_untouched(service, store):
    service.configure(["cat"], action="tag")
    service.dropbox.put("/All/chelsea.jpg", jpeg("chelsea"))
    service.dropbox.tags_enabled = False
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/All/chelsea.jpg": jpeg("chelsea")}
    assert service.dropbox.tags_of("/All/chelsea.jpg") == []
    status = json.loads(service.get("/status").body)
    assert status["failed"] == 1 and "tagged_photos" not in status
    [problem] = status["recent_problems"]
    assert "tags_refused" in problem["reason"] and "does not take tags" in problem["reason"]


@pytest.mark.parametrize("body, says", [
    ({"classes": ["cat"], "action": "label"}, '"action" must be "move"'),
    ({"classes": ["ice cream", "ice_cream"], "action": "tag"}, "would both be the tag 'ice_cream'"),
    ({"classes": ["cat"], "action": "tag", "duplicates": "folder"}, "choose one"),
    ({"classes": ["cat", "---"], "action": "tag"}, "no letter or digit"),
])
def test_a_configuration_tags_cannot_express_is_a_400_naming_the_problem(service, body, says):
    response = service.post("/configure", body)
    assert response.status_code == 400 and says in json.loads(response.body)["Message"]


def test_a_redelivery_after_a_cut_off_tagging_never_claims_a_tag_the_user_had_so_undo_keeps_it(
        service, store, dies_after_its_tags):
    service.configure(CLASSES, action="tag")
    service.dropbox.put("/All/coffee.jpg", jpeg("coffee"))
    store.add_tag("/All/coffee.jpg", "food")  # the user's own
    job = json.loads(service.post("/sort", {}).body)
    service.source.drain(timeout=30)
    assert dies_after_its_tags == [1]
    assert tags(store, ["/All/coffee.jpg"]) == {"/All/coffee.jpg": {"food", "coffee"}}
    answer = json.loads(service.post("/undo", {"job_id": job["job_id"]}).body)
    assert answer["photos"] == [{"path": "/All/coffee.jpg", "tags_removed": ["coffee"]}]
    assert tags(store, ["/All/coffee.jpg"]) == {"/All/coffee.jpg": {"food"}}


def test_a_photo_rewritten_while_it_was_classified_is_tagged_for_what_it_is_now(service, store, monkeypatch):
    from chalicelib.adapters.dropbox_photos import DropboxPhotos

    original = DropboxPhotos.read
    swapped: list[str] = []

    def read_then_user_rewrites(self, refs, inbox):
        found = original(self, refs, inbox)
        if not swapped:  # the user saves another photo over it while the cat is being classified
            swapped.append(refs[0].path)
            service.dropbox.put("/All/a.jpg", jpeg("coffee"))
        return found

    monkeypatch.setattr(DropboxPhotos, "read", read_then_user_rewrites)
    service.configure(CLASSES, action="tag")
    service.dropbox.put("/All/a.jpg", jpeg("chelsea"))
    service.notify()
    service.source.drain(timeout=60)
    assert swapped == ["/All/a.jpg"]
    assert tags(store, ["/All/a.jpg"]) == {"/All/a.jpg": {"food", "coffee"}}
