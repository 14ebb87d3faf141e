"""The soak scenario, shared by tests/test_soak.py (about 100 photos) and bench/soak.py (1000).

Real, varied photos (local/sample_photos.py, resized and re-encoded into distinct files) and the
hard cases (duplicates by content, a name reused in a later batch, unicode, spaces and 255-character
names, empty, truncated, not-an-image and decompression-bomb files, a 60 MB file, a HEIC) are
dropped into /All in several batches (put, signed webhook, drain part of the queue) while Dropbox
and DynamoDB faults are injected at a fixed rate, and, with `Chaos`, what a real account and real
AWS add: SQS refusing sends and deletes, DynamoDB writes that land but answer a timeout,
notifications re-sent, lost or late, POST /sort over photos the webhooks queued, photos
renamed in /All while queued, and a plain file where a class folder should be (removed at the
end, then POST /sort). Then the invariant is checked:

- every image is in exactly one class folder or /Unsorted, byte-identical to what was dropped, at the
  path its outcome record names, under its own name (or Dropbox's "name (1).ext");
- every bad or non-image file is still in /All, unchanged, with its reason in its outcome record and
  in /status;
- nothing lost, nothing duplicated (multiset of content hashes), nothing overwritten;
- the dead-letter queue is empty, or each message in it names a file recorded as failed, still in /All;
- every sorted photo has its outcome record (unrecorded), /status counts each file once
  (double_counted), and no photo that could be sorted is left in /All (stuck_in_all).
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
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePosixPath

from PIL import Image

from chalicelib.sort_config import DUPLICATES_FOLDER
from local import sample_photos

CLASSES = sample_photos.SCENARIO_CLASSES
CLASS_FOLDERS = ["/" + c[:1].upper() + c[1:] for c in CLASSES]
UNSORTED = "/Unsorted"
INBOX = "/All"
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
    reason: str | None = None  # None: a photo to sort; else the reason code it must be skipped with

    @property
    def is_photo(self) -> bool:
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


@cache
def _base(name: str) -> Image.Image:
    picture = sample_photos.image(name).convert("RGB")
    picture.thumbnail((640, 640), Image.Resampling.LANCZOS)
    return picture


def _encode(picture: Image.Image, fmt: str, quality: int) -> bytes:
    if fmt == "HEIF":
        from chalicelib.images import _register_heif
        _register_heif()
    out = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP", "HEIF") else {}
    picture.save(out, fmt, **options)
    return out.getvalue()


_FORMATS = [("JPEG", "jpg", 70), ("JPEG", "jpeg", 8), ("PNG", "png", 6), ("WEBP", "webp", 8), ("GIF", "gif", 2),
            ("BMP", "bmp", 2), ("TIFF", "tif", 2), ("HEIF", "heic", 2)]


def photo(i: int, seed: int = 0) -> tuple[str, bytes]:
    """The i-th distinct photo file (extension, bytes): a real photo resized, cropped, maybe mirrored
    and re-encoded in one of the formats a camera, phone or editor saves."""
    rng = random.Random(seed * 1_000_003 + i)
    picture = _base(_SOURCES[i % len(_SOURCES)])
    fmt, ext, _ = rng.choices(_FORMATS, weights=[w for *_, w in _FORMATS])[0]
    small = fmt in ("BMP", "TIFF", "PNG", "GIF", "HEIF")  # uncompressed or slow: keep them small
    scale = rng.uniform(0.3, 0.5) if small else rng.uniform(0.45, 1.0)
    w, h = picture.size
    cl, ct, cr, cb = (rng.uniform(0, 0.08) for _ in range(4))
    picture = picture.crop((int(w * cl), int(h * ct), w - int(w * cr), h - int(h * cb)))
    picture = picture.resize((max(32, int(picture.width * scale)), max(32, int(picture.height * scale))),
                             Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ext, _encode(picture, fmt, rng.randint(60, 95))


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
    for batch in plan:
        rng.shuffle(batch)
    return plan


# --- the run -----------------------------------------------------------------------------------------

class _RetryCounter(logging.Handler):
    """Counts the retries the app logs: Dropbox calls retried by the store, SQS messages left for
    redelivery by the classify function."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts: collections.Counter = collections.Counter()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        message = record.getMessage()
        if record.name == "chalicelib.dropbox_store" and "; retry " in message:
            self.counts["dropbox"] += 1
        elif record.name == "chalicelib.delivery" and message.startswith("will retry"):
            self.counts["message"] += 1


