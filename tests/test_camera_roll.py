"""A camera roll in the inbox, told once and run against both stores (the service through the real
path, and main.py --folder): videos, Live Photos (a still and a short video of the same name),
RAW files beside their JPEGs or on their own, and iPhone edits (.AAE) go where a person expects,
and an undo puts every file of a shot back together, byte for byte."""
from __future__ import annotations

import pytest

from chalicelib.rules.photo_files import companions, pair_key, raw_preview
from local.sample_photos import encode, image, jpeg, raw_file
from tests.test_stories_both_stores import World, world  # noqa: F401  (the fixture: both stores)

# What phones write: a Live Photo's video is a QuickTime file, a clip an MP4 (only their names
# matter: videos are moved, never read).
LIVE_VIDEO = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(2000)
CLIP = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(3000)
EDIT = b'<?xml version="1.0"?><plist version="1.0"><dict><key>adjustmentFormatVersion</key></dict></plist>'


def test_a_video_on_its_own_goes_to_videos_with_videos_folder(world: World):
    world.configure(["cat"], videos="folder")
    world.put("All/clip.mp4", CLIP)
    world.put("All/chelsea.jpg", jpeg("chelsea"))
    world.sort()
    files = world.files()
    assert files["Videos/clip.mp4"] == CLIP and files["Cat/chelsea.jpg"] == jpeg("chelsea")
    assert not any(path.startswith("All/") and path != "All/" for path in files)


def test_a_video_on_its_own_stays_in_the_inbox_by_default(world: World):
    world.configure(["cat"])
    world.put("All/clip.mp4", CLIP)
    world.sort()
    assert world.files()["All/clip.mp4"] == CLIP


def test_by_date_a_video_goes_into_the_videos_folder_of_its_modification_year(world: World):
    world.configure(["cat"], videos="folder", by_date="year")
    world.put("All/clip.mp4", CLIP)
    world.sort()
    [where] = [path for path in world.files() if path.endswith("clip.mp4")]
    assert where.startswith("Videos/20") and len(where.split("/")) == 3


def test_a_live_photo_its_video_and_its_edit_land_together_in_its_class_folder_and_undo_puts_all_three_back(
        world: World):
    world.configure(["cat", "vehicle"], videos="folder")
    shot = {"All/IMG_0001.JPG": jpeg("chelsea"), "All/IMG_0001.MOV": LIVE_VIDEO, "All/IMG_0001.AAE": EDIT}
    for path, data in shot.items():
        world.put(path, data)
    world.sort()
    files = world.files()
    assert {path: files.get(path.replace("All/", "Cat/")) for path in shot} == shot  # not to /Videos
    moved_back, left = world.undo()
    assert moved_back == 3 and left == {}
    assert {path: data for path, data in world.files().items() if path.startswith("All/")} == shot


def test_a_raw_beside_its_jpeg_goes_with_the_jpeg_whatever_its_own_preview_shows_and_undo_puts_both_back(
        world: World):
    world.configure(["cat", "food"])
    pair = {"All/DSC_0002.JPG": jpeg("chelsea"), "All/DSC_0002.NEF": raw_file("coffee")}
    for path, data in pair.items():
        world.put(path, data)
    world.sort()
    files = world.files()
    assert files["Cat/DSC_0002.JPG"] == pair["All/DSC_0002.JPG"] and files["Cat/DSC_0002.NEF"] == pair["All/DSC_0002.NEF"]
    moved_back, left = world.undo()
    assert moved_back == 2 and left == {}
    assert {path: data for path, data in world.files().items() if path.startswith("All/")} == pair


def test_a_live_photos_video_is_renamed_with_its_photo_when_the_class_folder_has_that_name_already(world: World):
    world.configure(["cat"])
    world.put("Cat/IMG_0003.JPG", jpeg("chelsea"))  # an earlier photo of that name
    world.sort()
    world.put("All/IMG_0003.JPG", jpeg("chelsea") + b"\x00")  # another shot, the same name
    world.put("All/IMG_0003.MOV", LIVE_VIDEO)
    world.sort()
    files = world.files()
    assert files["Cat/IMG_0003 (1).JPG"] == jpeg("chelsea") + b"\x00" and files["Cat/IMG_0003 (1).MOV"] == LIVE_VIDEO


