"""Derive model/vocabulary.json from the timm ImageNet synset list and WordNet 3.0.

The 1000 ImageNet classes are WordNet noun synsets. For each class we keep its own lemmas and the
closure of its hypernyms, and for every lemma in that closure its senses in WordNet's frequency
order, so that run time resolves "dog" without WordNet, timm or torch.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

WORDNET = Path("/usr/share/wordnet")


def _synsets_file() -> Path:
    # find_spec locates the wheel's data without importing timm (which would import torchvision).
    package = importlib.util.find_spec("timm").submodule_search_locations[0]
    return Path(package) / "data" / "_info" / "imagenet_synsets.txt"


def _parse_data_noun(path: Path) -> dict[str, tuple[list[str], list[str]]]:
    """offset -> (lemmas, hypernym offsets); instance hypernyms count as hypernyms."""
    synsets: dict[str, tuple[list[str], list[str]]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):
                continue  # licence header
            fields = line.split("|", 1)[0].split()
            offset, n_words = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
            i = 4 + 2 * n_words
            n_ptrs = int(fields[i])
            hypernyms = []
            for p in range(n_ptrs):
                symbol, target, pos = fields[i + 1 + 4 * p: i + 4 + 4 * p]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
            synsets[offset] = (lemmas, hypernyms)
    return synsets


def _parse_index_noun(path: Path) -> dict[str, list[str]]:
    """lemma -> synset offsets in WordNet's sense order (most frequent first)."""
    senses: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):
                continue
            fields = line.split()
            n_senses = int(fields[2])
            senses[fields[0].replace("_", " ")] = fields[-n_senses:]
    return senses


def normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


def build(out: Path) -> dict:
    wnids = _synsets_file().read_text().split()
    assert len(wnids) == 1000, len(wnids)
    data = _parse_data_noun(WORDNET / "data.noun")
    index = _parse_index_noun(WORDNET / "index.noun")

    table: list[str] = []  # synset offsets; classes first so class i is synset i
    position: dict[str, int] = {}

    def intern(offset: str) -> int:
        if offset not in position:
            position[offset] = len(table)
            table.append(offset)
        return position[offset]

    for wnid in wnids:
        intern(wnid[1:])
    classes = []
    for wnid in wnids:
        closure, stack = set(), [wnid[1:]]
        while stack:
            offset = stack.pop()
            if offset not in closure:
                closure.add(offset)
                stack.extend(data[offset][1])
        # Interned in offset order, not set order, so the file is the same on every build.
        classes.append(sorted(intern(o) for o in sorted(closure)))

    lemma_senses: dict[str, list[int]] = {}
    for offset in table:
        for lemma in data[offset][0]:
            key = normalize(lemma)
            if key not in lemma_senses:
                ordered = [position[o] for o in index.get(key, []) if o in position]
                # A lemma missing from index.noun (rare capitalisation cases) keeps its own synset.
                lemma_senses[key] = ordered or [position[offset]]

    plurals = {}
    for line in (WORDNET / "noun.exc").read_text().splitlines():
        inflected, *bases = line.split()
        for base in bases:
            if normalize(base) in lemma_senses:
                plurals[normalize(inflected)] = normalize(base)
                break

    vocab = {
        "source": "ImageNet-1k class order from timm imagenet_synsets.txt; WordNet 3.0 (wordnet-base)",
        "synsets": [{"wnid": "n" + o, "lemmas": data[o][0]} for o in table],
        "classes": classes,
        "lemma_senses": lemma_senses,
        "plurals": plurals,
    }
    out.write_text(json.dumps(vocab, separators=(",", ":"), ensure_ascii=False))
    return vocab


if __name__ == "__main__":
    v = build(Path(__file__).with_name("vocabulary.json"))
    print(len(v["synsets"]), "synsets,", len(v["lemma_senses"]), "lemmas,", len(v["plurals"]), "plurals")