@dataclass
class Result:
    photos: int
    files: int
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
    queued_twice: int = 0
    corrected: int = 0  # sorted photos the user moved to another class folder
    chaos_missed: int = 0  # chaos asked for that never happened (the run tested less than it says)
    too_large_sent: int = 0  # bytes of the 60 MB file that left the fake Dropbox
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"photos={self.photos} corrected={self.corrected} faults={sum(self.faults.values())} "
                f"retries={sum(self.retries.values())} "
                f"dlq={self.dlq} lost={self.lost} duplicated={self.duplicated} overwritten={self.overwritten} "
                f"unrecorded={self.unrecorded} double_counted={self.double_counted} stuck_in_all={self.stuck_in_all} "
                f"chaos_missed={self.chaos_missed}")

    def figures(self) -> tuple[int, ...]:
        """Every figure that must be 0: dlq, lost, duplicated, overwritten, unrecorded, double_counted,
        stuck_in_all, chaos_missed."""
        return (self.dlq, self.lost, self.duplicated, self.overwritten, self.unrecorded, self.double_counted,
                self.stuck_in_all, self.chaos_missed)

    def details(self) -> str:
        return (f"files={self.files} seconds={self.seconds:.1f} "
                f"faults: {dict(sorted(self.faults.items()))} retries: {dict(sorted(self.retries.items()))} "
                f"webhook errors: {dict(self.webhook_errors)} queued_twice={self.queued_twice} "
                f"bytes of the 60 MB file sent={self.too_large_sent}")


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


