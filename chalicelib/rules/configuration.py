"""The user's sorting configuration: validate a /configure body and name the folders.

Class names become Dropbox folder names, so anything that could escape the root or make an odd
path is refused here, before it reaches the classifier or Dropbox.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.rules.tags import tag_problem
from chalicelib.rules.vocabulary import Resolution, UnknownClassError

# An unknown name becomes a class once its folder holds this many examples (chalicelib/rules/examples.py).
MIN_EXAMPLES = 3
# Per class, the newest examples kept (and as many counter-examples): memory, reads and time stay bounded.
MAX_EXAMPLES = 200


def stands_by_examples(examples: int) -> bool:
    """Whether a class name the model cannot see in a photo stands on its folder's examples: the one
    rule for POST /configure (chalicelib/wiring.py), main.py --folder and the classifier."""
    return examples >= MIN_EXAMPLES


def folder_name(label: str) -> str:
    """The top-level folder of a class: "cat" -> "Cat"."""
    return label[:1].upper() + label[1:]

# The inbox folder by default: new photos arrive here. "inbox" in /configure names another
# ("Camera Uploads", "Photos/Inbox"); the class folders stay at the top level.
INBOX = "All"
# "by_date": a sorted photo goes into a subfolder of its class folder named by the year or the
# month it was taken ("Cat/2024/", "Cat/2024-06/"): chalicelib/rules/dates.py.
BY_DATE = ("none", "year", "month")
MAX_CLASSES = 50
MAX_NAME_LENGTH = 64
DEFAULT_UNSORTED_FOLDER = "Unsorted"
# What happens to an exact copy (the same bytes) of a photo already sorted: "keep" sorts it like any
# other photo; "folder" moves it to DUPLICATES_FOLDER instead. Nothing is ever deleted.
DUPLICATE_POLICIES = ("keep", "folder")
DUPLICATES_FOLDER = "Duplicates"
# What happens to a video that goes with no photo (a Live Photo's video goes with its photo): "leave"
# it in the inbox, said why; "folder" moves it to VIDEOS_FOLDER (into its date folder with "by_date").
VIDEO_POLICIES = ("leave", "folder")
VIDEOS_FOLDER = "Videos"
# Characters that look like a path separator to a person, if not to Dropbox: the named ones
# (SOLIDUS, SLASH, DIAGONAL: fraction slash, box-drawing diagonals, combining overlays...) and
# these look-alikes under other names (set minus, CJK strokes and kana).
_SLASH_WORDS = ("SOLIDUS", "SLASH", "DIAGONAL")
_SLASH_LOOKALIKES = "\u2216\u1735\u2f03\u3033\u30ce\u31d3\u4e3f"


def _slash_like(c: str) -> bool:
    return c in "/\\" or c in _SLASH_LOOKALIKES or any(w in unicodedata.name(c, "") for w in _SLASH_WORDS)


_ALLOWED_KEYS = {"classes", "threshold", "unsorted_folder", "duplicates", "inbox", "by_date", "action", "videos"}
# What sorting does with a decided photo: "move" it into its class's folder, or "tag" it where it
# is with one Dropbox tag per class above its threshold (rules/tags.py).
ACTIONS = ("move", "tag")
# The keys of a class given as an object: {"name": "receipt", "threshold": 0.6}.
_CLASS_KEYS = {"name", "threshold"}


_DATE_FOLDER = re.compile(r"[0-9]{4}(-[0-9]{2})?")


class ConfigError(ValueError):
    """A configuration the service refuses; the message names the problem for the user."""


@dataclass(frozen=True)
class SortConfig:
    classes: tuple[str, ...]
    threshold: float | None = None
    unsorted_folder: str = DEFAULT_UNSORTED_FOLDER
    duplicates: str = "keep"
    # The classes given a threshold of their own ({"name": "receipt", "threshold": 0.6}), in class order.
    thresholds: tuple[tuple[str, float], ...] = ()
    inbox: str = INBOX  # relative to the app folder, without slashes at its ends: "Photos/Inbox"
    by_date: str = "none"
    action: str = "move"
    videos: str = "leave"

    @property
    def tags(self) -> bool:
        """Whether photos are tagged where they are rather than moved."""
        return self.action == "tag"

    def threshold_for(self, label: str) -> float | None:
        """The threshold a class's score must reach: its own, else the configuration's (None: the model's default)."""
        return dict(self.thresholds).get(label, self.threshold)

    def threshold_from(self, label: str) -> str:
        """Whose threshold a class's is: "class" (its own), "configuration" (the one for every
        class) or "default" (the model's)."""
        if label in dict(self.thresholds):
            return "class"
        return "default" if self.threshold is None else "configuration"

    def class_thresholds(self) -> tuple[float | None, ...]:
        """threshold_for each class, in class order (as the classifier takes them)."""
        return tuple(self.threshold_for(label) for label in self.classes)

    def folder_for(self, label: str | None) -> str:
        """The top-level folder of a class ("cat" -> "Cat"), or of the unsorted photos (None)."""
        return self.unsorted_folder if label is None else folder_name(label)

    def labels_by_folder(self) -> dict[str, str | None]:
        """Each folder this configuration sorts into, casefolded, and its class (None: unsorted)."""
        return {self.folder_for(label).casefold(): label for label in (*self.classes, None)}

    @property
    def duplicates_folder(self) -> str | None:
        """Where exact copies of sorted photos go, or None when they are sorted like any other."""
        return DUPLICATES_FOLDER if self.duplicates == "folder" else None

    @property
    def videos_folder(self) -> str | None:
        """Where videos that go with no photo go, or None when they stay in the inbox."""
        return VIDEOS_FOLDER if self.videos == "folder" else None

    def is_class_folder(self, folder: str) -> bool:
        """Whether a top-level folder stands for a class: not the unsorted photos, the copies, the
        videos or the inbox (nor the folder a nested inbox is in)."""
        return folder.casefold() not in {self.unsorted_folder.casefold(), top_folder(self.inbox).casefold(),
                                         (self.duplicates_folder or "").casefold(),
                                         (self.videos_folder or "").casefold()}

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "classes": list(self.classes), "thresholds": dict(self.thresholds)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SortConfig":
        """From the JSON that to_dict made (as the state stores it); one stored before classes had
        thresholds of their own has none."""
        own = data.get("thresholds") or {}
        return cls(tuple(data["classes"]), data.get("threshold"),
                   data.get("unsorted_folder") or DEFAULT_UNSORTED_FOLDER, data.get("duplicates") or "keep",
                   tuple((label, float(own[label])) for label in data["classes"] if label in own),
                   data.get("inbox") or INBOX, data.get("by_date") or "none", data.get("action") or "move",
                   data.get("videos") or "leave")


def top_folder(path: str) -> str:
    """The top-level folder of a path: "/Cat/a.jpg" and "Cat/a.jpg" -> "Cat"."""
    return path.strip("/").split("/", 1)[0]


def in_inbox(path: str, inbox: str) -> bool:
    """Whether a file's path ("/All/trip/a.jpg", or "All/a.jpg" in a local folder) is in the inbox
    `inbox` ("All", "Photos/Inbox"), in it or in a subfolder of it."""
    parts, folder = path.strip("/").casefold().split("/"), inbox.casefold().split("/")
    return len(parts) > len(folder) and parts[:len(folder)] == folder


def check_name(name: object, what: str) -> str:
    """A folder-safe name, stripped; raises ConfigError saying what is wrong with it."""
    if not isinstance(name, str):
        raise ConfigError(f"{what} must be a string, got {type(name).__name__}")
    stripped = name.strip()
    if not stripped:
        raise ConfigError(f"{what} is empty")
    if len(stripped) > MAX_NAME_LENGTH:
        raise ConfigError(f"{what} {stripped[:20]!r}... is longer than {MAX_NAME_LENGTH} characters")
    folded = unicodedata.normalize("NFKC", stripped)
    if any(_slash_like(c) for c in stripped + folded):
        raise ConfigError(f"{what} {stripped!r} contains a slash")
    if ".." in folded or folded.startswith("."):
        raise ConfigError(f"{what} {stripped!r} contains '..' or starts with '.'")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for c in stripped):
        raise ConfigError(f"{what} {stripped!r} contains a control or invisible character")
    return stripped


