"""XMP sidecars for `main.py --folder DIR --tag`: the labels of a photo in `photo.jpg.xmp` beside it,
as dc:subject (an rdf:Bag of rdf:li), which digiKam and darktable read as the photo's tags. The
photo itself is never opened for writing.

A sidecar that exists is merged, never replaced: its other content and its subjects stay, and only
the missing labels are added (with the same text as the service's Dropbox tags, rules/tags.py).
Undo takes off only the labels the sort added; a sidecar the sort created, and nothing else has
written to since, goes again (cli/folder_undo.py).
"""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence

X = "adobe:ns:meta/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
SUFFIX = ".xmp"
_PACKET_START = 'begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"'


class SidecarError(ValueError):
    """A sidecar that is not XMP this tool can merge into (not XML, no x:xmpmeta or rdf:RDF)."""


def sidecar_of(name: str) -> str:
    """The sidecar's name beside a photo: "a.jpg" -> "a.jpg.xmp" (digiKam's and darktable's)."""
    return name + SUFFIX


def subjects(data: bytes) -> list[str]:
    """The dc:subject entries of a sidecar, in order."""
    return [li.text or "" for li in _items(_parse(data)[0])]


def with_subjects(data: bytes | None, labels: Sequence[str]) -> tuple[bytes, tuple[str, ...]]:
    """The sidecar (`data`, None for none yet) with these labels among its subjects, and the labels
    it did not have (those added). Raises SidecarError for one that cannot be merged into."""
    root, declared = _parse(data) if data is not None else (_new(), {})
    have = {li.text for li in _items(root)}
    added = tuple(label for label in dict.fromkeys(labels) if label not in have)
    if not added:
        return data if data is not None else _write(root, declared), ()
    bag = _bag(root)
    for label in added:
        ET.SubElement(bag, f"{{{RDF}}}li").text = label
    return _write(root, declared), added


def without_subjects(data: bytes, labels: Sequence[str]) -> tuple[bytes, bool]:
    """The sidecar without these subjects (a dc:subject left empty goes too), and whether nothing
    is left in it but the empty frame (so a sidecar the sort created may go)."""
    root, declared = _parse(data)
    gone = set(labels)
    for description in root.iter(f"{{{RDF}}}Description"):
        for subject in description.findall(f"{{{DC}}}subject"):
            for bag in subject:
                for li in [li for li in bag.findall(f"{{{RDF}}}li") if li.text in gone]:
                    bag.remove(li)
            if not any(len(bag) for bag in subject):
                description.remove(subject)
    descriptions = list(root.iter(f"{{{RDF}}}Description"))
    empty = all(len(d) == 0 and set(d.attrib) <= {f"{{{RDF}}}about"} for d in descriptions)
    return _write(root, declared), empty


def _items(root: ET.Element) -> list[ET.Element]:
    return [li for d in root.iter(f"{{{RDF}}}Description") for s in d.findall(f"{{{DC}}}subject")
            for bag in s for li in bag.findall(f"{{{RDF}}}li")]


def _bag(root: ET.Element) -> ET.Element:
    """The rdf:Bag of the first dc:subject, made (in the first rdf:Description) when there is none."""
    for description in root.iter(f"{{{RDF}}}Description"):
        subject = description.find(f"{{{DC}}}subject")
        if subject is not None:
            bag = subject.find(f"{{{RDF}}}Bag")
            return bag if bag is not None else ET.SubElement(subject, f"{{{RDF}}}Bag")
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        raise SidecarError("no rdf:RDF in it")
    found = rdf.find(f"{{{RDF}}}Description")
    description = found if found is not None else ET.SubElement(rdf, f"{{{RDF}}}Description",
                                                                 {f"{{{RDF}}}about": ""})
    return ET.SubElement(ET.SubElement(description, f"{{{DC}}}subject"), f"{{{RDF}}}Bag")


def _new() -> ET.Element:
    root = ET.Element(f"{{{X}}}xmpmeta")
    rdf = ET.SubElement(root, f"{{{RDF}}}RDF")
    ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})
    return root


def _parse(data: bytes) -> tuple[ET.Element, dict[str, str]]:
    """The sidecar's x:xmpmeta (or rdf:RDF) element, and the namespace prefixes it declares (kept
    when it is written again, so other tools find their own prefixes)."""
    declared: dict[str, str] = {}
    try:
        for _, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
            declared.setdefault(prefix, uri)
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise SidecarError(f"not XML ({e})") from None
    if root.tag not in (f"{{{X}}}xmpmeta", f"{{{RDF}}}RDF"):
        raise SidecarError(f"not XMP (its root is {root.tag})")
    return root, declared


def _write(root: ET.Element, declared: dict[str, str]) -> bytes:
    for prefix, uri in {"x": X, "rdf": RDF, "dc": DC, **declared}.items():
        if prefix:
            ET.register_namespace(prefix, uri)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xpacket {_PACKET_START}?>\n{body}\n<?xpacket end="w"?>\n'.encode()