def run(service, plan: list[list[Drop]], *, dropbox_rate: float, aws: dict | None = None, seed: int = 0,
        drain_timeout: float = 600.0, kinds=DROPBOX_FAULTS, chaos: Chaos = Chaos(), duplicates: str = "keep") -> Result:
    """Drop the plan's batches while faults are injected; then drain, and check the invariant.
    `aws` names the AwsFaults hooks installed for the run ({"dynamodb throttle": ..., ...});
    `duplicates` is the configuration's ("folder": each content has one photo outside /Duplicates)."""
    started = time.monotonic()
    fake = service.dropbox
    aws = aws or {}
    rng = random.Random(seed)
    drops = [d for batch in plan for d in batch]
    state = _state()
    photo_shas = {_sha(d.data) for d in drops if d.is_photo}
    result = Result(photos=sum(d.is_photo for d in drops), files=len(drops))
    counter = _RetryCounter()
    app_log = logging.getLogger("chalicelib")
    app_log.addHandler(counter)
    blocked = "/" + CLASSES[-1][:1].upper() + CLASSES[-1][1:]
    try:
        service.configure(CLASSES, duplicates=duplicates)
        if chaos.blocked_folder:
            fake.put(blocked, b"a plain file where a class folder should be")
        fake.fault_rate(dropbox_rate, kinds, seed=seed)
        dropped: list[tuple[Drop, str]] = []  # (what, its Dropbox id): a path may be used twice
        corrected: dict[tuple[str, str], str] = {}  # (where the service put a photo, sha) -> the user's move
        for b, batch in enumerate(plan):
            for drop in batch:
                n = 0
                while fake.exists(drop.path):
                    # A name reused while its first holder still waits in the inbox: putting it
                    # would replace that file (the user's doing, not the app's). Use a subfolder
                    # (another one when a name differing only in case took that one).
                    n += 1
                    drop = Drop(f"{INBOX}/batch {b}{'' if n == 1 else f'.{n}'}/{PurePosixPath(drop.path).name}",
                                drop.data, drop.reason)
                assert not fake.exists(drop.path), drop.path
                dropped.append((drop, fake.put(drop.path, drop.data)))
            queued = 0
            if not (chaos.drop_notification and b == 0):
                queued = notify(service, result)["queued"]
                if chaos.resend_webhooks:
                    notify(service, result)
            if chaos.overlap_sort and b == len(plan) // 2:
                sort_all(service, result)
            for k in range(chaos.renames):
                _rename_one(fake, dropped, rng, f"renamed {b}.{k} ")
            if b >= len(plan) // 2 and len(corrected) < chaos.corrections:
                # Learned from at the next notification, while the rest is still being sorted. Too
                # few sorted yet (the first notification lost, few batches): again after the next.
                corrected |= _correct(fake, state, rng, chaos.corrections - len(corrected), photo_shas)
            polls = max(1, queued // service.source.batch_size // 2)
            for poll in range(polls):  # drain some
                if poll == polls // 2:
                    fake.expire_tokens()
                    result.faults["dropbox token expiry"] += 1
                service.source.poll_once(wait_seconds=0)
        notify(service, result)
        service.source.drain(timeout=drain_timeout)
        if chaos.blocked_folder:
            # The user sees the reason in /status, removes the file and sorts what is left.
            fake.user_delete(blocked)
            sort_all(service, result)
            service.source.drain(timeout=drain_timeout)
        if len(corrected) < chaos.corrections:  # everything is sorted now: the rest, learned at once
            corrected |= _correct(fake, state, rng, chaos.corrections - len(corrected), photo_shas)
            notify(service, result)
            service.source.drain(timeout=drain_timeout)
        # Faults off for the final look (the invariant is about what happened, not the check).
        fake.fault_rate(0)
        for hook in aws.values():
            hook.rate = 0.0
    finally:
        app_log.removeHandler(counter)
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
    result.corrected = len(corrected)
    if result.corrected < chaos.corrections:  # loudly: a soak that did not do it proves nothing about it
        result.chaos_missed += chaos.corrections - result.corrected
        result.problems.append(f"chaos: {chaos.corrections} corrections asked for, {result.corrected} made "
                               "(too few sorted photos in class folders)")
    check(service, dropped, result, corrected, duplicates)
    result.seconds = time.monotonic() - started
    return result


def _state():
    from chalicelib.wiring import wiring
    return wiring().state


def _sorted_photos(fake, state, photo_shas: set[str], exclude: set[str] = frozenset()) -> list[tuple[str, str]]:
    """(path, file id) of the photos the service sorted into a class folder and that are still where
    its records say it put them: files directly in a class folder that really is a folder (not the
    plain file blocking one), holding the bytes of a dropped photo, not among `exclude` (file ids)."""
    found = []
    for path, data in sorted(fake.files("/").items()):
        parts = path.strip("/").split("/")
        folder = "/" + parts[0]
        if len(parts) != 2 or folder.casefold() not in {f.casefold() for f in CLASS_FOLDERS} \
                or not fake.is_folder(folder) or _sha(data) not in photo_shas:
            continue
        file_id = fake.id_of(path)
        if file_id is not None and file_id not in exclude:
            found.append((path, file_id))
    placed = state.placed_paths([file_id for _, file_id in found]) if found else {}
    return [(path, file_id) for path, file_id in found if placed.get(file_id) == path.lower()]


def _free_class_folders(fake) -> list[str]:
    """The class folders a user can put a photo in: every configured one but a plain file's name."""
    return [f for f in CLASS_FOLDERS if fake.is_folder(f) or not fake.exists(f)]


def _correct(fake, state, rng: random.Random, count: int,
             photo_shas: set[str]) -> dict[tuple[str, str], str]:
    """The user moves up to `count` sorted photos to another class folder (same name): (old path,
    sha256 of the bytes) -> new path. The bytes say which photo: the service may reuse the old path.
    Only photos the service sorted (its record says it put them there) and real class folders."""
    folders = _free_class_folders(fake)
    candidates = _sorted_photos(fake, state, photo_shas)
    moved = {}
    for path, _ in rng.sample(candidates, len(candidates)):
        if len(moved) == count:
            break
        here = "/" + path.strip("/").split("/", 1)[0]
        others = [f for f in folders if f.casefold() != here.casefold()]
        existing = [f for f in others if fake.is_folder(f)]  # where the user keeps photos already
        if not others:
            continue
        to = f"{rng.choice(existing or others)}/{path.rsplit('/', 1)[1]}"
        if fake.exists(to):
            continue
        moved[(path, _sha(fake.read(path)))] = to
        fake.user_move(path, to)
    return moved


def _rename_one(fake, dropped: list[tuple[Drop, str]], rng: random.Random, prefix: str) -> None:
    """The user renames a photo that still waits in /All; the record of what was dropped follows."""
    waiting = [i for i, (drop, _) in enumerate(dropped) if drop.is_photo and fake.exists(drop.path)]
    if not waiting:
        return
    i = rng.choice(waiting)
    drop, file_id = dropped[i]
    parent, name = drop.path.rsplit("/", 1)
    renamed = f"{parent}/{prefix}{name}"
    if len((prefix + name).encode()) > 255 or fake.exists(renamed):  # the emulator keeps names on disk
        return
    fake.user_move(drop.path, renamed)
    dropped[i] = (Drop(renamed, drop.data), file_id)


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


def check(service, dropped: list[tuple[Drop, str]], result: Result,
          corrected: dict[tuple[str, str], str], duplicates: str = "keep") -> None:
    """`corrected`: photos the user moved after the service sorted them ((where the service put
    them, sha256) -> where they are), which must be there, byte for byte. With `duplicates`
    "folder", of each content exactly one photo is outside /Duplicates."""
    from chalicelib.wiring import wiring
    drops = [drop for drop, _ in dropped]
    fake, state = service.dropbox, wiring().state
    problems = result.problems
    final = fake.files("/")
    copies = {f"/{DUPLICATES_FOLDER}"} if duplicates == "folder" else set()
    folders = {"/" + c[:1].upper() + c[1:] for c in CLASSES} | {UNSORTED} | copies

    def top(path: str) -> str:
        return "/" + path.strip("/").split("/", 1)[0]

    # Multisets of content: what was dropped, what is where.
    want_sorted = collections.Counter(_sha(d.data) for d in drops if d.is_photo)
    have_sorted = collections.Counter(_sha(data) for path, data in final.items() if top(path) in folders)
    missing, extra = want_sorted - have_sorted, have_sorted - want_sorted
    stray = [p for p in final if top(p) not in folders and top(p) != INBOX]
    problems += [f"a file outside the inbox and the class folders: {p}" for p in stray]

    blocked = set()  # photos whose class folder was a plain file for a while: failed, then sorted
    for drop, file_id in dropped:
        outcomes = state.outcomes(file_id)
        if len(outcomes) > 1:
            result.queued_twice += 1
        kinds = {o["kind"] for o in outcomes}
        if drop.is_photo:
            placed = [o for o in outcomes if o["kind"] in ("sorted", "unsorted")]
            blocked |= {drop.path for o in outcomes if o.get("reason", "").startswith("folder_blocked")}
            unexpected = [o for o in outcomes if o["kind"] not in ("sorted", "unsorted")
                          and not o.get("reason", "").startswith("folder_blocked")]
            targets = {o.get("to") for o in placed}
            if not placed:
                if final.get(drop.path) != drop.data:
                    result.unrecorded += 1
                    problems.append(f"{drop.path}: moved, but no outcome says where: {outcomes}")
                continue
            if unexpected or len(targets) != 1:
                problems.append(f"{drop.path}: outcomes {outcomes}")
                continue
            [to] = targets
            by_user = corrected.get((to, _sha(drop.data)))
            to = by_user or to
            if to not in final:
                problems.append(f"{drop.path}: recorded at {to}, which does not exist")
            elif final[to] != drop.data:
                result.overwritten += 1
                problems.append(f"{drop.path}: {to} does not hold the bytes that were dropped")
            elif top(to) not in folders:
                problems.append(f"{drop.path}: at {to}, not in a class folder")
            elif not _renamed_from(PurePosixPath(to).name, PurePosixPath(drop.path).name):
                problems.append(f"{drop.path}: renamed to {to}")
            elif not by_user and any(o["kind"] == "sorted" and not o.get("reason", "").startswith("duplicate")
                                     and "/" + o["label"][:1].upper() + o["label"][1:] != top(to) for o in outcomes):
                problems.append(f"{drop.path}: label and folder disagree: {outcomes}")
        else:
            if final.get(drop.path) != drop.data:
                result.lost += 1
                problems.append(f"{drop.path}: a bad file did not stay in the inbox unchanged")
            if kinds != {"skipped"} or not all(o.get("reason", "").startswith(drop.reason) for o in outcomes):
                problems.append(f"{drop.path}: expected skipped ({drop.reason}), got {outcomes}")
            # Refused without downloading: asking for it and hanging up after the headers (the size
            # is in them) is fine; reading its bytes is not. What a socket buffers is under 8 MiB.
            if drop.reason == "too_large" and fake.sent_bytes[file_id] > 8 * 2**20:
                problems.append(f"{drop.path}: over the size limit, yet {fake.sent_bytes[file_id]} bytes "
                                f"of it were sent ({fake.served[file_id]} requests)")
            if drop.reason == "too_large":
                result.too_large_sent = fake.sent_bytes[file_id]

    in_inbox = {p for p in final if top(p) == INBOX}
    bad_paths = {d.path for d in drops if not d.is_photo}
    left = sorted(in_inbox - bad_paths)

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
        firsts = collections.Counter(_sha(data) for path, data in final.items() if top(path) in folders - copies)
        problems += [f"{n} photos of one content outside /{DUPLICATES_FOLDER}, not 1 (sha256 {sha[:12]})"
                     for sha, n in (want_sorted - missing).items() if firsts[sha] != 1]
    result.lost += sum(missing.values())
    result.duplicated += sum(extra.values())
    if missing:
        problems.append(f"{sum(missing.values())} photo(s) missing from the class folders")
    if extra:
        problems.append(f"{sum(extra.values())} extra cop(ies) in the class folders")

    # /status says the same, and shows the bad files with their reasons.
    status = json.loads(service.get("/status").body)
    bad = [d for d in drops if not d.is_photo]
    if status["skipped"] != len(bad):
        problems.append(f"/status skipped={status['skipped']}, expected {len(bad)}")
    placed = sum(status["sorted"].values()) + status["unsorted"]
    if placed != result.photos - len(left) or status["finished"] != len(dropped) - len(left) + status["failed"]:
        problems.append(f"/status sorted+unsorted={placed} ({status['sorted']}, unsorted {status['unsorted']}), "
                        f"finished {status['finished']}; {result.photos} photos, {len(left)} left in /All")
    result.double_counted = max(0, placed - (result.photos - len(left))) + \
        max(0, status["finished"] - len(dropped))
    if status["queue"]["waiting"] or status["queue"]["in_flight"]:
        problems.append(f"/status queue not empty: {status['queue']}")
    recent = {e["path"]: e["reason"] for e in status["recent_problems"]}
    if len(recent) < min(20, len(bad)):
        problems.append(f"/status shows {len(recent)} recent problems, expected {min(20, len(bad))}")
    for path, reason in recent.items():
        matching = [d for d in bad if d.path == path]
        if not matching and path not in explained | blocked:
            problems.append(f"/status shows a problem with {path}, which was not a bad file")
        elif matching and not reason.startswith(matching[0].reason):
            problems.append(f"/status gives {path} the reason {reason!r}, expected {matching[0].reason}")
    if len(bad) <= 20:
        problems += [f"/status does not show {d.path}" for d in bad if d.path not in recent]


def _receive_all(sqs, url: str) -> list[str]:
    bodies, seen = [], set()
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                          AttributeNames=["All"]).get("Messages"):
        for m in messages:
            if m["MessageId"] not in seen:
                seen.add(m["MessageId"])
                bodies.append(m["Body"])
    return bodies
