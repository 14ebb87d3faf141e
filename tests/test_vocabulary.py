"""Class names resolve to the ImageNet classes a person would expect."""
import pytest

from chalicelib.classifier import Classifier
from chalicelib.vocabulary import UnknownClassError


@pytest.fixture(scope="module")
def vocabulary():
    return Classifier.load().vocabulary


def labels(vocabulary, name):
    return set(vocabulary.resolve(name).labels)


def test_dog_covers_the_breeds_and_not_the_hot_dog(vocabulary):
    dog = labels(vocabulary, "dog")
    assert len(dog) == 118
    assert {"beagle", "golden retriever", "Chihuahua", "pug"} <= dog
    assert "hotdog" not in dog


@pytest.mark.parametrize("spelling", ["Dogs", "DOG", "dogs", "  dog  "])
def test_case_plural_and_spaces_do_not_matter(vocabulary, spelling):
    assert labels(vocabulary, spelling) == labels(vocabulary, "dog")


def test_cat_covers_the_domestic_cats_not_the_big_cats(vocabulary):
    cat = labels(vocabulary, "cat")
    assert {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"} <= cat
    assert not {"lion", "tiger", "leopard", "cheetah"} & cat


def test_truck_covers_the_trucks(vocabulary):
    assert {"fire engine", "pickup", "tow truck", "trailer truck", "garbage truck"} <= labels(vocabulary, "trucks")


@pytest.mark.parametrize("spelling", ["sports car", "sports_car", "Sports  Car", "sports cars"])
def test_multi_word_names(vocabulary, spelling):
    assert labels(vocabulary, spelling) == {"sports car"}


@pytest.mark.parametrize("name, members, at_least", [
    ("animal", {"tabby", "beagle", "goldfish", "bald eagle"}, 300),
    ("vehicle", {"sports car", "airliner", "canoe", "fire engine"}, 50),
    ("food", {"pizza", "espresso", "strawberry", "broccoli", "bagel"}, 40),
    ("fruit", {"strawberry", "banana", "orange", "pineapple"}, 10),
    ("building", {"church", "palace", "barn", "cinema"}, 10),
])
def test_broad_names_cover_their_families(vocabulary, name, members, at_least):
    covered = labels(vocabulary, name)
    assert members <= covered
    assert len(covered) >= at_least


def test_irregular_plurals(vocabulary):
    assert labels(vocabulary, "buses") == labels(vocabulary, "bus")
    assert labels(vocabulary, "mice") == labels(vocabulary, "mouse")


def test_unknown_name_is_rejected_with_close_words(vocabulary):
    with pytest.raises(UnknownClassError) as raised:
        vocabulary.resolve("dgo")
    assert raised.value.name == "dgo"
    assert "dog" in raised.value.suggestions
    assert "'dgo'" in str(raised.value) and "dog" in str(raised.value)


def test_a_word_with_no_photo_meaning_is_rejected(vocabulary):
    with pytest.raises(UnknownClassError, match="'happiness'"):
        vocabulary.resolve("happiness")


def test_resolution_explains_itself(vocabulary):
    text = vocabulary.resolve("dog").describe()
    assert text.startswith("dog: 118 ImageNet classes: ")
    assert text.endswith(", ...")
    assert vocabulary.resolve("sports car").describe() == "sports car: 1 ImageNet class: sports car"
