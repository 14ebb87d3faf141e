"""What a class about pages or screens asks of the text in a photo ("screenshot": lines of text
on a screen capture; "document": lines of text on a page). Light on purpose, like face_rules.py:
/configure describes these rules without loading numpy or the model."""
from __future__ import annotations

from dataclasses import dataclass

# A capture of a screen: its few most common colours cover at least this share of it.
FLAT = 0.5
# The shape of a sheet of paper, height over width: A4 is 1.41, US letter 1.29.
PAPER = (1.2, 1.5)


@dataclass(frozen=True)
class Text:
    lines: int      # bands of text rows the detector found
    share: float    # share of the photo that is text
    flat: float     # share of the photo in its few most common colours
    camera: bool    # the EXIF names a camera
    aspect: float   # height / width

    @property
    def screen(self) -> bool:
        """Made by a computer, not a camera: flat colours, and no camera in the EXIF."""
        return self.flat >= FLAT and not self.camera

    @property
    def paper(self) -> bool:
        return PAPER[0] <= self.aspect <= PAPER[1]


@dataclass(frozen=True)
class TextRule:
    """How many lines of text, and on what: a screen capture (True) or a page (False). A page
    made by a computer (a rendered PDF: flat, the shape of paper) may ask for fewer lines than a
    photo or scan, whose few lines may be a sign or a logo: a title page has two or three."""

    min_lines: int
    screen: bool
    min_lines_on_paper: int | None = None

    def score(self, text: Text | None) -> float:
        """0.5 at the fewest lines asked for on the right kind of image, up to 1 at four times as
        many; else 0. A computer-made image the shape of paper is a page, not a screen."""
        if text is None or (text.screen and not text.paper) != self.screen:
            return 0.0
        fewest = self.min_lines
        if text.screen and text.paper and self.min_lines_on_paper is not None:
            fewest = self.min_lines_on_paper
        if text.lines < fewest:
            return 0.0
        return 0.5 + 0.5 * min(1.0, (text.lines - fewest) / (3 * fewest))

    def describe(self) -> str:
        if self.screen:
            return (f"the text detector finds {self.min_lines} or more lines of text on a screen capture "
                    "(flat colours, no camera in the EXIF, not the shape of paper)")
        paper = f", or {self.min_lines_on_paper} on a computer-made page the shape of paper" \
            if self.min_lines_on_paper is not None else ""
        return f"the text detector finds {self.min_lines} or more lines of text on a photo or scan{paper}"
