"""The review queue, its thumbnails and one-click corrections, through the real path (Chalice's test
client, the SDK against the emulator over HTTPS, moto's SQS and DynamoDB).

With the classes cat, rocket and vehicle, the skimage rocket goes to /Vehicle by a small margin over
rocket (0.39 against 0.31: a close call), the astronaut photo stays in /Unsorted and the cat goes
to /Cat by a wide margin."""
from __future__ import annotations

import base64
import io
import json

from PIL import Image

from local.sample_photos import dated_jpeg, jpeg, variants

CLASSES = ["cat", "rocket", "vehicle"]
PHOTOS = {"/All/chelsea.jpg": jpeg("chelsea"), "/All/rocket.jpg": jpeg("rocket"),
          "/All/astronaut.jpg": jpeg("astronaut")}


def sorted_photos(service) -> dict[str, str]:
    """The photos sorted by the webhook: their file ids by name."""
    service.configure(CLASSES)
    ids = {path.rsplit("/", 1)[1]: service.dropbox.put(path, data) for path, data in PHOTOS.items()}
    service.notify()
    service.source.drain(timeout=60)
    assert set(service.dropbox.files("/")) == {"/Cat/chelsea.jpg", "/Vehicle/rocket.jpg", "/Unsorted/astronaut.jpg"}
    return ids


def review(service) -> dict:
    response = service.get("/review")
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def correct(service, file_id: str, to: str):
    return service.post("/correct", {"file_id": file_id, "to": to})


def learned(service) -> dict:
    return json.loads(service.get("/status").body)["learned"]


def test_the_review_queue_holds_the_unsorted_photo_and_the_close_call_with_their_best_classes_and_thumbnails(
        service):
    ids = sorted_photos(service)
    queue = review(service)
    assert {(p["path"], p["folder"], p["why"]) for p in queue["photos"]} == {
        ("/Unsorted/astronaut.jpg", "Unsorted", "unsorted"), ("/Vehicle/rocket.jpg", "Vehicle", "close call")}
    rocket = next(p for p in queue["photos"] if p["file_id"] == ids["rocket.jpg"])
    assert [c["class"] for c in rocket["top"]] == ["vehicle", "rocket", "cat"]
    assert rocket["top"][0]["score"] - rocket["top"][1]["score"] < queue["margin"]
    for photo in queue["photos"]:
        thumbnail = Image.open(io.BytesIO(base64.b64decode(photo["jpeg"])))
        assert thumbnail.format == "JPEG" and min(thumbnail.size) <= 256
    assert queue["folders"] == ["Cat", "Rocket", "Vehicle", "Unsorted"] and queue["unsorted"] == 1


def test_a_correction_moves_the_photo_byte_for_byte_and_the_next_photo_like_it_goes_to_that_class(service):
    ids = sorted_photos(service)
    answer = json.loads(correct(service, ids["rocket.jpg"], "rocket").body)
    assert answer["to"] == "/Rocket/rocket.jpg" and answer["undo"] == {"file_id": ids["rocket.jpg"], "to": "Vehicle"}
    assert service.dropbox.files("/Rocket") == {"/Rocket/rocket.jpg": jpeg("rocket")}
    service.source.drain(timeout=60)  # the correction is learned, as a move in Dropbox would be
    assert learned(service)["rocket"] == {"examples": 1, "corrections": 0}
    assert learned(service)["vehicle"] == {"examples": 0, "corrections": 1}
    assert "/Vehicle/rocket.jpg" not in {p["path"] for p in review(service)["photos"]}
    smaller = variants("rocket")[3]
    service.dropbox.put("/All/rocket again.jpg", smaller)
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/Rocket")["/Rocket/rocket again.jpg"] == smaller


def test_not_this_class_sends_a_sorted_photo_to_unsorted_as_a_counter_example_of_its_class(service):
    ids = sorted_photos(service)
    answer = json.loads(correct(service, ids["rocket.jpg"], "Unsorted").body)
    assert answer["to"] == "/Unsorted/rocket.jpg"
    service.source.drain(timeout=60)
    assert service.dropbox.files("/Unsorted")["/Unsorted/rocket.jpg"] == jpeg("rocket")
    assert learned(service)["vehicle"] == {"examples": 0, "corrections": 1}


