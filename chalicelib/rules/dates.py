"""When a photo was taken, and the date folder "by_date" files it in ("Cat/2024/", "Cat/2024-06/").

The date is the photo's EXIF DateTimeOriginal (else its EXIF DateTime), as the camera wrote it; a
photo without one is dated by the time its store gives (Dropbox's client_modified, a local file's
modification time), in UTC. Only the header is parsed (Pillow reads no pixels for getexif).
"""
from __future__ import annotations

import io
from datetime import datetime, timezone

EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 36867  # in the Exif IFD
DATE_TIME = 306  # in IFD0: when the file was last changed, by the camera or an editor
_EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"


def exif_date(data: bytes) -> datetime | None:
    """The EXIF date of a photo's bytes, or None when it has none (or none that parses)."""
    from PIL import Image  # the sorting core's only image library use: light callers never get here
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
            for value in (exif.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL), exif.get(DATE_TIME)):
                if isinstance(value, str):
                    try:
                        return datetime.strptime(value.strip("\x00 "), _EXIF_FORMAT)
                    except ValueError:
                        continue  # "0000:00:00 00:00:00" and the like: try the next
    except Exception:  # noqa: BLE001: a photo whose header Pillow cannot read is dated by its file
        return None
    return None


def date_folder(by_date: str, data: bytes, modified: float | None) -> str | None:
    """The date folder of a photo for "by_date" ("year": "2024", "month": "2024-06"), from its
    EXIF date, else `modified` (seconds since the epoch); None with "none" or no date at all."""
    if by_date == "none":
        return None
    taken = exif_date(data)
    if taken is None and modified is not None:
        taken = datetime.fromtimestamp(modified, timezone.utc)
    if taken is None:
        return None
    return f"{taken.year:04d}" if by_date == "year" else f"{taken.year:04d}-{taken.month:02d}"
