"""The classifier on real photos that ship inside packages."""
import hashlib
import io
import json

import numpy as np
import pytest
import skimage.data
from PIL import Image

from chalicelib.vision import images
from chalicelib.vision.bundled_model import MODEL_DIR
from chalicelib.vision.classifier import Classifier
from local import rendered, sample_photos


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load()


def test_load_is_cached(classifier):
    assert Classifier.load() is classifier


def test_cat_takes_chelsea(classifier):
    decision = classifier.classify(sample_photos.jpeg("chelsea"), ["cat", "dog", "truck"])
    assert decision.label == "cat"
    assert decision.score > 0.9
    assert [name for name, _ in decision.ranking] == ["cat", "dog", "truck"]


def test_five_class_scenario_sorts_like_a_person(classifier):
    names = list(sample_photos.SCENARIO_EXPECTED)
    decisions = classifier.classify_batch([sample_photos.jpeg(n) for n in names], sample_photos.SCENARIO_CLASSES)
    assert {n: d.label for n, d in zip(names, decisions)} == sample_photos.SCENARIO_EXPECTED


def test_unrelated_classes_leave_everything_unsorted(classifier):
    names = list(sample_photos.PHOTOS)
    decisions = classifier.classify_batch([sample_photos.jpeg(n) for n in names], sample_photos.UNRELATED_CLASSES)
    assert [d.label for d in decisions] == [None] * len(names)


def test_batch_gives_the_same_answers_as_one_at_a_time(classifier):
    photos = [sample_photos.jpeg(n) for n in sample_photos.PHOTOS]
    batch = classifier.classify_batch(photos, sample_photos.SCENARIO_CLASSES)
    for photo, together in zip(photos, batch):
        alone = classifier.classify(photo, sample_photos.SCENARIO_CLASSES)
        assert alone.label == together.label
        assert alone.score == pytest.approx(together.score, abs=1e-5)


def test_batch_reports_bad_files_in_place(classifier):
    results = classifier.classify_batch([b"", sample_photos.jpeg("chelsea"), b"not an image"], ["cat"])
    assert isinstance(results[0], images.EmptyImage)
    assert results[1].label == "cat"
    assert isinstance(results[2], images.NotAnImage)


def test_threshold_sends_doubtful_photos_to_unsorted(classifier):
    photo = sample_photos.jpeg("flower")
    assert classifier.classify(photo, ["flower", "cat"]).label == "flower"
    decision = classifier.classify(photo, ["flower", "cat"], threshold=0.99)
    assert decision.label is None
    assert decision.ranking[0][0] == "flower"


def test_a_photo_whose_best_class_misses_its_own_threshold_is_unsorted_though_another_class_would_take_it(
        classifier):
    photos = [sample_photos.jpeg("chelsea"), sample_photos.jpeg("coffee")]
    chelsea, coffee = classifier.classify_batch(photos, ["cat", "food"], [None, 0.99])
    assert (chelsea.label, chelsea.by) == ("cat", "name") and 0.9 < coffee.score < 0.99
    assert coffee.label is None and coffee.ranking[0][0] == "food"
    # The runner-up's threshold of 0 does not take the photo: only the best class may.
    [coffee] = classifier.classify_batch(photos[1:], ["food", "cat"], [0.99, 0.0])
    assert coffee.label is None


def test_overlapping_classes_tie_goes_to_the_more_specific(classifier):
    probabilities = np.zeros((1, 1000))
    probabilities[0, classifier.vocabulary.labels.index("tabby")] = 1.0
    for classes in (["animal", "cat"], ["cat", "animal"]):
        decision = classifier.decide(probabilities, classes)[0]
        assert decision.label == "cat"
        assert decision.ranking[1] == ("animal", 1.0)


def test_overlapping_classes_are_allowed_and_broad_wins_when_it_holds_more(classifier):
    # The coffee photo is not a cat; "food" holds it even beside the broader "animal".
    decision = classifier.classify(sample_photos.jpeg("coffee"), ["animal", "cat", "food"])
    assert decision.label == "food"


