"""Resolve a user's class name ("Dogs", "people", "beach") to what decides it: the ImageNet classes
it covers and, for words about people, pages or screens, the face or the text detector, and for
scenes (landscape, sunset) the scene head.

Everyday words come first, from the reviewed concept table (model/concepts.json): "people" is
decided by faces, "beach" by the ImageNet scenes a beach photo shows, "plant" means plants (not
the factory). Any other name matches WordNet noun senses; it covers every ImageNet class whose own
synset or one of whose hypernyms is a chosen sense. We choose the most frequent sense that covers
any ImageNet class, plus any rarer sense that covers at least as many: "cat" means the true cats
(not the big cats nor the Caterpillar tractor), while "food" keeps both "nutrient" (dishes, drinks)
and "solid food" (fruit, vegetables, bread), which WordNet files apart.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NotRequired, TypedDict

from chalicelib.rules.face_rules import FaceRule
from chalicelib.rules.text_rules import TextRule

# WordNet's own noun detachment rules (morphy), tried in order after the exception list.
_SUFFIXES = (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("zes", "z"),
             ("ses", "s"), ("men", "man"), ("s", ""))


# A WordNet word covering this few ImageNet classes is accepted, with a word of warning.
FEW_CLASSES = 3


class UnknownClassError(ValueError):
    """A class name that covers nothing the model can see."""

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f" (try: {', '.join(suggestions)})" if suggestions else ""
        super().__init__(f"{name!r}{hint}")


@dataclass(frozen=True)
class Resolution:
    """What one user class means: the concept or WordNet senses chosen, the ImageNet classes it
    covers, and the face or text rule that decides it too (words about people, pages, screens)."""

    name: str
    senses: tuple[tuple[str, ...], ...]
    indices: tuple[int, ...]
    labels: tuple[str, ...]
    faces: FaceRule | None = None
    text: TextRule | None = None
    concept: str | None = None
    scene: str | None = None  # the scene head's scene that decides it too ("landscape", "sunset")
    by_examples: bool = False  # a name the model does not know, decided by its folder's photos alone

    @property
    def note(self) -> str | None:
        if self.concept is None and not self.by_examples and len(self.indices) <= FEW_CLASSES:
            return (f"only {len(self.indices)} kind(s) of object the model knows: photos of other kinds of "
                    f"{self.name} go to Unsorted")
        return None

    def describe(self) -> str:
        """Every signal and every ImageNet class, in one line."""
        if self.by_examples:
            return f"{self.name}: the photos in its folder (its examples) alone"
        parts = []
        parts += [rule.describe() for rule in (self.faces, self.text) if rule is not None]
        if self.scene:
            parts.append(f"the scene head finds {self.scene}")
        if self.labels:
            noun = "class" if len(self.labels) == 1 else "classes"
            parts.append(f"{len(self.labels)} ImageNet {noun}: {', '.join(self.labels)}")
        concept = f" (everyday word: {self.concept})" if self.concept else ""
        note = f"; note: {self.note}" if self.note else ""
        return f"{self.name}{concept}: {'; or '.join(parts)}{note}"


def normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


# model/vocabulary.json (model/build_vocabulary.py writes it) and model/concepts.json (written and
# reviewed by hand), as far as they are read here.
class Synset(TypedDict):
    wnid: str
    lemmas: list[str]


class VocabularyData(TypedDict):
    synsets: list[Synset]
    classes: list[list[int]]  # per ImageNet class, in output order: its synset and every hypernym's
    lemma_senses: dict[str, list[int]]  # a word's noun senses (synsets), in WordNet's order
    plurals: dict[str, str]


class FaceRuleData(TypedDict, total=False):
    min: int
    max: int | None
    min_area: float


class TextRuleData(TypedDict):
    min_lines: int
    screen: bool
    min_lines_on_paper: NotRequired[int | None]


class Concept(TypedDict):
    name: str
    words: list[str]
    near: NotRequired[list[str]]
    imagenet: NotRequired[list[str]]
    wordnet: NotRequired[list[str]]
    faces: NotRequired[FaceRuleData]
    text: NotRequired[TextRuleData]
    scene: NotRequired[str]


class Concepts(TypedDict):
    concepts: list[Concept]


class Vocabulary:
    def __init__(self, data: VocabularyData, concepts: Concepts | None = None):
        self._synsets = data["synsets"]
        self._classes = data["classes"]
        self._lemma_senses: dict[str, list[int]] = data["lemma_senses"]
        self._plurals: dict[str, str] = data["plurals"]
        self._concepts = (concepts or {"concepts": []})["concepts"]

    @classmethod
    def load(cls, path: Path, concepts: Path | None = None) -> "Vocabulary":
        return cls(json.loads(path.read_text(encoding="utf-8")),
                   json.loads(concepts.read_text(encoding="utf-8")) if concepts else None)

    @cached_property
    def _concept_words(self) -> dict[str, Concept]:
        return {normalize(word): concept for concept in self._concepts for word in concept["words"]}

    @cached_property
    def _near_words(self) -> dict[str, list[str]]:
        near: dict[str, list[str]] = {}
        for concept in self._concepts:
            for word in concept.get("near", []):
                near.setdefault(normalize(word), []).append(concept["words"][0])
        return near

    @cached_property
    def _label_index(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}

    @cached_property
    def labels(self) -> list[str]:
        """Display name of each of the 1000 ImageNet classes, in the model's output order."""
        return [self._synsets[i]["lemmas"][0] for i in range(len(self._classes))]

    @cached_property
    def _covered_by(self) -> dict[int, list[int]]:
        covered: dict[int, list[int]] = {}
        for index, closure in enumerate(self._classes):
            for synset in closure:
                covered.setdefault(synset, []).append(index)
        return covered

    def _candidates(self, key: str) -> list[str]:
        found = [key]
        if key in self._plurals:
            found.append(self._plurals[key])
        head, _, last = key.rpartition(" ")
        if last in self._plurals:
            found.append(f"{head} {self._plurals[last]}".strip())
        found += [key[: -len(suffix)] + base for suffix, base in _SUFFIXES if key.endswith(suffix)]
        found += [c.replace("-", " ") for c in found if "-" in c]
        return found

    def resolve(self, name: str, by_examples: bool = False) -> Resolution:
        """What a class name covers. An unknown name raises UnknownClassError, unless
        `by_examples`: its folder holds enough examples for it to be a class all the same."""
        key = normalize(name)
        for candidate in self._candidates(key):
            if candidate in self._concept_words:
                return self._from_concept(name.strip(), self._concept_words[candidate])
        try:
            return self._wordnet(name)
        except UnknownClassError:
            if not by_examples:
                raise
            return Resolution(name=name.strip(), senses=(), indices=(), labels=(), by_examples=True)

    def _wordnet(self, name: str) -> Resolution:
        key = normalize(name)
        for candidate in self._candidates(key):
            senses = self._lemma_senses.get(candidate)
            if senses:
                breadth = len(self._covered_by[senses[0]])
                chosen = [s for s in senses if len(self._covered_by[s]) >= breadth]
                indices = tuple(sorted({i for s in chosen for i in self._covered_by[s]}))
                return Resolution(
                    name=name.strip(),
                    senses=tuple(tuple(self._synsets[s]["lemmas"]) for s in chosen),
                    indices=indices,
                    labels=tuple(self.labels[i] for i in indices),
                )
        raise UnknownClassError(name, self.suggest(key))

    def _from_concept(self, name: str, concept: Concept) -> Resolution:
        indices = {self._label_index[label] for label in concept.get("imagenet", [])}
        senses: list[tuple[str, ...]] = []
        for word in concept.get("wordnet", []):
            resolved = self._wordnet(word)
            indices.update(resolved.indices)
            senses += resolved.senses
        ordered = tuple(sorted(indices))
        return Resolution(name=name, senses=tuple(senses), indices=ordered,
                          labels=tuple(self.labels[i] for i in ordered),
                          faces=FaceRule(**concept["faces"]) if "faces" in concept else None,
                          text=TextRule(**concept["text"]) if "text" in concept else None,
                          concept=concept["name"], scene=concept.get("scene"))

    def suggest(self, name: str, n: int = 5) -> list[str]:
        """Words to try instead: by meaning (the concept table) when there are any, else by spelling."""
        key = normalize(name)
        by_meaning = next((self._near_words[c] for c in self._candidates(key) if c in self._near_words), [])
        if by_meaning:
            return by_meaning[:n]
        # By spelling: of the close words, those fewest typing slips away ("dgo": dog, not doc or dingo).
        close = dict.fromkeys(difflib.get_close_matches(key, [*self._concept_words, *self._lemma_senses], n=4 * n,
                                                        cutoff=0.6))
        slips = {word: _slips(key, word) for word in close}
        fewest = min(slips.values(), default=0)
        return [word for word, count in slips.items() if count == fewest][:n]


def _slips(typed: str, word: str) -> int:
    """Typing slips from `typed` to `word`: letters left out, added, changed or swapped with the
    next one (the optimal string alignment distance)."""
    rows = [list(range(len(word) + 1))]
    for i, a in enumerate(typed, 1):
        row = [i]
        for j, b in enumerate(word, 1):
            row.append(min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + (a != b)))
            if i > 1 and j > 1 and a == word[j - 2] and typed[i - 2] == b:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]