def parse(body: object) -> SortConfig:
    """Validate a /configure body: its shape, names, threshold and folders. Reads nothing, so it runs
    before the example counts resolve_classes needs are read: a bad body is a 400 even while AWS fails."""
    if not isinstance(body, Mapping):
        raise ConfigError('the body must be a JSON object like {"classes": ["cat", "dog"]}')
    unknown = set(body) - _ALLOWED_KEYS
    if unknown:
        raise ConfigError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    classes = body.get("classes")
    if not isinstance(classes, list) or not classes:
        raise ConfigError('"classes" must be a non-empty list of names')
    if len(classes) > MAX_CLASSES:
        raise ConfigError(f'"classes" has {len(classes)} names; at most {MAX_CLASSES} are allowed')
    entries = [_class_entry(c) for c in classes]
    names = [name for name, _ in entries]
    seen: dict[str, str] = {}
    for name in names:
        key = name.casefold()
        if key in seen:
            raise ConfigError(f"class {name!r} is given twice")
        seen[key] = name

    threshold = _check_threshold(body.get("threshold"), '"threshold"')
    unsorted = body.get("unsorted_folder")
    unsorted = DEFAULT_UNSORTED_FOLDER if unsorted is None else check_name(unsorted, "unsorted_folder")
    inbox = _check_inbox(body.get("inbox"))
    inbox_top = top_folder(inbox).casefold()
    if unsorted.casefold() in seen or unsorted.casefold() == inbox_top:
        raise ConfigError(f"unsorted_folder {unsorted!r} collides with a class or the inbox /{inbox}")
    if inbox_top in seen:
        name = seen[inbox_top]
        raise ConfigError(f"class {name!r} would sort photos into the inbox itself" if "/" not in inbox else
                          f"the inbox /{inbox} is inside the folder of class {name!r}: move it out, or rename the class")
    by_date = body.get("by_date", "none")
    if by_date not in BY_DATE:
        raise ConfigError(f'"by_date" must be "none", "year" (Cat/2024/) or "month" (Cat/2024-06/), '
                          f"not {by_date!r:.40}")
    if by_date != "none" and (dated := [name for name in names if is_date_folder(name)]):
        raise ConfigError(f"class {dated[0]!r} is named like a date folder, which \"by_date\" makes inside "
                          "each class folder: rename the class, or sort without by_date")
    taken = {*seen, unsorted.casefold(), inbox_top}
    duplicates = _folder_option(body, "duplicates", DUPLICATE_POLICIES, DUPLICATES_FOLDER, taken,
                                ("sort copies like any photo", f"move exact copies of sorted photos to /{DUPLICATES_FOLDER}"))
    videos = _folder_option(body, "videos", VIDEO_POLICIES, VIDEOS_FOLDER, taken,
                            ("videos stay in the inbox", f"to /{VIDEOS_FOLDER}"))
    action = body.get("action", "move")
    if action not in ACTIONS:
        raise ConfigError(f'"action" must be "move" (into class folders) or "tag" (Dropbox tags, the photo stays '
                          f'where it is), not {action!r:.40}')
    if action == "tag":
        if duplicates == "folder":
            raise ConfigError('"duplicates": "folder" moves copies, and "action": "tag" moves nothing: choose one')
        if by_date != "none":
            raise ConfigError('"by_date" files moved photos in date folders, and "action": "tag" moves nothing: '
                              'choose one')
        if videos == "folder":
            raise ConfigError('"videos": "folder" moves videos, and "action": "tag" moves nothing: choose one')
        if (problem := tag_problem(names)) is not None:
            raise ConfigError(f'"action": "tag": {problem}')
    return SortConfig(tuple(names), threshold, unsorted, duplicates,
                      tuple((name, own) for name, own in entries if own is not None), inbox, by_date, action, videos)