def test_photos_of_people_go_to_people_and_the_rest_do_not(classifier):
    names = list(sample_photos.PHOTOS)
    decisions = classifier.classify_batch([sample_photos.jpeg(n) for n in names], ["people", "animal", "building"])
    people = {n for n, d in zip(names, decisions) if d.label == "people"}
    assert people == set(sample_photos.PEOPLE)


def test_a_portrait_is_a_selfie_and_a_photographer_far_away_is_not(classifier):
    decisions = classifier.classify_batch([sample_photos.jpeg(n) for n in ("astronaut", "camera", "chelsea")],
                                          ["selfie", "cat"])
    assert [d.label for d in decisions] == ["selfie", None, "cat"]


SIX_KINDS = ["person", "animal", "building", "landscape", "screenshot", "document"]


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080), (390, 844), (480, 360)])
def test_a_screenshot_chromium_took_is_a_screenshot_at_any_window_size(classifier, size):
    decision = classifier.classify(rendered.screenshot(*size), SIX_KINDS)
    assert decision.label == "screenshot", decision.ranking


def test_a_screenshot_saved_as_jpeg_is_still_a_screenshot(classifier):
    as_jpeg = sample_photos.encode(Image.open(io.BytesIO(rendered.screenshot())).convert("RGB"), "JPEG", quality=85)
    decision = classifier.classify(as_jpeg, SIX_KINDS)
    assert decision.label == "screenshot", decision.ranking


@pytest.mark.parametrize("dpi", [100, 150])
def test_a_printed_page_rendered_from_pdf_is_a_document(classifier, dpi):
    decision = classifier.classify(rendered.document_page(dpi), SIX_KINDS)
    assert decision.label == "document", decision.ranking


def test_a_scanned_page_is_a_document(classifier):
    decision = classifier.classify(sample_photos.encode(Image.fromarray(skimage.data.page()), "PNG"), SIX_KINDS)
    assert decision.label == "document", decision.ranking


def test_photos_are_neither_screenshots_nor_documents(classifier):
    names = list(sample_photos.PHOTOS)
    decisions = classifier.classify_batch([sample_photos.jpeg(n) for n in names], ["screenshot", "document"])
    assert {n: d.label for n, d in zip(names, decisions)} == dict.fromkeys(names)


# Both photos are in the scene head's tune split: these check that a scene word reaches the head;
# how well the head does on photos it never saw is bench/scenes.py's report split.
def test_a_sky_over_hills_that_no_imagenet_class_covers_is_a_landscape_by_the_scene_head(classifier):
    photo = sample_photos.wallpaper("cloud.png")
    by_name = classifier.classify(photo, ["geological formation", *SIX_KINDS[:3], *SIX_KINDS[4:]])
    assert by_name.label is None, by_name.ranking  # the ImageNet classes of "landscape" alone miss it
    assert classifier.classify(photo, SIX_KINDS).label == "landscape"


def test_meadow_flowers_go_to_flowers_not_to_animal_by_the_scene_head(classifier):
    decision = classifier.classify(sample_photos.wallpaper("flowers.png"), ["flowers", "animal", "food"])
    assert decision.label == "flowers", decision.ranking


def test_the_scene_head_calls_no_sample_photo_of_people_or_things_a_landscape_beach_or_city(classifier):
    names = [n for n in sample_photos.PHOTOS if n != "hubble"]  # the deep field: the head's one false alarm
    decisions = classifier.classify_batch([sample_photos.jpeg(n) for n in names], ["landscape", "beach", "city"])
    assert {n: d.label for n, d in zip(names, decisions)} == dict.fromkeys(names)


def test_every_scene_the_concept_table_routes_to_is_one_the_bundled_head_decides(classifier):
    routed = {c["scene"] for c in json.loads((MODEL_DIR / "concepts.json").read_text())["concepts"] if "scene" in c}
    assert routed and routed <= set(classifier._scene_head.scenes)


def test_every_bundled_model_file_is_the_one_whose_sha256_the_model_card_gives():
    card = json.loads((MODEL_DIR / "model.json").read_text())
    files = {card["file"]: card["sha256"], **{card[k]["file"]: card[k]["sha256"] for k in ("faces", "text", "scenes")}}
    assert {name: hashlib.sha256((MODEL_DIR / name).read_bytes()).hexdigest() for name in files} == files