def test_a_live_photos_video_uploaded_after_its_photo_was_sorted_follows_it_into_its_class_folder(world: World):
    world.configure(["cat", "vehicle"], videos="folder")
    world.put("All/IMG_0008.HEIC", jpeg("chelsea"))
    world.sort()
    world.put("All/IMG_0008.MOV", LIVE_VIDEO)
    world.sort()
    files = world.files()
    assert files["Cat/IMG_0008.HEIC"] == jpeg("chelsea") and files["Cat/IMG_0008.MOV"] == LIVE_VIDEO


def test_a_raw_uploaded_after_its_jpeg_was_sorted_follows_it_whatever_its_own_preview_shows(world: World):
    world.configure(["cat", "food"])
    world.put("All/DSC_0009.JPG", jpeg("chelsea"))
    world.sort()
    world.put("All/DSC_0009.ORF", raw_file("coffee"))
    world.sort()
    assert world.files()["Cat/DSC_0009.ORF"] == raw_file("coffee")


def test_a_video_uploaded_after_its_photo_was_moved_away_by_the_user_goes_its_own_way(world: World):
    world.configure(["cat"], videos="folder")
    world.put("All/IMG_0010.JPG", jpeg("chelsea"))
    world.sort()
    world.user_delete("Cat/IMG_0010.JPG")
    world.put("All/IMG_0010.MOV", LIVE_VIDEO)
    world.sort()
    assert world.files()["Videos/IMG_0010.MOV"] == LIVE_VIDEO


def test_a_raw_on_its_own_is_sorted_by_its_embedded_preview(world: World):
    world.configure(["cat", "food", "vehicle"])
    world.put("All/DSC_0004.NEF", raw_file("coffee"))
    world.put("All/DSC_0005.DNG", raw_file("motorcycle"))
    world.sort()
    files = world.files()
    assert files["Food/DSC_0004.NEF"] == raw_file("coffee") and files["Vehicle/DSC_0005.DNG"] == raw_file("motorcycle")


def test_a_raw_without_any_embedded_jpeg_and_a_lone_sidecar_stay_in_the_inbox(world: World):
    world.configure(["cat"])
    no_preview = b"II*\x00\x08\x00\x00\x00" + bytes(5000)
    world.put("All/DSC_0006.CR2", no_preview)
    world.put("All/lonely.AAE", EDIT)
    world.sort()
    files = world.files()
    assert files["All/DSC_0006.CR2"] == no_preview and files["All/lonely.AAE"] == EDIT


def test_with_tags_a_live_photos_video_stays_beside_its_tagged_photo(world: World):
    world.configure(["cat"], action="tag")
    world.put("All/IMG_0007.JPG", jpeg("chelsea"))
    world.put("All/IMG_0007.MOV", LIVE_VIDEO)
    world.sort()
    files = world.files()
    assert files["All/IMG_0007.MOV"] == LIVE_VIDEO and files["All/IMG_0007.JPG"] == jpeg("chelsea")
    assert world.labels("All/IMG_0007.JPG") == {"cat"}


def test_the_files_of_one_shot_are_told_by_folder_and_name_in_any_case_and_a_photo_leads_before_a_raw():
    files = ["/All/IMG_1.HEIC", "/All/img_1.mov", "/All/IMG_1.DNG", "/All/IMG_1.aae", "/All/trip/IMG_1.MOV",
             "/All/DSC_2.NEF", "/All/DSC_2.xmp", "/All/clip.mp4"]
    assert companions(files) == {"/All/img_1.mov": "/All/IMG_1.HEIC", "/All/IMG_1.DNG": "/All/IMG_1.HEIC",
                                 "/All/IMG_1.aae": "/All/IMG_1.HEIC", "/All/DSC_2.xmp": "/All/DSC_2.NEF"}
    assert pair_key("/All/IMG_1.HEIC") == pair_key("/all/img_1.MOV")


def test_a_raws_preview_is_its_largest_embedded_jpeg_not_its_thumbnail_nor_its_lossless_sensor_data():
    assert raw_preview(raw_file("chelsea")) == encode(image("chelsea").convert("RGB"), "JPEG", quality=92)
    assert raw_preview(b"II*\x00" + b"\xff\xd8\xff\xc3\x00\x0b" + bytes(100)) is None