def _folder_option(body: Mapping[str, Any], name: str, choices: tuple[str, str], folder: str, taken: set[str],
                   meanings: tuple[str, str]) -> str:
    """An option whose second choice, "folder", moves files into a folder of its own ("duplicates",
    "videos"): refused when it is none of `choices` (`meanings` say what each does), or when a
    class, the unsorted folder or the inbox (`taken`, casefolded) already has that folder's name."""
    value = body.get(name, choices[0])
    if value not in choices:
        raise ConfigError(f'"{name}" must be "{choices[0]}" ({meanings[0]}) or "{choices[1]}" ({meanings[1]}), '
                          f"not {value!r:.40}")
    if value == "folder" and folder.casefold() in taken:
        raise ConfigError(f'a class, the unsorted_folder or the inbox named {folder!r} collides with '
                          f'the folder of "{name}": "folder"')
    return str(value)


def _check_inbox(value: object) -> str:
    """The inbox's path relative to the app folder ("Camera Uploads", "Photos/Inbox"), each of its
    folders a safe name; INBOX when not given."""
    if value is None:
        return INBOX
    if not isinstance(value, str):
        raise ConfigError(f'"inbox" must be a folder path like "/Camera Uploads", got {type(value).__name__}')
    parts = value.strip().strip("/").split("/")
    if len(parts) > 8:
        raise ConfigError(f'"inbox" {value[:40]!r} is more than 8 folders deep')
    return "/".join(check_name(part, f'a folder of "inbox" {value[:80]!r}:') for part in parts)