def test_a_correction_put_back_by_its_undo_teaches_nothing_and_the_photo_is_where_the_service_put_it(service):
    ids = sorted_photos(service)
    undo = json.loads(correct(service, ids["rocket.jpg"], "rocket").body)["undo"]
    service.source.drain(timeout=60)
    assert json.loads(service.post("/correct", undo).body)["to"] == "/Vehicle/rocket.jpg"
    service.source.drain(timeout=60)
    assert learned(service) == {}  # at once, before Dropbox's notification of the move arrives
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/Vehicle") == {"/Vehicle/rocket.jpg": jpeg("rocket")}
    assert learned(service) == {}


def test_a_correction_never_overwrites_a_file_of_the_same_name_in_the_class_folder(service):
    ids = sorted_photos(service)
    service.dropbox.put("/Rocket/astronaut.jpg", b"the user's own file")
    answer = json.loads(correct(service, ids["astronaut.jpg"], "Rocket").body)
    assert answer["to"] == "/Rocket/astronaut (1).jpg"
    assert service.dropbox.files("/Rocket") == {"/Rocket/astronaut.jpg": b"the user's own file",
                                                "/Rocket/astronaut (1).jpg": jpeg("astronaut")}


def test_a_photo_the_user_moved_since_leaves_the_review_queue_and_its_correction_is_a_409(service):
    ids = sorted_photos(service)
    service.dropbox.user_move("/Unsorted/astronaut.jpg", "/Mine/astronaut.jpg")
    service.dropbox.user_move("/Vehicle/rocket.jpg", "/Rocket/rocket.jpg")  # the close call, decided by the user
    assert review(service)["photos"] == []
    response = correct(service, ids["astronaut.jpg"], "rocket")
    assert response.status_code == 409 and "moved since" in json.loads(response.body)["Message"]
    assert service.dropbox.files("/Mine") == {"/Mine/astronaut.jpg": jpeg("astronaut")}


def test_a_correction_to_no_configured_class_or_of_an_unknown_photo_is_refused_naming_it(service):
    ids = sorted_photos(service)
    response = correct(service, ids["rocket.jpg"], "Mine")
    assert response.status_code == 400 and "'Mine' is no configured class" in json.loads(response.body)["Message"]
    response = correct(service, "id:nothing-here", "cat")
    assert response.status_code == 404
    response = service.post("/correct", {"to": "cat"})
    assert response.status_code == 400 and "file_id" in json.loads(response.body)["Message"]
    assert set(service.dropbox.files("/")) == {"/Cat/chelsea.jpg", "/Vehicle/rocket.jpg", "/Unsorted/astronaut.jpg"}


def test_thumbnails_come_by_file_id_or_path_with_where_each_photo_is_now(service):
    ids = sorted_photos(service)
    answer = json.loads(service.post("/thumbnails", {"files": [ids["chelsea.jpg"], "/Vehicle/rocket.jpg"]}).body)
    assert [(t["file_id"], t["path"]) for t in answer["thumbnails"]] == [
        (ids["chelsea.jpg"], "/Cat/chelsea.jpg"), (ids["rocket.jpg"], "/Vehicle/rocket.jpg")]
    assert all(Image.open(io.BytesIO(base64.b64decode(t["jpeg"]))).format == "JPEG" for t in answer["thumbnails"])


def test_the_thumbnail_route_refuses_a_path_outside_the_apps_folders_a_file_id_there_and_a_missing_key(service):
    sorted_photos(service)
    private = service.dropbox.put("/Private/me.jpg", jpeg("grace_hopper"))
    for path in ("/Private/me.jpg", "/Cat/../Private/me.jpg", "Cat/chelsea.jpg"):
        response = service.post("/thumbnails", {"files": [path]})
        assert response.status_code == 400 and "not a file in the app's folders" in json.loads(response.body)["Message"]
    [by_id] = json.loads(service.post("/thumbnails", {"files": [private]}).body)["thumbnails"]
    assert by_id == {"file": private, "error": "not in the app's folders"}
    assert service.post("/thumbnails", {"files": ["/Cat/chelsea.jpg"]}, headers={}).status_code == 401
    assert service.get("/review", headers={}).status_code == 401
    assert service.post("/correct", {}, headers={}).status_code == 401