@pytest.mark.parametrize("classes, options, named", [
    (["cat", "videos"], {"videos": "folder"}, "'Videos'"),
    (["cat"], {"videos": "folder", "action": "tag"}, '"videos": "folder"'),
])
def test_a_videos_option_that_cannot_work_is_refused_naming_the_clash_and_nothing_moves(
        world: World, classes, options, named):
    world.put("All/clip.mp4", CLIP)
    before = world.files()
    assert named in world.refusal(classes, **options)
    assert world.files() == before


def test_status_counts_a_video_moved_under_videos_and_says_why_a_video_stayed(service):
    import json
    service.configure(["cat"], videos="folder")
    service.dropbox.put("/All/clip.mp4", CLIP)
    service.notify()
    service.source.drain(timeout=60)
    service.configure(["cat"])
    service.dropbox.put("/All/later.mov", CLIP)
    service.notify()
    service.source.drain(timeout=60)
    status = json.loads(service.get("/status").body)
    assert status["sorted"] == {"Videos": 1} and status["skipped"] == 1
    assert [p["reason"].split(":")[0] for p in status["recent_problems"]] == ["video"]


def test_a_file_made_of_jpeg_starts_yields_no_preview_looking_at_a_bounded_number_of_them():
    crafted = b"\xff\xd8\xff\xe0\x00\x02" * 400_000  # 2.4 MB of empty APP0 segments chained
    assert raw_preview(crafted) is None


def test_a_dry_run_of_a_folder_says_a_live_photos_video_would_go_to_its_photos_class_and_moves_nothing(
        tmp_path, monkeypatch):
    import json

    from tests.test_stories_both_stores import FolderWorld
    monkeypatch.setenv("COLUMNS", "1000")
    folder = FolderWorld(tmp_path)
    folder.put("All/IMG_0011.JPG", jpeg("chelsea"))
    folder.put("All/IMG_0011.MOV", LIVE_VIDEO)
    before = folder.files()
    status, out, err = folder.main("--classes", "cat", "--dry-run", "--json")
    assert status == 0, err
    assert {line["file"]: line["folder"] for line in map(json.loads, out.splitlines())} == {
        "/All/IMG_0011.JPG": "Cat", "/All/IMG_0011.MOV": "Cat"}
    assert folder.files() == before


def test_with_tags_a_raw_uploaded_after_its_jpeg_was_tagged_stays_untagged_beside_it(world: World):
    world.configure(["cat", "food"], action="tag")
    world.put("All/DSC_0011.JPG", jpeg("chelsea"))
    world.sort()
    world.put("All/DSC_0011.NEF", raw_file("coffee"))
    world.sort()
    files = world.files()
    assert files["All/DSC_0011.NEF"] == raw_file("coffee") and files["All/DSC_0011.JPG"] == jpeg("chelsea")
    assert world.labels("All/DSC_0011.JPG") == {"cat"} and world.labels("All/DSC_0011.NEF") == set()


def test_with_tags_a_raw_beside_its_tagged_jpeg_stays_untagged_when_the_inbox_is_sorted_again(service):
    import json
    service.configure(["cat", "food"], action="tag")
    service.dropbox.put("/All/DSC_0012.JPG", jpeg("chelsea"))
    service.dropbox.put("/All/DSC_0012.NEF", raw_file("coffee"))
    service.notify()
    service.source.drain(timeout=60)
    assert service.post("/sort", {}).status_code == 202  # lists /All again: the tagged JPEG stays decided
    service.source.drain(timeout=60)
    assert service.dropbox.tags_of("/All/DSC_0012.JPG") == ["cat"] and service.dropbox.tags_of("/All/DSC_0012.NEF") == []
    status = json.loads(service.get("/status").body)
    assert status["tagged_photos"] == 1 and [p["reason"].split(":")[0] for p in status["recent_problems"]] == ["with_photo"]


def test_a_raw_sorted_by_its_preview_that_the_user_moves_to_another_class_teaches_both(world: World):
    world.configure(["cat", "food"])
    world.put("All/DSC_0014.NEF", raw_file("coffee"))
    world.sort()
    assert world.files() == {"Food/DSC_0014.NEF": raw_file("coffee")}
    world.user_move("Food/DSC_0014.NEF", "Cat/DSC_0014.NEF")  # the user's correction
    world.sort()
    # Learned from its preview, as a photo: an example of the class it is in now, a counter-example of the other.
    assert world.taught() == {"cat": (1, 0), "food": (0, 1)}