def is_date_folder(name: str) -> bool:
    """Whether a name is one of the folders "by_date" makes: a year ("2024") or a month ("2024-06")."""
    return bool(_DATE_FOLDER.fullmatch(name.strip()))


def _check_threshold(value: object, what: str) -> float | None:
    """A threshold as a float (None when not given); raises ConfigError naming `what` otherwise."""
    if value is None:
        return None
    # Compared before any float conversion: a 400-digit integer is a bad threshold, not a crash.
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (isinstance(value, int) or math.isfinite(value)) or not 0 <= value <= 1:
        # A scalar is named as it was sent; a list or an object by its kind (a deep one must not recurse).
        shown = json.dumps(value)[:40] if isinstance(value, (str, int, float)) else type(value).__name__
        raise ConfigError(f"{what} must be a number between 0 and 1, not {shown}")
    return float(value)


def _class_entry(entry: object) -> tuple[str, float | None]:
    """A class of "classes": a name ("cat"), or an object with its own threshold
    ({"name": "receipt", "threshold": 0.6}); its checked name and threshold (None: not its own)."""
    if not isinstance(entry, Mapping):
        if not isinstance(entry, str):
            raise ConfigError(f'a class must be a name or an object like {{"name": "receipt", "threshold": 0.6}}, '
                              f"got {type(entry).__name__}")
        return check_name(entry, "class name"), None
    unknown = set(entry) - _CLASS_KEYS
    if unknown:
        raise ConfigError(f"unknown field(s) of a class: {', '.join(sorted(map(str, unknown)))[:80]}; a class "
                          'object has "name" and "threshold", like {"name": "receipt", "threshold": 0.6}')
    if "name" not in entry:
        raise ConfigError('a class given as an object needs a "name", like {"name": "receipt", "threshold": 0.6}')
    name = check_name(entry["name"], "class name")
    return name, _check_threshold(entry.get("threshold"), f'the "threshold" of class {name!r}')


def resolve_classes(config: SortConfig, resolve: Callable[[str], Resolution], root: str = "",
                    then: str = "configure again") -> list[Resolution]:
    """What each class of a parsed configuration covers; raises ConfigError naming those the model
    cannot see by name and has too few examples of, and where to put examples: the class folder
    under `root` (the Dropbox app's top, or main.py's DIR), and `then` what to do."""
    resolutions, unknown = [], []
    for name in config.classes:
        try:
            resolutions.append(resolve(name))
        except UnknownClassError as e:
            unknown.append(e)
    if unknown:
        noun = "class" if len(unknown) == 1 else "classes"
        folders = " and ".join(f"{MIN_EXAMPLES} or more photos of {e.name} into {root}/{folder_name(e.name)}"
                               for e in unknown)
        raise ConfigError(f"unknown {noun} {', '.join(map(str, unknown))}: the model cannot see "
                          f"{'it' if len(unknown) == 1 else 'them'} in a photo by name. To teach it by "
                          f"example, put {folders}, then {then}")
    return resolutions


def parse_sort(body: object, resolve: Callable[[], Callable[[str], Resolution]]) -> tuple[bool, SortConfig | None]:
    """A POST /sort body: whether it is a dry run, and the classes it proposes. Empty or {} sorts with
    the stored classes; {"dry_run": true} previews them; a dry run may bring the fields of /configure
    to preview other classes without storing them. `resolve()` gives the resolver, asked only then."""
    if body is None:
        return False, None
    if not isinstance(body, Mapping):
        raise ConfigError('the body must be empty or a JSON object like {"dry_run": true}')
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ConfigError('"dry_run" must be true or false')
    proposed = {k: v for k, v in body.items() if k != "dry_run"}
    if not proposed:
        return dry_run, None
    if not dry_run:
        raise ConfigError(f"{', '.join(sorted(map(str, proposed)))}: a sort uses the stored classes; give "
                          'these with "dry_run": true to preview them, or POST /configure them first')
    config = parse(proposed)
    resolve_classes(config, resolve())  # after parse: making the resolver reads the table
    return True, config
