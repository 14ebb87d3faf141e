"""The soak scenario, shared by tests/test_soak.py (about 100 photos) and bench/soak.py (1000).

Real, varied photos (local/sample_photos.py, resized and re-encoded into distinct files) and the
hard cases (duplicates by content, a name reused in a later batch, unicode, spaces and 255-character
names, empty, truncated, not-an-image and decompression-bomb files, a 60 MB file, a HEIC), and a
camera roll (`camera_roll`: Live Photos, RAW+JPEG pairs, videos and a RAW on their own, a Live
Photo's video and a RAW dropped in a later batch than their photo, once it is sorted) are
dropped into /All in several batches (put, signed webhook, drain part of the queue) while Dropbox
and DynamoDB faults are injected at a fixed rate, and, with `Chaos`, what a real account, real
AWS and a real user add: SQS refusing sends and deletes, DynamoDB writes that land but answer a
timeout, notifications re-sent, lost or late, Dropbox resetting the list_folder cursors, POST /sort
over photos the webhooks queued, photos renamed in /All while queued, a plain file where a class
folder should be (removed at the end, then POST /sort), sorted photos moved to another class
(corrections) or renamed inside their class folder, queued photos dragged out of /All into a class
folder before they are sorted, and at the end a finished job undone (POST /undo) with one of its
messages delivered again, and copies dropped of an undone photo and of one the user deleted. Then
the invariant is checked (each broken promise is a figure of `Result.figures()`):

- every image is in exactly one class folder or /Unsorted, byte-identical to what was dropped, at the
  path its outcome record names, under its own name (or Dropbox's "name (1).ext"), or where the
  user moved it since;
- every bad or non-image file is still in /All, unchanged, with its reason in its outcome record and
  in /status;
- nothing lost, nothing duplicated (multiset of content hashes), nothing overwritten;
- the dead-letter queue is empty, or each message in it names a file recorded as failed, still in /All;
- a companion (a Live Photo's video, a RAW beside its JPEG) is beside its photo where the service
  put it, under the photo's final name with its own extension ("/Cat/IMG_1 (1).MOV"), byte for byte,
  as its outcome record says (shots_split); one dropped after the user moved its sorted photo is
  beside it there. The documented limits, and only they, excuse it: a photo the user moves later
  leaves it where it went; an undone photo leaves one that a later job moved (one its own job moved
  is back in /All with it); one whose photo was never placed (or not yet when it came) goes on its
  own (a video to /Videos, a RAW by its preview). While its photo's sort failed (the blocked class
  folder) it waits beside it in /All (skipped, with_photo, shown in /status), and goes with it once
  both are sorted again. A video on its own is in /Videos ("videos": "folder"; in a date folder of
  it with by_date), byte for byte (videos_misplaced). Both are counted where they went in /status,
  like photos;
- every sorted photo has its outcome record (unrecorded), /status counts each file once
  (double_counted), and no photo that could be sorted is left in /All (stuck_in_all);
- the undone photos stay in /All, a message delivered again notwithstanding (undone_resorted), and
  are counted nowhere (undone_counted); POST /undo says which it moved back (undo_misreported);
- a queued photo the user moved stays where the user put it (user_moves_misplaced), is counted
  `gone` (user_moves_miscounted) and is learned as an example of that class (user_moves_unlearned);
- examples are learned from the user's moves only: a correction is an example of its new class and
  a counter-example of its old one (corrections_unlearned), a rename inside a class folder is none
  (renames_learned), nor is anything the service moved (examples_unexpected);
- a sorted photo the user moved or renamed since is where the user put it, and no later outcome
  (of a request queued twice) says the service put it there (user_moves_claimed);
- with "duplicates": "folder", of each content one photo is outside /Duplicates: none there without
  one outside (orphan_duplicates, a copy sent there while its original was undone or deleted), never
  two outside (extra_originals);
- with "by_date", every photo the service sorted is in a date folder of its class folder, the one
  of its EXIF date when it has one (misdated); corrections keep their date folder;
- every chaos step asked for happened (chaos_missed).

With `tag` ("action": "tag") nothing may move: every file is where it was dropped (or where the user
renamed it in /All), byte for byte (lost, overwritten, moved); each photo has exactly the tags its
record says the service added, one per class it is counted under, and an unsorted photo none
(tags_wrong); /status counts each photo once (double_counted); an undone job's photos lose the tags
and stay untagged, a message delivered again notwithstanding (undone_resorted). A companion stays
untagged beside its photo, skipped as with_photo (shots_split), a video on its own skipped as video
(videos_misplaced); a RAW on its own is tagged by its preview like a photo. The user's doings on
class folders (corrections, renames there, a blocked folder, copies) mean nothing then and are left out.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import logging
import random
import struct
import time
import unicodedata
import zlib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import PurePosixPath

from PIL import Image

from chalicelib.rules import configuration
from chalicelib.rules import dates
from chalicelib.rules.configuration import (DUPLICATES_FOLDER, VIDEOS_FOLDER, folder_name, in_inbox, is_date_folder,
                                           top_folder)
from chalicelib.rules.photo_files import kind_of
from local import sample_photos
from chalicelib.rules.tags import tag_text
from local.in_process import untracked_moto_models

CLASSES = sample_photos.SCENARIO_CLASSES
CLASS_FOLDERS = ["/" + folder_name(c) for c in CLASSES]
UNSORTED = "/" + configuration.DEFAULT_UNSORTED_FOLDER
VIDEOS = "/" + VIDEOS_FOLDER  # the soak sorts with "videos": "folder" (with tags, videos stay in /All)
INBOX = "/" + configuration.INBOX
# Rate-based: every route, each call independently. "expired_token" is not drawn at random: two
# independent draws can revoke the token another thread has just refreshed, which Dropbox never
# does. Instead every access token expires at once, mid-drain, after each batch, as tokens do
# (test_faults.py has a token expiring twice within one call).
DROPBOX_FAULTS = ("429", "500", "503", "too_many_write_operations", "reset")
_SOURCES = list(sample_photos.PHOTOS)


# --- the files ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drop:
    path: str
    data: bytes
    reason: str | None = None  # None: a file to sort; else the reason code it must be skipped with
    # The camera roll: "photo" is classified (a RAW on its own too, by its preview); "companion" goes
    # with the photo dropped at `lead` (a Live Photo's video, a RAW beside its JPEG); "video" is a
    # video on its own (to /Videos).
    kind: str = "photo"
    lead: str | None = None
    late: bool = False  # a companion dropped only once its photo is sorted (in a later batch, or at the end)

    @property
    def is_photo(self) -> bool:
        """A file classified into a class folder (or /Unsorted)."""
        return self.reason is None and self.kind == "photo"

    @property
    def to_sort(self) -> bool:
        """A file the service moves out of /All: a photo, a companion, a video."""
        return self.reason is None


@dataclass(frozen=True)
class Chaos:
    """What else goes wrong while the photos are dropped; AWS faults come as `AwsFaults` hooks."""

    overlap_sort: bool = False       # POST /sort over the photos the webhooks queued, halfway through
    resend_webhooks: bool = False    # every notification sent twice, as Dropbox does when unsure
    drop_notification: bool = False  # the first batch's notification never arrives; a later one catches up
    renames: int = 0                 # photos renamed inside /All while queued, per batch
    blocked_folder: bool = False     # a plain file where a class folder should be, until the end
    corrections: int = 0             # sorted photos the user moves to another class folder, from halfway
    cursor_resets: int = 0           # Dropbox resets the list_folder cursors: at batches drawn by the seed
                                     # (the last one right after the undo, with `undo`)
    queued_moves: int = 0            # queued photos the user drags out of /All into a class folder
    class_renames: int = 0           # sorted photos the user renames inside their class folder, from halfway
    undo: bool = False               # at the end, a finished job undone, then one of its messages delivered again
    orphan_copies: bool = False      # at the end, a copy of an undone photo (with `undo`) and one of a photo
                                     # the user deleted, dropped in /All


@dataclass
class User:
    """What the user (and SQS's at-least-once delivery) did to the photos, for the checker."""

    # Sorted photos the user moved since, by file id: (where the service put it, where the user moved
    # it), to another class folder (corrected) or to another name in the same one (renamed).
    corrected: dict[str, tuple[str, str]] = field(default_factory=dict)
    renamed: dict[str, tuple[str, str]] = field(default_factory=dict)
    queued_moves: dict[str, str] = field(default_factory=dict)  # file id -> where the user put the queued photo
    undone: dict[str, str] = field(default_factory=dict)  # file id -> where POST /undo put it back in /All
    # Photos of the undone job back in /All that the answer of POST /undo listed as left (not undone).
    undo_unreported: dict[str, str] = field(default_factory=dict)
    redelivered: list[str] = field(default_factory=list)  # undone file ids whose message came again
    deleted: set[str] = field(default_factory=set)  # sorted photos the user deleted, by file id
    orphan_copies: dict[str, str] = field(default_factory=dict)  # copy's file id -> "undone" or "deleted"
    cursor_resets: int = 0
    touched: set[str] = field(default_factory=set)  # every file id above: none is picked twice
    undone_job: str | None = None  # the job POST /undo undid
    # The camera roll: each companion's photo (file ids), and the companions dropped in a later batch
    # than their photo (once it was sorted), and of those the ones whose photo was not sorted yet
    # even at the end (they may go on their own then).
    leads: dict[str, str] = field(default_factory=dict)
    late: set[str] = field(default_factory=set)
    late_unplaced: set[str] = field(default_factory=set)


@cache
def _base(name: str) -> Image.Image:
    picture = sample_photos.image(name).convert("RGB")
    picture.thumbnail((640, 640), Image.Resampling.LANCZOS)
    return picture


def _encode(picture: Image.Image, fmt: str, quality: int, taken: str | None = None) -> bytes:
    """`taken`: an EXIF DateTimeOriginal for a JPEG ("2019:05:04 10:00:00"), as a camera writes it."""
    if fmt == "HEIF":
        from chalicelib.vision.images import _register_heif
        _register_heif()
    out = io.BytesIO()
    options: dict = {"quality": quality} if fmt in ("JPEG", "WEBP", "HEIF") else {}
    if taken is not None and fmt == "JPEG":
        exif = Image.Exif()
        exif.get_ifd(dates.EXIF_IFD)[dates.DATE_TIME_ORIGINAL] = taken
        options["exif"] = exif
    picture.save(out, fmt, **options)
    return out.getvalue()


_FORMATS = [("JPEG", "jpg", 70), ("JPEG", "jpeg", 8), ("PNG", "png", 6), ("WEBP", "webp", 8), ("GIF", "gif", 2),
            ("BMP", "bmp", 2), ("TIFF", "tif", 2), ("HEIF", "heic", 2)]


def photo(i: int, seed: int = 0, fmt_ext: tuple[str, str] | None = None) -> tuple[str, bytes]:
    """The i-th distinct photo file (extension, bytes): a real photo resized, cropped, maybe mirrored
    and re-encoded in one of the formats a camera, phone or editor saves (or in `fmt_ext`)."""
    rng = random.Random(seed * 1_000_003 + i)
    picture = _base(_SOURCES[i % len(_SOURCES)])
    fmt, ext, _ = rng.choices(_FORMATS, weights=[w for *_, w in _FORMATS])[0]
    if fmt_ext is not None:
        fmt, ext = fmt_ext
    small = fmt in ("BMP", "TIFF", "PNG", "GIF", "HEIF")  # uncompressed or slow: keep them small
    scale = rng.uniform(0.3, 0.5) if small else rng.uniform(0.45, 1.0)
    w, h = picture.size
    cl, ct, cr, cb = (rng.uniform(0, 0.08) for _ in range(4))
    picture = picture.crop((int(w * cl), int(h * ct), w - int(w * cr), h - int(h * cb)))
    picture = picture.resize((max(32, int(picture.width * scale)), max(32, int(picture.height * scale))),
                             Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    quality = rng.randint(60, 95)
    # Half the JPEGs carry the date a camera took them on (by_date files them by it); the others
    # are dated by when they were put.
    taken = f"{rng.randint(2015, 2024)}:{rng.randint(1, 12):02d}:{rng.randint(1, 28):02d} 12:00:00" \
        if rng.random() < 0.5 else None
    return ext, _encode(picture, fmt, quality, taken)


def decompression_bomb() -> bytes:
    """A valid-looking PNG header declaring 30000 x 30000 pixels (900 MP), in a few hundred bytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = zlib.compress(b"\0" * (1 + 30000) * 4, 9)  # the first 4 rows of a greyscale image
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def oversized_jpeg(size: int = 60 * 10**6) -> bytes:
    """A real JPEG padded with trailing bytes to `size` (viewers ignore what follows EOI)."""
    head = sample_photos.jpeg("chelsea")
    return head + b"\0" * (size - len(head))


def minimal_pdf() -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


HARD_NAMES = [
    "Чайка над морем.jpg",                              # Cyrillic, spaces
    "猫の写真 2024.jpeg",                                 # CJK
    unicodedata.normalize("NFD", "café crème.png"),     # decomposed accents
    unicodedata.normalize("NFC", "café crème.png"),     # the same name, composed: a different name
    "emoji 🐱🚀 photo.webp",                             # outside the BMP
    "שלום עולם.jpg",                                     # right to left
    "  two  spaces   inside .jpg",                      # leading and repeated spaces
    "weird #%&+;=@[]{}' name.jpg",                      # URL and shell metacharacters
    "x" * 251 + ".jpg",                                 # 255 characters, Dropbox's maximum
    "д" * 120 + ".jpg",                                  # 124 characters, 244 bytes of UTF-8
    "no extension but .JPG",                            # upper-case extension
]


# What a phone writes beside a Live Photo (QuickTime) and as a clip (MP4): the service moves videos
# without reading them, so only the name matters; each is a distinct file all the same.
_LIVE_HEAD = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  "
_CLIP_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def video(k: int, seed: int = 0, live: bool = True) -> bytes:
    rng = random.Random(seed * 7_000_003 + k)
    return (_LIVE_HEAD if live else _CLIP_HEAD) + rng.randbytes(rng.randint(2_000, 20_000))


def raw(name: str, k: int) -> bytes:
    """A RAW file of the sample photo `name` (its embedded preview is that photo), distinct for each
    `k` (a camera's maker notes differ from shot to shot: here a trailer after the TIFF data)."""
    return _raw_of(name) + b"shot %d" % k


@cache
def _raw_of(name: str) -> bytes:
    return sample_photos.raw_file(name)


def _other_class(source: str) -> str:
    """A sample photo a person would put elsewhere than `source` (a RAW that visibly follows its JPEG)."""
    expected = sample_photos.SCENARIO_EXPECTED
    at = _SOURCES.index(source)
    return next(s for s in _SOURCES[at + 1:] + _SOURCES[:at] if expected.get(s) != expected.get(source))


def camera_roll(photos: int, batches: int, seed: int = 0) -> list[list[Drop]]:
    """The shots, batch by batch, about 5 % of `photos` (at least 3): Live Photos (a HEIC or JPEG
    still and a .MOV of its name, one in another case), RAW+JPEG pairs (a .NEF of another sample
    photo than its .JPG, so that following its JPEG shows), videos and a RAW on their own, and a
    Live Photo's video and a RAW each dropped in a later batch than their photo, once it is sorted."""
    n = max(3, round(photos * 0.05))
    plan: list[list[Drop]] = [[] for _ in range(batches)]
    k = 0  # each file its own content

    def still(fmt_ext: tuple[str, str]) -> tuple[str, bytes]:
        nonlocal k
        k += 1
        return photo(5 * 10**6 + k, seed, fmt_ext)

    late = max(2, n // 5)
    for j in range(n):  # Live Photos
        b = j % batches
        ext, data = still(("HEIF", "HEIC") if j % 2 == 0 else ("JPEG", "JPG"))
        stem = f"IMG_L{j:04d}"
        lead = f"{INBOX}/{stem}.{ext}"
        plan[b].append(Drop(lead, data))
        movie = f"{INBOX}/{stem.lower() if j % 3 == 1 else stem}.MOV"  # the same name in any case
        later = j < late // 2 + late % 2 and b < batches - 1  # dropped once the photo is sorted
        plan[b + 1 if later else b].append(Drop(movie, video(j, seed), kind="companion", lead=lead, late=later))
    for j in range(max(1, n // 2)):  # RAW+JPEG pairs
        b = j % batches
        ext, data = still(("JPEG", "JPG"))
        source = _SOURCES[(5 * 10**6 + k) % len(_SOURCES)]  # the JPEG's
        lead = f"{INBOX}/DSC_P{j:04d}.{ext}"
        plan[b].append(Drop(lead, data))
        later = j < late // 2 and b < batches - 1
        plan[b + 1 if later else b].append(Drop(f"{INBOX}/DSC_P{j:04d}.NEF", raw(_other_class(source), k),
                                                kind="companion", lead=lead, late=later))
    for j in range(max(2, n // 3)):  # videos on their own
        name = f"clip {j}.mp4" if j % 2 == 0 else f"VID_{j:04d}.MOV"
        plan[(j + 2) % batches].append(Drop(f"{INBOX}/{name}", video(10**6 + j, seed, live=j % 2 == 1),
                                            kind="video"))
    for j in range(max(1, n // 5)):  # a RAW on its own: classified by its preview
        k += 1
        plan[(j + 1) % batches].append(Drop(f"{INBOX}/DSC_R{j:04d}.DNG", raw(_SOURCES[(j * 3) % len(_SOURCES)], k)))
    return plan


def scenario(photos: int, batches: int, seed: int = 0) -> list[list[Drop]]:
    """The files to drop, batch by batch: `photos` distinct photos, plus the hard cases."""
    rng = random.Random(seed)
    made = [photo(i, seed) for i in range(photos)]
    assert len({data for _, data in made}) == len(made), "photos must be distinct files"
    plan: list[list[Drop]] = [[] for _ in range(batches)]
    per = -(-photos // batches)
    for i, (ext, data) in enumerate(made):
        b = min(i // per, batches - 1)
        name = f"IMG_{i:05d}.{ext}"
        if i < len(HARD_NAMES):
            name = HARD_NAMES[i]
        elif i % 17 == 0:
            name = f"trip {b}/IMG_{i:05d}.{ext}"  # a subfolder of the inbox
        plan[b].append(Drop(f"{INBOX}/{name}", data))
    first = plan[0]
    # Duplicates by content under other names, in the same batch and in a later one.
    plan[0].append(Drop(f"{INBOX}/copy of {PurePosixPath(first[1].path).name}", first[1].data))
    plan[-1].append(Drop(f"{INBOX}/copy again {PurePosixPath(first[1].path).stem}.jpg", first[1].data))
    # The same name in a later batch (different content), also differing in case, and in a subfolder.
    reused = PurePosixPath(first[-1].path).name
    plan[min(1, batches - 1)].append(Drop(f"{INBOX}/{reused}", sample_photos.jpeg("coffee", quality=81)))
    plan[-1].append(Drop(f"{INBOX}/{reused.upper()}", sample_photos.jpeg("coffee", quality=82)))
    plan[-1].append(Drop(f"{INBOX}/later/{reused}", sample_photos.jpeg("coffee", quality=83)))
    # The bad files, spread over the batches (some in the last, so /status shows them most recently).
    chelsea = sample_photos.jpeg("chelsea")
    bad = [Drop(f"{INBOX}/empty.jpg", b"", "empty"),
           Drop(f"{INBOX}/truncated.jpg", chelsea[:len(chelsea) // 2], "corrupt"),
           Drop(f"{INBOX}/header only.jpg", chelsea[:600], "corrupt"),
           Drop(f"{INBOX}/invoice.pdf", minimal_pdf(), "not_an_image_file"),
           Drop(f"{INBOX}/notes.txt", "nothing to see here\n".encode(), "not_an_image_file"),
           Drop(f"{INBOX}/really a pdf.png", minimal_pdf(), "not_an_image"),
           Drop(f"{INBOX}/random bytes.webp", rng.randbytes(5000), "not_an_image"),
           Drop(f"{INBOX}/bomb.png", decompression_bomb(), "too_many_pixels"),
           Drop(f"{INBOX}/huge 60MB.jpg", oversized_jpeg(), "too_large"),
           Drop(f"{INBOX}/no extension", chelsea, "not_an_image_file")]
    for i, drop in enumerate(bad):
        plan[(i * batches) // len(bad)].append(drop)
    plan[-1].append(Drop(f"{INBOX}/empty again.heic", b"", "empty"))
    for b, shots in enumerate(camera_roll(photos, batches, seed)):
        plan[b] += shots
    movable = [d.data for batch in plan for d in batch if d.to_sort]
    assert len(set(movable)) == len(movable) - 2, "only the two copies of a photo share their bytes"
    for batch in plan:
        rng.shuffle(batch)
    return plan


# --- the run -----------------------------------------------------------------------------------------

class _RetryCounter(logging.Handler):
    """Counts the retries the app logs: Dropbox calls retried by the store, SQS messages left for
    redelivery by the classify function, listings done again after Dropbox reset a cursor."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts: collections.Counter = collections.Counter()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        message = record.getMessage()
        if record.name == "chalicelib.adapters.dropbox_store" and "; retry " in message:
            self.counts["dropbox"] += 1
        elif record.name == "chalicelib.flows.classify" and message.startswith("will retry"):
            self.counts["message"] += 1
        elif message.startswith("Listing the inbox of"):
            self.counts["inbox listed again"] += 1
        elif message.startswith("Listing the class folders of"):
            self.counts["class folders listed again"] += 1


# The figures that must be 0, in the order the summary prints them.
FIGURES = ("dlq", "lost", "duplicated", "overwritten", "unrecorded", "double_counted", "stuck_in_all",
           "shots_split", "videos_misplaced",
           "undone_resorted", "undone_counted", "undo_misreported",
           "user_moves_misplaced", "user_moves_miscounted", "user_moves_unlearned", "user_moves_claimed",
           "corrections_unlearned", "renames_learned", "examples_unexpected",
           "orphan_duplicates", "extra_originals", "misdated", "moved", "tags_wrong", "chaos_missed")
# What the chaos did, printed before them.
CHAOS_DONE = ("corrected", "cursor_resets", "user_moves", "class_renames", "undone", "redelivered", "orphan_copies")


@dataclass
class Result:
    photos: int
    files: int
    companions: int = 0  # Live Photos' videos and RAWs dropped beside their photo's JPEG or HEIC
    videos: int = 0      # videos on their own
    late: int = 0        # companions dropped in a later batch than their photo
    late_unplaced: int = 0  # ... of which their photo was not sorted yet even at the end
    faults: collections.Counter = field(default_factory=collections.Counter)
    retries: collections.Counter = field(default_factory=collections.Counter)
    webhook_errors: collections.Counter = field(default_factory=collections.Counter)
    dlq: int = 0
    lost: int = 0
    duplicated: int = 0
    overwritten: int = 0
    unrecorded: int = 0
    double_counted: int = 0
    stuck_in_all: int = 0
    undone_resorted: int = 0        # undone photos moved out of /All again (a message delivered again)
    undone_counted: int = 0         # undone photos still counted somewhere
    undo_misreported: int = 0       # photos POST /undo moved back to /All but answered as left there
    user_moves_misplaced: int = 0   # queued photos the user moved, not where the user put them
    user_moves_miscounted: int = 0  # ... not counted `gone` (counted as the service's own sort)
    user_moves_unlearned: int = 0   # ... not learned as an example of the user's class
    user_moves_claimed: int = 0     # sorted photos the user moved or renamed since, whose later outcome
                                    # (a request queued twice) records the user's move as the service's
    corrections_unlearned: int = 0  # corrections missing their example or counter-example
    renames_learned: int = 0        # photos renamed inside their class folder, learned as examples
    examples_unexpected: int = 0    # other examples the user never gave (the service's own moves)
    orphan_duplicates: int = 0      # photos in /Duplicates whose content has no photo outside it
    extra_originals: int = 0        # photos of a content outside /Duplicates beyond the first
    misdated: int = 0               # with by_date: sorted photos not in the date folder of their date
    moved: int = 0                  # with tags: files not where they were dropped (or renamed by the user)
    tags_wrong: int = 0             # with tags: photos whose tags are not those their record says were added
    tagged: int = 0                 # with tags: photos tagged at the end (what the checks looked at)
    chaos_missed: int = 0           # chaos asked for that never happened (the run tested less than it says)
    shots_split: int = 0            # companions (a Live Photo's video, a RAW beside its JPEG) not beside their
                                    # photo under its final name, byte for byte (but as the limits allow)
    videos_misplaced: int = 0       # videos on their own not in /Videos (with tags: not left in /All as videos)
    queued_twice: int = 0
    corrected: int = 0      # sorted photos the user moved to another class folder
    cursor_resets: int = 0  # times Dropbox reset the list_folder cursors
    user_moves: int = 0     # queued photos the user moved into a class folder
    class_renames: int = 0  # sorted photos the user renamed inside their class folder
    undone: int = 0         # photos put back in /All by POST /undo
    redelivered: int = 0    # messages of the undone job delivered again
    orphan_copies: int = 0  # copies dropped of an undone or deleted photo
    too_large_sent: int = 0  # bytes of the 60 MB file that left the fake Dropbox
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The figures line: what was done, then every figure that must be 0."""
        return " ".join([f"photos={self.photos}", f"companions={self.companions}", f"videos={self.videos}",
                         *(f"{name}={getattr(self, name)}" for name in CHAOS_DONE),
                         f"faults={sum(self.faults.values())}", f"retries={sum(self.retries.values())}",
                         *(f"{name}={value}" for name, value in self.figures().items())])

    def figures(self) -> dict[str, int]:
        """Every figure that must be 0, by name (FIGURES)."""
        return {name: getattr(self, name) for name in FIGURES}

    def details(self) -> str:
        return (f"files={self.files} seconds={self.seconds:.1f} "
                f"faults: {dict(sorted(self.faults.items()))} retries: {dict(sorted(self.retries.items()))} "
                f"webhook errors: {dict(self.webhook_errors)} queued_twice={self.queued_twice} "
                f"bytes of the 60 MB file sent={self.too_large_sent} "
                f"late companions={self.late} (their photo not sorted when they came: {self.late_unplaced})"
                + (f" tagged={self.tagged}" if self.tagged else ""))


def notify(service, result: Result, attempts: int = 8) -> dict:
    """A signed notification, sent again (as Dropbox does) while the app answers 5xx."""
    from local.dropbox_emulator import signed_notification
    body, signature = signed_notification([service.dropbox.account_id], service.dropbox.app_secret)
    for attempt in range(attempts):
        response = service.client.http.post("/webhook", body=body, headers={
            "Content-Type": "application/json", "X-Dropbox-Signature": signature})
        if response.status_code == 200:
            return json.loads(response.body)
        result.webhook_errors[response.status_code] += 1
        result.retries["webhook"] += 1
        assert response.status_code in (500, 503), response.body
        time.sleep(0.05 * 2 ** attempt)
    raise AssertionError(f"the webhook kept failing: {response.status_code} {response.body!r}")


def sort_all(service, result: Result, attempts: int = 8) -> None:
    """POST /sort, asked again (as a user would) while the app answers 409 or 503."""
    for attempt in range(attempts):
        response = service.post("/sort", {})
        if response.status_code == 202:
            return
        result.retries["sort"] += 1
        assert response.status_code in (409, 503), response.body
        time.sleep(0.05 * 2 ** attempt)
    raise AssertionError(f"POST /sort kept failing: {response.status_code} {response.body!r}")


def undo(service, result: Result, job_id: str, attempts: int = 8) -> dict:
    """POST /undo, asked again (as a user would) while the app answers 503."""
    for attempt in range(attempts):
        response = service.post("/undo", {"job_id": job_id})
        if response.status_code == 200:
            return json.loads(response.body)
        result.retries["undo"] += 1
        assert response.status_code == 503, response.body
        time.sleep(0.05 * 2 ** attempt)
    raise AssertionError(f"POST /undo kept failing: {response.status_code} {response.body!r}")


class _Deliveries:
    """Every sort request the classify function was handed, by (file id, job id): what SQS may
    deliver again. Wraps the event source's handler until `close()`."""

    def __init__(self, source):
        self._source, self._handler = source, source._handler
        self.bodies: dict[tuple[str, str | None], str] = {}
        source._handler = self._handle

    def _handle(self, event: dict):
        for record in event["Records"]:
            try:
                request = json.loads(record["body"])
            except ValueError:
                continue
            if isinstance(request, dict) and "file_id" in request:
                self.bodies[(request["file_id"], request.get("job_id"))] = record["body"]
        return self._handler(event)

    def close(self) -> None:
        self._source._handler = self._handler


def redeliver(service, body: str, attempts: int = 8) -> None:
    """A message SQS delivers again (its deletion was lost): the same body, back in the queue."""
    from botocore.exceptions import BotoCoreError, ClientError
    for attempt in range(attempts):
        try:
            service.source._sqs.send_message(QueueUrl=service.source.queue_url, MessageBody=body)
            return
        except (BotoCoreError, ClientError):  # the injected SQS refusals: the soak's own send retries too
            time.sleep(0.05 * 2 ** attempt)
    raise AssertionError("could not put a message back in the queue")


def run(service, plan: list[list[Drop]], *, dropbox_rate: float, aws: dict | None = None, seed: int = 0,
        drain_timeout: float = 600.0, kinds=DROPBOX_FAULTS, chaos: Chaos = Chaos(), duplicates: str = "keep",
        by_date: str = "none", tag: bool = False) -> Result:
    """Drop the plan's batches while faults are injected; then drain, and check the invariant.
    `aws` names the AwsFaults hooks installed for the run ({"dynamodb throttle": ..., ...});
    `duplicates` is the configuration's ("folder": each content has one photo outside /Duplicates);
    `by_date` too ("year", "month": each sorted photo in its date folder, /Cat/2024/);
    `tag`: sort with "action": "tag" (check_tags is the invariant)."""
    if tag:
        chaos = replace(chaos, blocked_folder=False, corrections=0, class_renames=0, queued_moves=0,
                        orphan_copies=False)
    started = time.monotonic()
    fake = service.dropbox
    aws = aws or {}
    rng = random.Random(seed)
    drops = [d for batch in plan for d in batch]
    state = _state()
    contents = collections.Counter(_sha(d.data) for d in drops if d.to_sort)
    # The photos' contents (what the user's corrections pick from), and those dropped once (any file).
    photo_shas, unique = {_sha(d.data) for d in drops if d.is_photo}, {sha for sha, n in contents.items() if n == 1}
    result = Result(photos=sum(d.is_photo for d in drops), files=len(drops))
    user = User()
    counter = _RetryCounter()
    app_log = logging.getLogger("chalicelib")
    app_log.addHandler(counter)
    if app_log.getEffectiveLevel() > logging.INFO:  # the listings done again are told at INFO
        app_log.setLevel(logging.INFO)
    deliveries = _Deliveries(service.source)
    untracked = untracked_moto_models()  # bounded memory: moto would keep each table copy it makes
    untracked.__enter__()
    blocked = CLASS_FOLDERS[-1]
    # Dropbox resets the cursors before these batches' notifications (len(plan): the one after the
    # batches, len(plan) + 1: the last one, after the user's undo and copies), once the service has
    # cursors (after the first notification that arrives); with `undo`, one reset is right after it.
    resets = max(0, chaos.cursor_resets - (1 if chaos.undo else 0))
    after_first = range(2 if chaos.drop_notification else 1, len(plan) + 2)
    reset_before = set(rng.sample(after_first, min(resets, len(after_first))))
    dropped: list[tuple[Drop, str]] = []  # (what, its Dropbox id): a path may be used twice
    # The photos companions go with (by path): the user's renames and drags while queued leave them
    # (a renamed photo no longer has its companions' name, as a user would see).
    shots = {d.lead for d in drops if d.lead}
    pending: list[Drop] = []  # companions dropped once their photo is sorted (in a later batch)
    try:
        # Lone videos to /Videos ("action": "tag" moves nothing: there they stay in /All).
        service.configure(CLASSES, duplicates=duplicates, by_date=by_date,
                          **({"action": "tag"} if tag else {"videos": "folder"}))
        if chaos.blocked_folder:
            fake.put(blocked, b"a plain file where a class folder should be")
        fake.fault_rate(dropbox_rate, kinds, seed=seed)
        for b, batch in enumerate(plan):
            ready = [d for d in pending if _lead_sorted(state, dropped, d, tag)]
            pending = [d for d in pending if all(d is not r for r in ready)]
            for drop in [*ready, *batch]:
                if drop.late and all(drop is not r for r in ready):
                    pending.append(drop)  # its photo was dropped in an earlier batch: once it is sorted
                    continue
                n = 0
                while fake.exists(drop.path):
                    # A name reused while its first holder still waits in the inbox: putting it
                    # would replace that file (the user's doing, not the app's). Use a subfolder
                    # (another one when a name differing only in case took that one).
                    assert drop.kind == "photo" and drop.path not in shots, drop.path  # a shot's
                    n += 1
                    drop = replace(drop, path=f"{INBOX}/batch {b}{'' if n == 1 else f'.{n}'}/"
                                              f"{PurePosixPath(drop.path).name}")
                assert not fake.exists(drop.path), drop.path
                _drop(fake, dropped, drop, user)
            if b in reset_before:
                fake.reset_cursors()
                user.cursor_resets += 1
            queued = 0
            if not (chaos.drop_notification and b == 0):
                queued = notify(service, result)["queued"]
                if chaos.resend_webhooks:
                    notify(service, result)
            if chaos.overlap_sort and b == len(plan) // 2:
                sort_all(service, result)
            for k in range(chaos.renames):
                _rename_one(fake, dropped, rng, f"renamed {b}.{k} ", user, shots)
            if queued and len(user.queued_moves) < chaos.queued_moves:
                # Spread over the batches that queued photos; the user is quicker than the queue.
                share = -(-(chaos.queued_moves - len(user.queued_moves)) // (len(plan) - b))
                _move_queued(fake, state, rng, share, dropped, unique, user, shots)
            if b >= len(plan) // 2:
                # Learned from at the next notification, while the rest is still being sorted. Too
                # few sorted yet (the first notification lost, few batches): again after the next.
                _correct(fake, state, rng, chaos.corrections - len(user.corrected), photo_shas, user)
                _rename_in_class(fake, state, rng, chaos.class_renames - len(user.renamed), photo_shas, user)
            polls = max(1, queued // service.source.batch_size // 2)
            for poll in range(polls):  # drain some
                if poll == polls // 2:
                    fake.expire_tokens()
                    result.faults["dropbox token expiry"] += 1
                service.source.poll_once(wait_seconds=0)
        if len(plan) in reset_before:
            fake.reset_cursors()
            user.cursor_resets += 1
        notify(service, result)
        service.source.drain(timeout=drain_timeout)
        if chaos.blocked_folder:
            # The user sees the reason in /status, removes the file and sorts what is left.
            fake.user_delete(blocked)
            sort_all(service, result)
            service.source.drain(timeout=drain_timeout)
        if pending:
            # Companions whose photo was not sorted before the last batch: now it is (or never will be).
            for drop in pending:
                sorted_first = _lead_sorted(state, dropped, drop, tag)
                _drop(fake, dropped, drop, user)
                if not sorted_first:
                    user.late_unplaced.add(dropped[-1][1])
            notify(service, result)
            service.source.drain(timeout=drain_timeout)
        if len(user.queued_moves) < chaos.queued_moves:
            # No photo waited long enough in /All: a few more, moved by the user as soon as queued.
            late = chaos.queued_moves - len(user.queued_moves)
            _more_photos(fake, dropped, late, "late", 10**6, seed, photo_shas, unique)
            notify(service, result)
            _move_queued(fake, state, rng, late, dropped, unique, user, shots)
        # Everything is sorted now: the user's corrections and renames not made yet, learned at once.
        _correct(fake, state, rng, chaos.corrections - len(user.corrected), photo_shas, user)
        _rename_in_class(fake, state, rng, chaos.class_renames - len(user.renamed), photo_shas, user)
        if chaos.undo:
            to_undo = _tag_jobs_to_undo if tag else _jobs_to_undo
            jobs = to_undo(service, state, dropped, unique, user)
            if not jobs:
                # Each job of the run has a photo the user moved, a copy or a failure: a few photos
                # more, sorted by a webhook job of their own.
                _more_photos(fake, dropped, 3, "to undo", 2 * 10**6, seed, photo_shas, unique)
                notify(service, result)
                service.source.drain(timeout=drain_timeout)
                jobs = to_undo(service, state, dropped, unique, user)
            if jobs:
                _undo_and_redeliver(service, rng.choice(jobs), rng, dropped, user, result, deliveries,
                                    reset=chaos.cursor_resets > 0, tag=tag)
        if chaos.orphan_copies:
            _copy_orphans(fake, state, rng, dropped, unique, photo_shas, user)
        if len(plan) + 1 in reset_before:
            fake.reset_cursors()
            user.cursor_resets += 1
        notify(service, result)
        service.source.drain(timeout=drain_timeout)
        # Faults off for the final look (the invariant is about what happened, not the check).
        fake.fault_rate(0)
        for hook in aws.values():
            hook.rate = 0.0
    finally:
        app_log.removeHandler(counter)
        deliveries.close()
        untracked.__exit__(None, None, None)
        fake.fault_rate(0)
    for (_, kind), n in fake.injected.items():
        result.faults[f"dropbox {kind}"] += n
    # The SDK answers an expired token by refreshing it and trying again, without a log line.
    result.retries["dropbox token refresh"] = fake.calls["oauth2/token"] - 1
    for name, hook in aws.items():
        result.faults[name] = hook.hits
    if "dynamodb throttle" in aws:
        result.retries["dynamodb"] = aws["dynamodb throttle"].hits  # each one retried by botocore's standard mode
    result.retries.update(counter.counts)
    result.problems += [f"the fake Dropbox crashed: {crash}" for crash in fake.crashes]
    result.photos, result.files = sum(d.is_photo for d, _ in dropped), len(dropped)
    result.companions = sum(d.kind == "companion" for d, _ in dropped)
    result.videos = sum(d.kind == "video" for d, _ in dropped)
    _resolve_leads(dropped, user)
    result.late, result.late_unplaced = len(user.late), len(user.late_unplaced)
    result.corrected, result.class_renames, result.user_moves = \
        len(user.corrected), len(user.renamed), len(user.queued_moves)
    result.cursor_resets, result.undone, result.redelivered, result.orphan_copies = \
        user.cursor_resets, len(user.undone | user.undo_unreported), len(user.redelivered), len(user.orphan_copies)
    # Loudly: a soak that did not do what it says proves nothing about it.
    asked = {"corrections": (chaos.corrections, result.corrected),
             "renames inside class folders": (chaos.class_renames, result.class_renames),
             "moves of queued photos": (chaos.queued_moves, result.user_moves),
             "cursor resets": (chaos.cursor_resets, result.cursor_resets),
             "undone jobs": (int(chaos.undo), int(result.undone > 0)),
             "messages delivered again after the undo": (int(chaos.undo), result.redelivered),
             "copies of undone or deleted photos": (int(chaos.orphan_copies) * (1 + int(chaos.undo)),
                                                    result.orphan_copies)}
    # Each reset was met by listing everything again (the service logs it), or it tested nothing.
    asked["cursor resets the service met"] = (result.cursor_resets, min(counter.counts["inbox listed again"],
                                                                        counter.counts["class folders listed again"]))
    for what, (want, made) in asked.items():
        if made < want:
            result.chaos_missed += want - made
            why = " (POST /undo answered it moved none back: undo_misreported)" \
                if user.undo_unreported and not user.undone and ("again" in what or "copies" in what) else ""
            result.problems.append(f"chaos: {want} {what} asked for, {made} made{why}")
    if tag:
        check_tags(service, dropped, result, user)
    else:
        check(service, dropped, result, user, duplicates, by_date)
    result.seconds = time.monotonic() - started
    return result


def _state():
    from chalicelib.wiring import wiring
    return wiring().state


def _drop(fake, dropped: list[tuple[Drop, str]], drop: Drop, user: User) -> None:
    """Put `drop` in /All; a companion's photo (dropped before it, or in the same batch) is noted."""
    file_id = fake.put(drop.path, drop.data)
    dropped.append((drop, file_id))
    if drop.kind == "companion":
        user.leads[file_id] = ""  # its photo's id, once both are put (`_resolve_leads`)
        if drop.late:
            user.late.add(file_id)


def _resolve_leads(dropped: list[tuple[Drop, str]], user: User) -> None:
    at = {drop.path: file_id for drop, file_id in dropped if drop.is_photo}
    for drop, file_id in dropped:
        if drop.kind == "companion":
            user.leads[file_id] = at[drop.lead]


def _lead_sorted(state, dropped: list[tuple[Drop, str]], drop: Drop, tag: bool) -> bool:
    """Whether the photo a late companion goes with is sorted now (placed, or tagged)."""
    [lead_id] = [file_id for d, file_id in dropped if d.is_photo and d.path == drop.lead]
    entry = state.ledger([lead_id]).get(lead_id)
    counter = entry.counter if entry is not None else None
    return counter is not None and (counter == "unsorted" or counter.startswith("tagged:" if tag else "folder:"))


def _sorted_photos(fake, state, photo_shas: set[str], exclude: set[str] = frozenset()) -> list[tuple[str, str]]:
    """(path, file id) of the photos the service sorted into a class folder and that are still where
    its records say it put them: files directly in a class folder (or in a date folder of one) that
    really is a folder (not the plain file blocking one), holding the bytes of a dropped photo, not
    among `exclude` (file ids)."""
    found = []
    for path, data in sorted(fake.files("/").items()):
        folder = "/" + top_folder(path)
        if not _in_class_folder(path) or folder.casefold() not in {f.casefold() for f in CLASS_FOLDERS} \
                or not fake.is_folder(folder) or _sha(data) not in photo_shas:
            continue
        file_id = fake.id_of(path)
        if file_id is not None and file_id not in exclude:
            found.append((path, file_id))
    entries = state.ledger([file_id for _, file_id in found]) if found else {}
    return [(path, file_id) for path, file_id in found
            if file_id in entries and entries[file_id].to == path.lower()]


def _in_class_folder(path: str) -> bool:
    """Directly in a top folder, or in a date folder of one ("/Cat/2024/a.jpg")."""
    parts = path.strip("/").split("/")
    return len(parts) == 2 or len(parts) == 3 and is_date_folder(parts[1])


def _free_class_folders(fake) -> list[str]:
    """The class folders a user can put a photo in: every configured one but a plain file's name."""
    return [f for f in CLASS_FOLDERS if fake.is_folder(f) or not fake.exists(f)]


def _correct(fake, state, rng: random.Random, count: int, photo_shas: set[str], user: User) -> None:
    """The user moves up to `count` sorted photos to another class folder (same name). Only photos
    the service sorted (its record says it put them there), only to real class folders."""
    if count <= 0:
        return
    folders = _free_class_folders(fake)
    candidates = _sorted_photos(fake, state, photo_shas, exclude=user.touched)
    for path, file_id in rng.sample(candidates, len(candidates)):
        if count == 0:
            return
        here = "/" + top_folder(path)
        others = [f for f in folders if f.casefold() != here.casefold()]
        existing = [f for f in others if fake.is_folder(f)]  # where the user keeps photos already
        if not others:
            continue
        there = rng.choice(existing or others)
        to = there + path[len(here):]  # in the same date folder, with by_date, as a user drags it
        if fake.exists(to):
            continue
        user.corrected[file_id] = (path, to)
        user.touched.add(file_id)
        fake.user_move(path, to)
        count -= 1


def _rename_in_class(fake, state, rng: random.Random, count: int, photo_shas: set[str], user: User) -> None:
    """The user renames up to `count` sorted photos inside their class folder: no example of it."""
    if count <= 0:
        return
    candidates = _sorted_photos(fake, state, photo_shas, exclude=user.touched)
    for path, file_id in rng.sample(candidates, len(candidates)):
        if count == 0:
            return
        folder, name = path.rsplit("/", 1)
        to = f"{folder}/best {name}"
        if len(f"best {name}".encode()) > 255 or fake.exists(to):  # the emulator keeps names on disk
            continue
        user.renamed[file_id] = (path, to)
        user.touched.add(file_id)
        fake.user_move(path, to)
        count -= 1


def _move_queued(fake, state, rng: random.Random, count: int, dropped: list[tuple[Drop, str]],
                 unique: set[str], user: User, shots: set[str]) -> None:
    """The user drags up to `count` photos that wait in /All, queued and not sorted yet, into a
    class folder: the user's example of that class. Photos whose content was dropped once only (so
    the content check is not about the user's doing), and none that companions go with (`shots`)."""
    waiting = {file_id: drop for drop, file_id in dropped if drop.is_photo and file_id not in user.touched
               and drop.path not in shots and _sha(drop.data) in unique
               and (fake.path_of(file_id) or "").lower() == drop.path.lower()}
    # Queued, and no outcome yet: its message has not run (nothing runs between this look and the move).
    entries = state.ledger(list(waiting)) if waiting else {}
    queued = [file_id for file_id in waiting if file_id not in entries or entries[file_id].counter is None]
    folders = _free_class_folders(fake)
    for file_id in rng.sample(sorted(queued), len(queued)):
        if count <= 0:
            return
        to = f"{rng.choice(folders)}/{PurePosixPath(waiting[file_id].path).name}"
        if fake.exists(to):
            continue
        fake.user_move(waiting[file_id].path, to)
        user.queued_moves[file_id] = to
        user.touched.add(file_id)
        count -= 1


def _more_photos(fake, dropped: list[tuple[Drop, str]], count: int, name: str, first: int, seed: int,
                 photo_shas: set[str], unique: set[str]) -> None:
    """`count` photos more in /All ("/All/<name> <k>.<ext>"), each a new content."""
    for k in range(count):
        ext, data = photo(first + k, seed)
        assert _sha(data) not in photo_shas
        photo_shas.add(_sha(data))
        unique.add(_sha(data))
        drop = Drop(f"{INBOX}/{name} {k}.{ext}", data)
        dropped.append((drop, fake.put(drop.path, drop.data)))


def _jobs_to_undo(service, state, dropped: list[tuple[Drop, str]], unique: set[str], user: User) -> list[str]:
    """The finished jobs an undo can be checked on, in the order their photos were dropped: at least
    two photos moved, each one the user never touched, of a content dropped once, with no other
    outcome than its place, and still there."""
    fake = service.dropbox
    eligible, jobs = set(), {}
    for i, (drop, file_id) in enumerate(dropped):  # companions and videos too: undo puts them back as well
        if not drop.to_sort or file_id in user.touched or _sha(drop.data) not in unique:
            continue
        outcomes = state.outcomes(file_id)
        placed = [o for o in outcomes if o["kind"] in ("sorted", "unsorted")]
        if not placed or len(placed) != len(outcomes) or len({o.get("to", "").lower() for o in placed}) != 1 \
                or (fake.path_of(file_id) or "").lower() != placed[0].get("to", "").lower():
            continue
        eligible.add(file_id)
        for o in placed:
            if o.get("job_id"):
                jobs.setdefault(o["job_id"], i)
    return _finished_jobs_of(service, jobs, eligible, state.job_moves)


def _tag_jobs_to_undo(service, state, dropped: list[tuple[Drop, str]], unique: set[str], user: User) -> list[str]:
    """With tags: the finished jobs that tagged at least two photos, each one the user never touched,
    of a content dropped once, tagged once and with no other outcome."""
    eligible, jobs = set(), {}
    for i, (drop, file_id) in enumerate(dropped):
        if not drop.is_photo or file_id in user.touched or _sha(drop.data) not in unique:
            continue
        outcomes = state.outcomes(file_id)
        if len(outcomes) != 1 or outcomes[0]["kind"] != "tagged":
            continue
        eligible.add(file_id)
        if outcomes[0].get("job_id"):
            jobs.setdefault(outcomes[0]["job_id"], i)
    return _finished_jobs_of(service, jobs, eligible, state.job_tags)


def _finished_jobs_of(service, jobs: dict[str, int], eligible: set[str], photos_of) -> list[str]:
    """Of `jobs` (job id -> order first seen), those finished whose photos (`photos_of(job_id)`: the
    moves or taggings) are two or more, every one eligible; in that order."""
    candidates = []
    for job_id in sorted(jobs, key=jobs.get):
        done = {file_id for file_id, _, _ in photos_of(job_id)}
        answer = json.loads(service.get(f"/jobs/{job_id}").body)
        if len(done) >= 2 and done <= eligible and answer.get("finished"):
            candidates.append(job_id)
    return candidates


def _undo_and_redeliver(service, job_id: str, rng: random.Random, dropped: list[tuple[Drop, str]], user: User,
                        result: Result, deliveries: _Deliveries, reset: bool, tag: bool = False) -> None:
    """The user undoes a finished job (POST /undo); Dropbox may reset the cursors then; and SQS
    delivers one of the job's messages again, as it may when a deletion was lost. Its photos must
    stay in /All, counted nowhere (with `tag`: untagged)."""
    fake = service.dropbox
    order = {file_id: i for i, (_, file_id) in enumerate(dropped)}
    moved = [file_id for file_id, _, _ in (_state().job_tags(job_id) if tag else _state().job_moves(job_id))]
    answer = undo(service, result, job_id)
    user.undone_job = job_id
    for back in answer["photos"]:
        path = back["path"] if tag else back["to"]
        file_id = fake.id_of(path)
        user.undone[file_id] = path
        user.touched.add(file_id)
    for file_id in moved:  # moved back all the same (an answer of Dropbox lost, the move tried again)
        now = fake.path_of(file_id)
        if file_id not in user.undone and now is not None and in_inbox(now, configuration.INBOX) and not (
                tag and fake.tags_of(now)):
            user.undo_unreported[file_id] = now
            user.touched.add(file_id)
    if reset:
        fake.reset_cursors()
        user.cursor_resets += 1
    notify(service, result)  # the moves back are changes in /All: the webhook leaves them there
    again = [file_id for file_id in sorted(user.undone, key=order.get) if (file_id, job_id) in deliveries.bodies]
    if again:
        file_id = rng.choice(again)
        redeliver(service, deliveries.bodies[(file_id, job_id)])
        user.redelivered.append(file_id)


def _copy_orphans(fake, state, rng: random.Random, dropped: list[tuple[Drop, str]], unique: set[str],
                  photo_shas: set[str], user: User) -> None:
    """Copies whose original is not sorted now: one of an undone photo (not the one whose message
    came again), and one of a sorted photo the user deletes first. With "duplicates": "folder",
    neither may go to /Duplicates."""
    data = {file_id: drop.data for drop, file_id in dropped}
    order = {file_id: i for i, (_, file_id) in enumerate(dropped)}
    undone = [f for f in sorted(user.undone, key=order.get) if f not in user.redelivered]
    if undone:
        original = rng.choice(undone)
        name = PurePosixPath(user.undone[original]).name
        # Of a Live Photo's video: a video on its own (no photo has its name); of a RAW: a RAW on its own.
        copy = Drop(f"{INBOX}/copy of undone {name}", data[original],
                    kind="video" if kind_of(name) == "video" else "photo")
        dropped.append((copy, fake.put(copy.path, copy.data)))
        user.orphan_copies[dropped[-1][1]] = "undone"
    sorted_now = [(path, file_id) for path, file_id in
                  _sorted_photos(fake, state, photo_shas, exclude=user.touched) if _sha(data[file_id]) in unique]
    if sorted_now:
        path, file_id = rng.choice(sorted_now)
        fake.user_delete(path)
        user.deleted.add(file_id)
        user.touched.add(file_id)
        copy = Drop(f"{INBOX}/copy of deleted {PurePosixPath(path).name}", data[file_id])
        dropped.append((copy, fake.put(copy.path, copy.data)))
        user.orphan_copies[dropped[-1][1]] = "deleted"


def _rename_one(fake, dropped: list[tuple[Drop, str]], rng: random.Random, prefix: str, user: User,
                shots: set[str]) -> None:
    """The user renames a photo that still waits in /All; the record of what was dropped follows."""
    waiting = [i for i, (drop, file_id) in enumerate(dropped)
               if drop.is_photo and fake.exists(drop.path) and file_id not in user.touched and drop.path not in shots]
    if not waiting:
        return
    i = rng.choice(waiting)
    drop, file_id = dropped[i]
    parent, name = drop.path.rsplit("/", 1)
    renamed = f"{parent}/{prefix}{name}"
    if len((prefix + name).encode()) > 255 or fake.exists(renamed):  # the emulator keeps names on disk
        return
    fake.user_move(drop.path, renamed)
    dropped[i] = (replace(drop, path=renamed), file_id)


# --- the invariant ----------------------------------------------------------------------------------

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _renamed_from(final_name: str, dropped_name: str) -> bool:
    """`final_name` is `dropped_name` or Dropbox's autorename of it ("a (1).jpg"), ignoring case."""
    if final_name.lower() == dropped_name.lower():
        return True
    p = PurePosixPath(dropped_name)
    stem, ext = (p.stem, p.suffix) if p.stem else (p.name, "")
    q = final_name[:-len(ext)] if ext and final_name.lower().endswith(ext.lower()) else final_name
    if not q.lower().startswith(stem.lower() + " (") or not q.endswith(")"):
        return False
    return q[len(stem) + 2:-1].isdigit()


def _counted(state, file_ids) -> dict[str, str]:
    """The counter each photo is counted in now ("folder:Cat", "unsorted", "gone", ...), by file id,
    as its ledger entry says."""
    return {file_id: entry.counter for file_id, entry in state.ledger(list(file_ids)).items() if entry.counter}


def _examples(state) -> set[tuple[str, str, str]]:
    """Every example learned: (class folder casefolded, "example" or "counter", file id)."""
    return {tuple(item["sk"]["S"].rsplit("#", 2)) for item in state.table.query("examples", projection="sk")
            if item["sk"]["S"] != "version"}


def check(service, dropped: list[tuple[Drop, str]], result: Result, user: User, duplicates: str = "keep",
          by_date: str = "none") -> None:
    """`user`: what the user did since the photos were dropped (photos moved or renamed after the
    service sorted them must be where the user put them, byte for byte). With `duplicates`
    "folder", of each content exactly one photo is outside /Duplicates. With `by_date`, each photo
    the service sorted (not into /Duplicates) is in a date folder of its class folder: the one of
    its EXIF date when it has one."""
    from chalicelib.wiring import wiring
    drops = [drop for drop, _ in dropped]
    fake, state = service.dropbox, wiring().state
    problems = result.problems
    final = fake.files("/")
    ids = {path: fake.id_of(path) for path in final}
    data_of = {file_id: drop.data for drop, file_id in dropped}
    copies = {f"/{DUPLICATES_FOLDER}"} if duplicates == "folder" else set()
    folders = set(CLASS_FOLDERS) | {UNSORTED, VIDEOS} | copies

    def top(path: str) -> str:
        return "/" + top_folder(path)

    # Not in the folders, by the user's doing: put back in /All by the undo, or deleted.
    undone = user.undone | user.undo_unreported
    aside = set(undone) | user.deleted

    # Multisets of content: what was dropped, what is where.
    want_sorted = collections.Counter(_sha(d.data) for d, file_id in dropped if d.to_sort and file_id not in aside)
    have_sorted = collections.Counter(_sha(data) for path, data in final.items()
                                      if top(path) in folders and ids[path] not in aside)
    missing, extra = want_sorted - have_sorted, have_sorted - want_sorted
    stray = [p for p in final if top(p) not in folders and top(p) != INBOX]
    problems += [f"a file outside the inbox and the class folders: {p}" for p in stray]

    moved_by_user = user.corrected | user.renamed
    blocked = set()  # photos whose class folder was a plain file for a while: failed, then sorted
    waited = set()  # companions of a photo whose sort failed: they waited beside it (skipped, with_photo)
    for drop, file_id in dropped:
        outcomes = state.outcomes(file_id)
        if len(outcomes) > 1:
            result.queued_twice += 1
        kinds = {o["kind"] for o in outcomes}
        # Before the photos with promises of their own: an undone photo may have been blocked too.
        blocked |= {drop.path for o in outcomes if o.get("reason", "").startswith("folder_blocked")}
        if file_id in user.deleted:
            if fake.path_of(file_id) is not None:
                problems.append(f"{drop.path}: deleted by the user, yet at {fake.path_of(file_id)}")
            continue
        if file_id in undone or file_id in user.queued_moves:
            continue  # their own promises, below
        role = drop.kind if drop.to_sort else "bad"
        if role == "companion":
            lead_id = user.leads[file_id]
            homes = _photo_homes(state, lead_id, user)
            lead_failed = any(o["kind"] == "failed" for o in state.outcomes(lead_id))
            if lead_failed:
                waited.add(drop.path)
            split = _split(drop, outcomes, homes, fake.path_of(file_id), final, lead_id in undone, user.undone_job,
                           lead_failed) if homes else "its photo was never placed"
            if split is None:
                continue
            if homes and file_id not in user.late_unplaced:
                if split:  # "": not placed, still in /All (stuck_in_all says it)
                    result.shots_split += 1
                    problems.append(f"{drop.path}: {split}")
                continue
            # Its photo was never placed (or not yet when it came): it goes on its own, a RAW by its preview.
            role = "photo" if kind_of(drop.path) == "raw" else "video"
        if role == "video":
            if problem := _video_problem(drop, outcomes, fake.path_of(file_id), final):
                result.videos_misplaced += 1
                problems.append(f"{drop.path}: {problem}")
            elif by_date != "none" and not _dated_right(fake.path_of(file_id) or "", drop.data, by_date):
                result.misdated += 1
                problems.append(f"{drop.path}: at {fake.path_of(file_id)}, not in a {by_date} folder of {VIDEOS}")
            continue
        if role == "photo":
            placed = [o for o in outcomes if o["kind"] in ("sorted", "unsorted")]
            # A request of a photo queued twice that ran after the user moved the sorted photo finds
            # it where the user put it: "gone" for its job (the service did not put it there).
            by_user_now = moved_by_user[file_id][1].lower() if file_id in moved_by_user else None
            unexpected = [o for o in outcomes if o["kind"] not in ("sorted", "unsorted")
                          and not o.get("reason", "").startswith("folder_blocked")
                          and not (o["kind"] == "gone" and by_user_now and (o.get("to") or "").lower() == by_user_now)]
            targets = {o.get("to") for o in placed}
            if not placed:
                if final.get(drop.path) != drop.data:
                    result.unrecorded += 1
                    problems.append(f"{drop.path}: moved, but no outcome says where: {outcomes}")
                continue
            if unexpected:
                problems.append(f"{drop.path}: outcomes {outcomes}")
                continue
            by_user = None
            if file_id in moved_by_user:
                recorded, by_user = moved_by_user[file_id]
                if by_user.lower() in {t.lower() for t in targets if t}:
                    # A request of the photo queued twice ran after the user's move, and took it for
                    # an earlier try of its own: an undo of its job would move the user's photo.
                    result.user_moves_claimed += 1
                    problems.append(f"{by_user}: the user moved it there from {recorded} after it was sorted; "
                                    f"an outcome says the service did: {outcomes}")
                    targets = {t for t in targets if (t or "").lower() != by_user.lower()}
            if len(targets) != 1:
                problems.append(f"{drop.path}: outcomes {outcomes}")
                continue
            [recorded] = targets
            to = by_user or recorded
            if to not in final:
                problems.append(f"{drop.path}: recorded at {recorded}, {to} does not exist")
            elif final[to] != drop.data:
                result.overwritten += 1
                problems.append(f"{drop.path}: {to} does not hold the bytes that were dropped")
            elif top(to) not in folders:
                problems.append(f"{drop.path}: at {to}, not in a class folder")
            elif not _renamed_from(PurePosixPath(recorded).name, PurePosixPath(drop.path).name):
                problems.append(f"{drop.path}: renamed to {recorded}")
            elif not by_user and any(o["kind"] == "sorted" and not o.get("reason", "").startswith("duplicate")
                                     and "/" + folder_name(o["label"]) != top(to) for o in outcomes):
                problems.append(f"{drop.path}: label and folder disagree: {outcomes}")
            elif by_date != "none" and top(recorded) not in copies and not _dated_right(recorded, drop.data, by_date):
                result.misdated += 1
                problems.append(f"{drop.path}: sorted to {recorded}, not in the {by_date} folder of its date")
        else:
            if final.get(drop.path) != drop.data:
                result.lost += 1
                problems.append(f"{drop.path}: a bad file did not stay in the inbox unchanged")
            if kinds != {"skipped"} or not all(o.get("reason", "").startswith(drop.reason) for o in outcomes):
                problems.append(f"{drop.path}: expected skipped ({drop.reason}), got {outcomes}")
            # Refused without downloading: asking for it and hanging up after the headers (the size
            # is in them) is fine; reading its bytes is not. What a socket buffers is under 8 MiB a
            # request (a file queued again, by a cursor reset or an overlapping sort, is asked again).
            if drop.reason == "too_large" and fake.sent_bytes[file_id] > 8 * 2**20 * max(1, fake.served[file_id]):
                problems.append(f"{drop.path}: over the size limit, yet {fake.sent_bytes[file_id]} bytes "
                                f"of it were sent ({fake.served[file_id]} requests)")
            if drop.reason == "too_large":
                result.too_large_sent = fake.sent_bytes[file_id]

    counted = _counted(state, [*undone, *user.queued_moves])
    # Undone: back in /All byte for byte, counted nowhere, a message delivered again notwithstanding.
    for file_id, back in undone.items():
        now = fake.path_of(file_id)
        again = " (its message was delivered again)" if file_id in user.redelivered else ""
        if file_id in user.undo_unreported:
            # Not marked undone, so the next notification sorts it again: said once, as this.
            result.undo_misreported += 1
            problems.append(f"{back}: POST /undo moved it back to /All, yet answered it was left where it was "
                            f"(not undone); now at {now}, counted as {counted.get(file_id)}")
            continue
        if now is None or top(now) != INBOX or final.get(now) != data_of[file_id]:
            result.undone_resorted += 1
            problems.append(f"{back}: undone, then moved to {now}{again}: {state.outcomes(file_id)}")
        if file_id in counted:
            result.undone_counted += 1
            problems.append(f"{back}: undone, yet counted as {counted[file_id]}{again}")
    # A queued photo the user moved: where the user put it, counted gone (not sorted by the service).
    for file_id, to in user.queued_moves.items():
        now = fake.path_of(file_id)
        if now != to or final.get(now) != data_of[file_id]:
            result.user_moves_misplaced += 1
            problems.append(f"{to}: moved there by the user while queued, now at {now}")
        if counted.get(file_id) != "gone":
            result.user_moves_miscounted += 1
            problems.append(f"{to}: moved there by the user while queued, counted as {counted.get(file_id)}, "
                            f"not gone: {state.outcomes(file_id)}")

    # Examples: learned from the user's moves, and only from them.
    expected = {(top_folder(to).casefold(), "example", file_id) for file_id, to in user.queued_moves.items()}
    from_corrections = set()
    for file_id, (was, now) in user.corrected.items():
        from_corrections |= {(top_folder(now).casefold(), "example", file_id),
                             (top_folder(was).casefold(), "counter", file_id)}
    learned = _examples(state)
    for folder, role, file_id in sorted((expected | from_corrections) - learned):
        if file_id in user.queued_moves:
            result.user_moves_unlearned += 1
            problems.append(f"{user.queued_moves[file_id]}: moved there by the user while queued, "
                            f"not learned as an example of /{folder}")
        else:
            result.corrections_unlearned += 1
            problems.append(f"a correction ({file_id}, now at {fake.path_of(file_id)}) not learned as {role} "
                            f"of /{folder}")
    for folder, role, file_id in sorted(learned - expected - from_corrections):
        if file_id in user.renamed:
            result.renames_learned += 1
            problems.append(f"{fake.path_of(file_id)}: renamed inside its class folder, learned as {role} "
                            f"of /{folder}")
        else:
            result.examples_unexpected += 1
            problems.append(f"{fake.path_of(file_id)} ({file_id}): learned as {role} of /{folder}, "
                            "which the user never taught")

    undone_now = {fake.path_of(file_id) for file_id in undone}
    in_inbox = {p for p in final if top(p) == INBOX}
    bad_paths = {d.path for d in drops if not d.to_sort}
    left = sorted(in_inbox - bad_paths - undone_now)

    # The dead-letter queue: each message must name a file recorded as failed, still in the inbox.
    dlq_url = service.source._sqs.get_queue_url(QueueName=f"{wiring().queue.queue_name}-dlq")["QueueUrl"]
    dlq_messages = _receive_all(service.source._sqs, dlq_url)
    result.dlq = len(dlq_messages)
    explained = set()
    for body in dlq_messages:
        request = json.loads(body)
        if "sync" in request or "learn" in request:
            problems.append(f"a sync or a learn request was dead-lettered: {body}")
            continue
        failed = [o for o in state.outcomes(request["file_id"]) if o["kind"] == "failed"]
        if failed and request["path"] in in_inbox:
            explained.add(request["path"])
        else:
            problems.append(f"dead letter not explained: {body} outcomes {state.outcomes(request['file_id'])}")
    unexplained = [p for p in left if p not in explained]
    problems += [f"a photo left in the inbox: {p}" for p in unexplained]
    result.stuck_in_all = len(left)

    if copies:
        # Of each content, one photo outside /Duplicates: none in it without one outside (a copy of a
        # photo undone or deleted before the copy was sorted), never two outside.
        outside, inside = collections.Counter(), collections.Counter()
        for path, data in final.items():
            if top(path) in folders and ids[path] not in aside:
                (inside if top(path) in copies else outside)[_sha(data)] += 1
        for sha in sorted(set(outside) | set(inside)):
            if inside[sha] and not outside[sha]:
                result.orphan_duplicates += inside[sha]
                problems.append(f"{inside[sha]} photo(s) in /{DUPLICATES_FOLDER} and none outside it: "
                                f"{[p for p, d in final.items() if top(p) in copies and _sha(d) == sha]}")
            elif outside[sha] > 1:
                result.extra_originals += outside[sha] - 1
                problems.append(f"{outside[sha]} photos of one content outside /{DUPLICATES_FOLDER}, not 1: "
                                f"{[p for p, d in final.items() if top(p) in folders - copies and _sha(d) == sha]}")
    result.lost += sum(missing.values())
    result.duplicated += sum(extra.values())
    if missing:
        problems.append(f"{sum(missing.values())} photo(s) missing from the class folders")
    if extra:
        problems.append(f"{sum(extra.values())} extra cop(ies) in the class folders")

    # /status says the same, and shows the bad files with their reasons. The undone photos count
    # nowhere, and a queued photo the user moved counts as gone: those that do not were said above,
    # so their counts are taken as they are here.
    status = json.loads(service.get("/status").body)
    bad = [d for d in drops if not d.to_sort]
    if status["skipped"] != len(bad):
        problems.append(f"/status skipped={status['skipped']}, expected {len(bad)}")
    placed = sum(status["sorted"].values()) + status["unsorted"]
    gone = sum(counted.get(file_id) == "gone" for file_id in user.queued_moves)
    undone_placed = sum(counted.get(f, "").startswith("folder:") or counted.get(f) == "unsorted" for f in undone)
    undone_uncounted = len(undone) - sum(f in counted for f in undone)  # counted nowhere
    # Every file moved out of /All counts where it went: photos, companions (in their photo's
    # folder), videos (under /Videos).
    want_placed = sum(d.to_sort for d in drops) - len(undone) + undone_placed - len(left) - gone
    want_finished = len(dropped) - undone_uncounted - len(left) + status["failed"]
    if placed != want_placed or status["finished"] != want_finished:
        problems.append(f"/status sorted+unsorted={placed} ({status['sorted']}, unsorted {status['unsorted']}), "
                        f"finished {status['finished']}; {sum(d.to_sort for d in drops)} files to sort, "
                        f"{len(left)} left in /All, "
                        f"{len(undone)} undone, {gone} moved by the user")
    result.double_counted = max(0, placed - want_placed) + max(0, status["finished"] - len(dropped) + undone_uncounted)
    if status["queue"]["waiting"] or status["queue"]["in_flight"]:
        problems.append(f"/status queue not empty: {status['queue']}")
    recent = {e["path"]: e["reason"] for e in status["recent_problems"]}
    if len(recent) < min(20, len(bad)):
        problems.append(f"/status shows {len(recent)} recent problems, expected {min(20, len(bad))}")
    # A photo that met the plain file where its class folder was, on a try SQS then repeated once the
    # folder was back, has that problem shown though its record says only where it went (perhaps
    # under a name the user gave it since): the blocked folder is the only cause of that reason.
    blocked_try = {path for path, reason in recent.items() if reason.startswith("folder_blocked")} if blocked \
        else set()
    # A companion that waited in /All beside such a photo shows why (with_photo) until it moved.
    waited_try = {path for path, reason in recent.items() if path in waited and reason.startswith("with_photo")}
    for path, reason in recent.items():
        matching = [d for d in bad if d.path == path]
        if not matching and path not in explained | blocked | blocked_try | waited_try:
            problems.append(f"/status shows a problem with {path}, which was not a bad file: {reason}")
        elif matching and not reason.startswith(matching[0].reason):
            problems.append(f"/status gives {path} the reason {reason!r}, expected {matching[0].reason}")
    # The newest 20 files with a problem: the bad files, unless blocked photos' problems came after.
    if len(bad) + len(blocked | blocked_try | waited_try) <= 20:
        problems += [f"/status does not show {d.path}" for d in bad if d.path not in recent]


def _photo_homes(state, lead_id: str, user: User) -> set[str]:
    """Where a companion's photo was put: where the service placed it, and where the user moved it
    since (a companion that comes later follows it there). Empty: never placed."""
    homes = {o["to"] for o in state.outcomes(lead_id) if o["kind"] in ("sorted", "unsorted") and o.get("to")}
    moved = user.corrected | user.renamed
    if homes and lead_id in moved:
        homes.add(moved[lead_id][1])
    return homes


def _beside(home: str, companion: str) -> str:
    """Where a companion goes beside its photo at `home`: the photo's folder, the photo's final name
    without its extension, and the companion's own extension ("/cat/img_1 (1).heic" -> "/cat/img_1 (1).MOV")."""
    folder, _, name = home.rpartition("/")
    return f"{folder}/{name.rsplit('.', 1)[0] if '.' in name else name}{PurePosixPath(companion).suffix}"


def _split(drop: Drop, outcomes: list[dict], homes: set[str], now: str | None, final: dict[str, bytes],
           photo_undone: bool, undone_job: str | None, photo_failed: bool) -> str | None:
    """None when the companion `drop` is beside its photo (one of its `homes`) under the photo's
    name, byte for byte, as its one placed outcome says; else what is wrong ("" when it was never
    placed and waits in /All unchanged: stuck_in_all counts that). With its photo undone and the
    companion not, the companion came in a later job than the undone one, and stays where it went.
    While its photo's sort failed (a blocked class folder), it waited in /All beside it (skipped,
    with_photo) until both were sorted again."""
    placed = [o for o in outcomes if o["kind"] in ("sorted", "unsorted")]
    if not placed:
        return "" if now is not None and now == drop.path and final.get(now) == drop.data else \
            f"not placed ({outcomes}), now at {now}"
    other = [o for o in outcomes if o["kind"] not in ("sorted", "unsorted") and not (
        photo_failed and o["kind"] == "skipped" and o.get("reason", "").startswith("with_photo"))]
    targets = {o.get("to") or "" for o in placed}
    # Its folder as Dropbox matches paths (in any case), its name exactly the photo's stem and its own extension.
    expected = {_beside(home, drop.path) for home in homes}
    # Moved with its photo. A request that finds it moved there already (queued twice, or an earlier
    # try whose record was lost) records only where it is (sorting.settled): no reason, no score.
    if other or len(targets) != 1 or not all(o.get("reason", "").startswith("with_photo")
                                             or (o.get("reason") is None and o.get("score") is None) for o in placed):
        return f"outcomes {outcomes}"
    [target] = targets
    if not any(target.rpartition("/")[0].lower() == there.rpartition("/")[0].lower()
               and target.rpartition("/")[2] == there.rpartition("/")[2] for there in expected):
        return f"placed at {target}, not beside its photo (at {sorted(homes)}) under its name: {sorted(expected)}"
    if now is None or now.lower() != target.lower() or final.get(now) != drop.data:
        return f"placed at {target}, now at {now}" + ("" if final.get(now or "") == drop.data else " (other bytes)")
    if photo_undone and undone_job is not None and any(o.get("job_id") == undone_job for o in placed):
        return f"its photo's job was undone, it was moved by that job, yet it stayed at {now}"
    return None


def _video_problem(drop: Drop, outcomes: list[dict], now: str | None, final: dict[str, bytes]) -> str | None:
    """None when a video on its own is in /Videos (in a date folder of it, with by_date) under its
    name, byte for byte, as its one placed outcome says; else what is wrong."""
    placed = [o for o in outcomes if o["kind"] == "sorted"]
    targets = {(o.get("to") or "") for o in placed}
    if not placed and now == drop.path and final.get(now) == drop.data:
        return ""  # never sorted, waits in /All unchanged: stuck_in_all says it
    if not placed or len(targets) != 1 or len(placed) != len(outcomes) \
            or any(not o.get("reason", "").startswith("video") for o in placed):
        return f"not sorted as a video: {outcomes}, now at {now}"
    [target] = targets
    if "/" + top_folder(target) != VIDEOS \
            or not _renamed_from(PurePosixPath(target).name, PurePosixPath(drop.path).name):
        return f"sorted to {target}, not into {VIDEOS} under its name"
    if now is None or now.lower() != target.lower() or final.get(now) != drop.data:
        return f"sorted to {target}, now at {now}" + ("" if final.get(now or "") == drop.data else " (other bytes)")
    return None


def _dated_right(path: str, data: bytes, by_date: str) -> bool:
    """Whether `path` is in a date folder of its top folder, of the right shape ("2024" for year,
    "2024-06" for month), and the one of the photo's EXIF date when it has one (the others are
    dated by the time they were put, which the emulator keeps as client_modified)."""
    parts = path.strip("/").split("/")
    if len(parts) != 3 or not is_date_folder(parts[1]) or (len(parts[1]) == 4) != (by_date == "year"):
        return False
    taken = dates.exif_date(data)
    return taken is None or parts[1] == dates.date_folder(by_date, data, None)


def check_tags(service, dropped: list[tuple[Drop, str]], result: Result, user: User) -> None:
    """The invariant of a run with "action": "tag" (the module's docstring): nothing moved or changed,
    each photo's tags those its record says were added, each file counted once, the undone untagged."""
    from chalicelib.wiring import wiring
    fake, state = service.dropbox, wiring().state
    problems = result.problems
    undone = set(user.undone) | set(user.undo_unreported)
    ledger = state.ledger([file_id for _, file_id in dropped])
    final = fake.files("/")
    tagged: collections.Counter = collections.Counter()
    tagged_photos = unsorted = 0
    left: list[str] = []
    for drop, file_id in dropped:
        now = fake.path_of(file_id)
        if now is None:
            result.lost += 1
            problems.append(f"gone: {drop.path}")
            continue
        if now.lower() != drop.path.lower():
            result.moved += 1
            problems.append(f"moved: {drop.path} is at {now}")
        if final.get(now) != drop.data:
            result.overwritten += 1
            problems.append(f"changed: {now}")
        tags = set(fake.tags_of(now))
        entry = ledger.get(file_id)
        counter = entry.counter if entry is not None else None
        if file_id in undone:
            if tags:
                result.undone_resorted += 1
                problems.append(f"undone but tagged again: {now} {sorted(tags)}")
            if counter is not None:
                result.undone_counted += 1
                problems.append(f"undone but counted {counter}: {now}")
            continue
        if counter is None:
            result.unrecorded += 1
            problems.append(f"no record: {now}")
            continue
        role = drop.kind if drop.to_sort else "bad"
        if role == "companion":
            # Beside its photo, tagged or unsorted where it is: left in /All with it (with_photo),
            # untagged. Its photo never tagged: on its own (a RAW is tagged by its preview).
            lead_id = user.leads[file_id]
            lead = ledger.get(lead_id)
            lead_counter = lead.counter if lead is not None else None
            reasons = {(o.get("reason") or "").split(":")[0] for o in state.outcomes(file_id)}
            lone = "video" if kind_of(drop.path) == "video" else "photo"
            # Its photo tagged (or left unsorted) where it is, or untagged since by an undo.
            if lead_counter is not None and (lead_counter == "unsorted" or lead_counter.startswith("tagged:")) \
                    or lead_id in undone:
                alone = file_id in user.late_unplaced and (
                    counter.startswith("tagged:") if lone == "photo" else reasons == {"video"})
                if (counter != "skipped" or reasons != {"with_photo"} or tags) and not alone:
                    result.shots_split += 1
                    problems.append(f"{now}: beside its tagged photo, yet counted {counter} ({reasons}), tags "
                                    f"{sorted(tags)}: {state.outcomes(file_id)}")
                    tagged_photos, unsorted = _tally(counter, tagged, tagged_photos, unsorted)
                    continue
                if not alone:
                    continue
            role = lone  # its photo never tagged: on its own, a RAW by its preview
        if role == "video":
            reasons = {(o.get("reason") or "").split(":")[0] for o in state.outcomes(file_id)}
            if counter != "skipped" or reasons != {"video"} or tags:
                result.videos_misplaced += 1
                problems.append(f"{now}: a video, yet counted {counter} ({reasons}), tags {sorted(tags)}")
                tagged_photos, unsorted = _tally(counter, tagged, tagged_photos, unsorted)
            continue
        if role == "bad" or counter in ("skipped", "failed"):
            if tags:
                result.tags_wrong += 1
                problems.append(f"a file not tagged by the service has tags: {now} {sorted(tags)}")
            if role == "photo":
                left.append(now)
            continue
        classes = counter.split(":", 1)[1].split("|") if counter.startswith("tagged:") else []
        if counter.startswith("tagged:"):
            tagged_photos += 1
            tagged.update(classes)
        elif counter == "unsorted":
            unsorted += 1
        else:
            left.append(now)
        # The user adds no tags here: a photo has exactly those the service added, one per class.
        if tags != set(entry.tags if entry is not None else ()) or tags != {tag_text(c) for c in classes}:
            result.tags_wrong += 1
            problems.append(f"tags of {now}: {sorted(tags)}, recorded as added {entry.tags if entry else ()}, "
                            f"counted as {counter}")
    dlq_url = service.source._sqs.get_queue_url(QueueName=f"{wiring().queue.queue_name}-dlq")["QueueUrl"]
    dlq_messages = _receive_all(service.source._sqs, dlq_url)
    result.dlq = len(dlq_messages)
    failed = {fake.path_of(json.loads(body).get("file_id", "")) for body in dlq_messages}
    result.stuck_in_all = len([p for p in left if p not in failed])
    problems += [f"a photo neither tagged nor unsorted: {p}" for p in left if p not in failed]
    result.tagged = tagged_photos
    status = json.loads(service.get("/status").body)
    said = (status.get("tagged", {}), status.get("tagged_photos", 0), status["unsorted"])
    if said != (dict(tagged), tagged_photos, unsorted):
        result.double_counted += abs(said[1] - tagged_photos) + abs(said[2] - unsorted) or 1
        problems.append(f"/status says tagged {said[0]} ({said[1]} photos), unsorted {said[2]}; the records say "
                        f"{dict(tagged)} ({tagged_photos}), {unsorted}")


def _tally(counter: str, tagged: collections.Counter, tagged_photos: int, unsorted: int) -> tuple[int, int]:
    """A file counted as a tagged or unsorted photo where it should not be: what /status then says
    too (its own figure said so; double_counted need not)."""
    if counter.startswith("tagged:"):
        tagged.update(counter.split(":", 1)[1].split("|"))
        return tagged_photos + 1, unsorted
    return tagged_photos, unsorted + (counter == "unsorted")


def _receive_all(sqs, url: str) -> list[str]:
    bodies, seen = [], set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                          AttributeNames=["All"]).get("Messages"):
        for m in messages:
            if m["MessageId"] not in seen:
                seen.add(m["MessageId"])
                bodies.append(m["Body"])
    return bodies
