"""Thumbnail versus full download for the classify step: bytes transferred, and do the decisions agree?

Usage:  .venv/bin/python bench/bandwidth.py [--verbose]

Every sample photo (local/sample_photos.py PHOTOS) as its 8 variants() (JPEG q90/q70, mirrored,
smaller, PNG, WebP, EXIF-rotated, cropped) plus a 12 MP upscaled JPEG, 90 files, goes into the fake
Dropbox. Each is fetched both ways through the app's own DropboxStore (real SDK over HTTPS):
  - full:      files/download (what CLASSIFY_SOURCE=download classifies),
  - thumbnail: files/get_thumbnail_v2, w256h256, fitone_bestfit, JPEG (DropboxStore.thumbnail,
               what CLASSIFY_SOURCE=thumbnail classifies),
and classified with the scenario classes (SCENARIO_CLASSES) at the default threshold. Printed: bytes
per source, the agreement of the thumbnail's decision (label, or unsorted) with the full download's,
the accuracy of each against SCENARIO_EXPECTED, and the classifier time per source.

The fake makes its thumbnails with Pillow (LANCZOS, JPEG quality 75), not with Dropbox's own
resizer and encoder: sizes and agreement with real Dropbox thumbnails will differ somewhat.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _harness as h  # noqa: E402

PORT_HOLD, PORT = h.prepare_environment()
BATCH = 10
NOTE = ("NOTE: the thumbnails come from the fake Dropbox (local/dropbox_emulator/), which makes them "
        "with Pillow (LANCZOS, JPEG q75), not Dropbox's own thumbnailer.")


def label(decision) -> str:
    if not hasattr(decision, "label"):
        return f"error:{getattr(decision, 'reason', type(decision).__name__)}"
    return decision.label or "(unsorted)"


def png_thumbnail(store, file_id: str) -> bytes:
    """What-if: the same thumbnail as PNG (DropboxStore.thumbnail asks for JPEG; the SDK is called
    directly here, through the store's own client, so the app is not edited)."""
    from dropbox import files

    _, response = store._dbx.files_get_thumbnail_v2(
        files.PathOrLink.path(file_id), format=files.ThumbnailFormat.png, size=files.ThumbnailSize.w256h256,
        mode=files.ThumbnailMode.fitone_bestfit)
    with response:
        return response.content


def timed_decisions(classifier, photos: list[bytes], classes: list[str]) -> tuple[list, float]:
    start = time.perf_counter()
    decisions = [d for i in range(0, len(photos), BATCH)
                 for d in classifier.classify_batch(photos[i:i + BATCH], classes)]
    return decisions, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verbose", action="store_true", help="one row per file")
    args = parser.parse_args()

    h.quiet_logging()
    from chalicelib.adapters.dropbox_store import DropboxStore
    from chalicelib.vision.classifier import Classifier
    from local.dropbox_emulator import FakeDropbox
    from local.sample_photos import SCENARIO_CLASSES, SCENARIO_EXPECTED

    h.say(h.machine())
    pool = h.photo_pool(upscaled=(12,))
    h.say(f"photos: {h.mix_summary(pool)}; classes: {', '.join(SCENARIO_CLASSES)}")

    PORT_HOLD.close()
    with tempfile.TemporaryDirectory(prefix="bandwidth-", dir=h.cache_dir()) as workdir, \
            FakeDropbox(Path(workdir), port=PORT) as fake:
        store = DropboxStore(fake.app_key, fake.app_secret, fake.refresh_token, ca_certs=fake.ca_path, timeout=60)
        full, thumbs, pngs = [], [], []
        for i, photo in enumerate(pool):
            file_id = fake.put(f"/All/{i:03d}-{photo.name}-{photo.kind}.{photo.ext}", photo.read())
            full.append(store.download(file_id, max_bytes=50 * 2**20))
            thumbs.append(store.thumbnail(file_id))
            pngs.append(png_thumbnail(store, file_id))

    classifier = Classifier.load()
    classifier.classify_batch(full[:BATCH], SCENARIO_CLASSES)  # warm-up
    full_decisions, full_seconds = timed_decisions(classifier, full, SCENARIO_CLASSES)
    thumb_decisions, thumb_seconds = timed_decisions(classifier, thumbs, SCENARIO_CLASSES)
    png_decisions, png_seconds = timed_decisions(classifier, pngs, SCENARIO_CLASSES)

    rows = []
    for photo, f, t, fd, td in zip(pool, full, thumbs, full_decisions, thumb_decisions):
        expected = SCENARIO_EXPECTED[photo.name] or "(unsorted)"
        rows.append({"photo": photo, "full_bytes": len(f), "thumb_bytes": len(t), "full": label(fd),
                     "thumb": label(td), "full_score": getattr(fd, "score", float("nan")),
                     "thumb_score": getattr(td, "score", float("nan")), "expected": expected})

    def summary(group_of) -> list[list[str]]:
        groups = defaultdict(list)
        for r in rows:
            groups[group_of(r)].append(r)
        out = []
        for key, members in groups.items():
            fb = sum(r["full_bytes"] for r in members)
            tb = sum(r["thumb_bytes"] for r in members)
            agree = sum(r["full"] == r["thumb"] for r in members)
            out.append([key, len(members), f"{fb / len(members) / 1e3:.0f}", f"{tb / len(members) / 1e3:.1f}",
                        f"{fb / tb:.1f}x", f"{agree}/{len(members)}",
                        f"{sum(r['full'] == r['expected'] for r in members)}/{len(members)}",
                        f"{sum(r['thumb'] == r['expected'] for r in members)}/{len(members)}"])
        return out

    headers = ["", "files", "full KB", "thumb KB", "saved", "agree", "full right", "thumb right"]
    h.say("\n== by variant (mean KB per file)")
    h.say(h.table(["variant", *headers[1:]], summary(lambda r: r["photo"].kind)))
    h.say("\n== by photo (right = SCENARIO_EXPECTED)")
    h.say(h.table(["photo (expected)", *headers[1:]],
                  summary(lambda r: f"{r['photo'].name} ({r['expected']})")))

    disagreements = [r for r in rows if r["full"] != r["thumb"]]
    if args.verbose:
        shown, title = rows, "every file"
    else:
        shown, title = disagreements, "files where the thumbnail's decision differs"
    h.say(f"\n== {title}")
    if shown:
        h.say(h.table(["file", "full KB", "thumb KB", "full decision", "thumb decision", "expected"], [
            [f"{r['photo'].name} {r['photo'].kind}", f"{r['full_bytes'] / 1e3:.0f}", f"{r['thumb_bytes'] / 1e3:.1f}",
             f"{r['full']} {r['full_score']:.2f}", f"{r['thumb']} {r['thumb_score']:.2f}", r["expected"]]
            for r in shown], "<>><<<"))
    else:
        h.say("(none)")

    n = len(rows)
    png_total = sum(len(p) for p in pngs)
    png_agree = sum(label(p) == r["full"] for p, r in zip(png_decisions, rows))
    png_right = sum(label(p) == r["expected"] for p, r in zip(png_decisions, rows))
    full_total = sum(r["full_bytes"] for r in rows)
    thumb_total = sum(r["thumb_bytes"] for r in rows)
    agree = n - len(disagreements)
    h.say("\n== totals")
    h.say(h.table(["", "full download", "thumbnail (JPEG)", "thumb / full", "what-if: PNG thumb", "PNG / full"], [
        ["bytes transferred (payload)", f"{full_total / 1e6:.2f} MB", f"{thumb_total / 1e6:.2f} MB",
         f"{100 * thumb_total / full_total:.1f} %", f"{png_total / 1e6:.2f} MB", f"{100 * png_total / full_total:.1f} %"],
        ["agrees with the full download", f"{n}/{n}", f"{agree}/{n}", f"{100 * agree / n:.1f} %",
         f"{png_agree}/{n}", f"{100 * png_agree / n:.1f} %"],
        ["decisions right (SCENARIO_EXPECTED)", f"{sum(r['full'] == r['expected'] for r in rows)}/{n}",
         f"{sum(r['thumb'] == r['expected'] for r in rows)}/{n}", "", f"{png_right}/{n}", ""],
        ["classify time, batches of 10", f"{full_seconds:.2f} s", f"{thumb_seconds:.2f} s",
         f"{100 * thumb_seconds / full_seconds:.0f} %", f"{png_seconds:.2f} s", f"{100 * png_seconds / full_seconds:.0f} %"],
    ], "<>>>>>"))
    h.say(f"agreement of the thumbnail's decision (JPEG, as the app asks) with the full download's: "
          f"{agree}/{n} = {100 * agree / n:.1f} %")
    h.say(NOTE)


if __name__ == "__main__":
    main()