def test_a_live_photos_video_stays_with_its_photo_while_its_class_folder_is_blocked_and_follows_it_once_sorted_again(
        service):
    service.configure(["cat"], videos="folder")
    service.dropbox.put("/Cat", b"a plain file where the class folder would go")
    service.dropbox.put("/All/IMG_0016.JPG", jpeg("chelsea"))
    service.dropbox.put("/All/IMG_0016.MOV", LIVE_VIDEO)
    service.notify()
    service.source.drain(timeout=60)
    files = service.dropbox.files("/")
    assert files["/All/IMG_0016.JPG"] == jpeg("chelsea") and files["/All/IMG_0016.MOV"] == LIVE_VIDEO  # not to /Videos
    service.dropbox.user_delete("/Cat")
    assert service.post("/sort", {}).status_code == 202  # as the problem in /status says
    service.source.drain(timeout=60)
    files = service.dropbox.files("/")
    assert files["/Cat/IMG_0016.JPG"] == jpeg("chelsea") and files["/Cat/IMG_0016.MOV"] == LIVE_VIDEO


def test_a_live_photos_video_whose_photo_is_held_up_past_its_receives_waits_on_and_follows_it_never_dead_lettered(
        service):
    import json

    sqs, url, received = _live_photo_queued(service, "IMG_0020")
    # The photo's message held up for 12 s (a backfill's queue ahead of it); the video's released at
    # once: its 3 receives (one a second here) run out long before its photo is sorted.
    for message in received:
        held = 12 if json.loads(message["Body"])["path"].endswith(".JPG") else 0
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=held)
    service.source.drain(timeout=120)
    files = service.dropbox.files("/")
    assert files == {"/Cat/IMG_0020.JPG": jpeg("chelsea"), "/Cat/IMG_0020.MOV": LIVE_VIDEO}
    status = json.loads(service.get("/status").body)
    assert status["queue"]["dead_letter"] == 0 and status["failed"] == 0 and status["sorted"] == {"Cat": 2}


def test_a_live_photos_video_delivered_twice_moves_once_and_counts_once(service):
    import json

    sqs, url, received = _live_photo_queued(service, "IMG_0021")
    video = next(m["Body"] for m in received if json.loads(m["Body"])["path"].endswith(".MOV"))
    for message in received:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    service.source.drain(timeout=60)
    sqs.send_message(QueueUrl=url, MessageBody=video)  # SQS delivers the video's message again
    service.source.drain(timeout=60)
    assert service.dropbox.files("/") == {"/Cat/IMG_0021.JPG": jpeg("chelsea"), "/Cat/IMG_0021.MOV": LIVE_VIDEO}
    status = json.loads(service.get("/status").body)
    assert (status["sorted"], status["finished"], status["failed"]) == ({"Cat": 2}, 2, 0)


def test_a_live_photos_video_follows_its_photo_renamed_by_the_user_while_queued_under_the_new_name(service):
    service.configure(["cat"])
    service.dropbox.put("/All/IMG_0022.JPG", jpeg("chelsea"))
    service.dropbox.put("/All/IMG_0022.MOV", LIVE_VIDEO)
    service.notify()  # both queued
    service.dropbox.user_move("/All/IMG_0022.JPG", "/All/Kitten.JPG")  # the user renames the photo meanwhile
    service.notify()
    service.source.drain(timeout=120)
    assert service.dropbox.files("/") == {"/Cat/Kitten.JPG": jpeg("chelsea"), "/Cat/Kitten.MOV": LIVE_VIDEO}


def _live_photo_queued(service, name: str) -> tuple:
    """A Live Photo (NAME.JPG of a cat, NAME.MOV) put in /All and queued by a notification; its two
    messages received, so the test decides when each is handled: (sqs, queue url, the messages)."""
    import boto3
    service.configure(["cat"])
    service.dropbox.put(f"/All/{name}.JPG", jpeg("chelsea"))
    service.dropbox.put(f"/All/{name}.MOV", LIVE_VIDEO)
    service.notify()
    sqs, url = boto3.client("sqs"), service.source.queue_url
    return sqs, url, sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