def test_the_review_routes_never_return_a_secret(service):
    ids = sorted_photos(service)
    answers = [service.get("/review").body, service.post("/thumbnails", {"files": list(ids.values())}).body,
               correct(service, ids["rocket.jpg"], "rocket").body, correct(service, "id:gone", "cat").body]
    secrets = [service.dropbox.app_secret, service.dropbox.refresh_token, "test-service-key"]
    for body in answers:
        text = body.decode() if isinstance(body, bytes) else str(body)
        assert not any(secret in text for secret in secrets)


def test_the_same_correction_sent_twice_moves_the_photo_once_and_the_second_says_it_is_there_already(service):
    ids = sorted_photos(service)
    first, second = correct(service, ids["rocket.jpg"], "rocket"), correct(service, ids["rocket.jpg"], "rocket")
    assert first.status_code == 200
    assert second.status_code == 400 and "is in /Rocket already" in json.loads(second.body)["Message"]
    assert service.dropbox.files("/Rocket") == {"/Rocket/rocket.jpg": jpeg("rocket")}


def test_a_correction_of_a_photo_the_user_deleted_meanwhile_is_a_404_and_moves_nothing(service):
    ids = sorted_photos(service)
    service.dropbox.user_delete("/Unsorted/astronaut.jpg")
    response = correct(service, ids["astronaut.jpg"], "rocket")
    assert response.status_code == 404 and "deleted?" in json.loads(response.body)["Message"]
    assert set(service.dropbox.files("/")) == {"/Cat/chelsea.jpg", "/Vehicle/rocket.jpg"}


def test_by_date_the_review_holds_photos_in_date_folders_and_a_correction_keeps_the_photos_date_folder(service):
    service.configure(CLASSES, by_date="year")
    photos = {name: dated_jpeg(name, "2019:05:04 10:00:00") for name in ("rocket", "astronaut")}
    ids = {name: service.dropbox.put(f"/All/{name}.jpg", data) for name, data in photos.items()}
    service.notify()
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Vehicle/2019/rocket.jpg": photos["rocket"],
                                          "/Unsorted/2019/astronaut.jpg": photos["astronaut"]}
    assert {(p["path"], p["why"]) for p in review(service)["photos"]} == {
        ("/Unsorted/2019/astronaut.jpg", "unsorted"), ("/Vehicle/2019/rocket.jpg", "close call")}
    answer = json.loads(correct(service, ids["rocket"], "rocket").body)
    assert answer["to"] == "/Rocket/2019/rocket.jpg"
    assert service.dropbox.files("/Rocket") == {"/Rocket/2019/rocket.jpg": photos["rocket"]}
    service.source.drain(timeout=60)
    assert learned(service)["rocket"] == {"examples": 1, "corrections": 0}
    assert learned(service)["vehicle"] == {"examples": 0, "corrections": 1}


def test_a_correction_takes_a_live_photos_video_and_raw_along_and_its_undo_brings_them_back(service):
    from local.sample_photos import raw_file
    service.configure(CLASSES)
    video, raw = b"\x00\x00\x00\x14ftypqt  " + bytes(500), raw_file("coffee")
    photo_id = service.dropbox.put("/All/IMG_1.JPG", jpeg("chelsea"))
    service.dropbox.put("/All/IMG_1.MOV", video)
    service.dropbox.put("/All/IMG_1.DNG", raw)
    service.notify()
    service.source.drain(timeout=60)
    assert set(service.dropbox.files("/Cat")) == {"/Cat/IMG_1.JPG", "/Cat/IMG_1.MOV", "/Cat/IMG_1.DNG"}
    answer = json.loads(correct(service, photo_id, "rocket").body)
    service.source.drain(timeout=60)
    assert service.dropbox.files("/Rocket") == {"/Rocket/IMG_1.JPG": jpeg("chelsea"), "/Rocket/IMG_1.MOV": video,
                                                "/Rocket/IMG_1.DNG": raw}
    service.post("/correct", answer["undo"])
    service.source.drain(timeout=60)
    assert service.dropbox.files("/Cat") == {"/Cat/IMG_1.JPG": jpeg("chelsea"), "/Cat/IMG_1.MOV": video,
                                             "/Cat/IMG_1.DNG": raw}
