"""Resolve a user's class name ("Dogs", "sports car") to the ImageNet classes it covers.

A name matches WordNet noun senses; it covers every ImageNet class whose own synset or one of
whose hypernyms is a chosen sense. We choose the most frequent sense that covers any ImageNet
class, plus any rarer sense that covers at least as many: "cat" means the true cats (not the big
cats nor the Caterpillar tractor), while "food" keeps both "nutrient" (dishes, drinks) and "solid
food" (fruit, vegetables, bread), which WordNet files apart.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

# WordNet's own noun detachment rules (morphy), tried in order after the exception list.
_SUFFIXES = (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("zes", "z"),
             ("ses", "s"), ("men", "man"), ("s", ""))


class UnknownClassError(ValueError):
    """A class name that covers no ImageNet class."""

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f"; close words: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"unknown class {name!r}: it matches no object the model knows{hint}")


@dataclass(frozen=True)
class Resolution:
    """What one user class means: the WordNet sense chosen and the ImageNet classes it covers."""

    name: str
    senses: tuple[tuple[str, ...], ...]
    indices: tuple[int, ...]
    labels: tuple[str, ...]

    def describe(self, limit: int = 8) -> str:
        shown = ", ".join(self.labels[:limit])
        more = ", ..." if len(self.labels) > limit else ""
        noun = "class" if len(self.labels) == 1 else "classes"
        return f"{self.name}: {len(self.labels)} ImageNet {noun}: {shown}{more}"


def normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


class Vocabulary:
    def __init__(self, data: dict):
        self._synsets = data["synsets"]
        self._classes = data["classes"]
        self._lemma_senses: dict[str, list[int]] = data["lemma_senses"]
        self._plurals: dict[str, str] = data["plurals"]

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        return cls(json.loads(path.read_text(encoding="utf-8")))

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

    def resolve(self, name: str) -> Resolution:
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

    def suggest(self, name: str, n: int = 5) -> list[str]:
        return difflib.get_close_matches(normalize(name), self._lemma_senses.keys(), n=n, cutoff=0.6)
