"""The command line's live progress bar and summary table (rich), shared by local and service mode.

Command-line only: the Lambda never imports this, so rich stays out of requirements.txt.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Table
from rich.text import Text

from chalicelib.rules.configuration import DEFAULT_UNSORTED_FOLDER, SortConfig
from chalicelib.rules.outcomes import Counts, Outcome


@dataclass
class Tally:
    """Progress of one sort: `total` photos, of which `counts` are finished. `folders` are the class
    folders in the order the user gave them, so an empty class shows as 0 rather than missing."""

    total: int
    counts: Counts = field(default_factory=Counts)
    folders: Sequence[str] = ()
    unsorted_folder: str = DEFAULT_UNSORTED_FOLDER
    tags: bool = False  # "action": "tag": counts of tags, not of folders

    @classmethod
    def for_config(cls, total: int, config: SortConfig) -> "Tally":
        return cls(total, Counts(), [config.folder_for(c) for c in config.classes], config.folder_for(None),
                   config.tags)

    @property
    def done(self) -> int:
        return self.counts.finished

    def by_folder(self) -> dict[str, int]:
        return {**{folder: 0 for folder in self.folders}, **self.counts.sorted}

    def line(self) -> str:
        counts = self.counts
        parts = [f"{folder} {n}" for folder, n in self.by_folder().items()] if not self.tags else \
            [f"tagged {name} {n}" for name, n in {**{f: 0 for f in self.folders}, **counts.tagged}.items()]
        parts.append(f"{'untagged' if self.tags else self.unsorted_folder} {counts.unsorted}")
        parts += [f"{what} {n}" for what, n in
                  (("skipped", counts.skipped), ("failed", counts.failed), ("gone", counts.gone)) if n]
        return " · ".join(parts)


class _RateColumn(ProgressColumn):
    """Photos per second and time left, averaged since the start.

    Not rich's own speed, which samples updates: a batch of 16 results arriving at once would
    read as thousands of photos per second.
    """

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        if not task.completed or elapsed <= 0:
            return Text("- photos/s  ETA -:--:--", style="progress.data.speed")
        rate = task.completed / elapsed
        left = max((task.total or 0) - task.completed, 0) / rate
        return Text(f"{rate:.1f} photos/s  ETA {timedelta(seconds=round(left))}", style="progress.data.speed")


class _BarAndCounts(Progress):
    """The bar on one line and the per-folder counts on the next, so neither is squeezed on a
    narrow terminal (a single line needs ~150 columns with five classes)."""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            yield Text(task.fields.get("counts", ""), overflow="fold")


class ProgressBar:
    """Live bar on `console` (stderr): done/total, rate, ETA and the per-folder counts.

    Drawn only on a terminal; piped or captured, stderr stays quiet until the summary.
    """

    def __init__(self, console: Console, description: str, tally: Tally):
        # No stdout redirection: --json lines must reach stdout, not the bar's console.
        self._progress = _BarAndCounts(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
            console=console, disable=not console.is_terminal,
            redirect_stdout=False, redirect_stderr=False)
        self._task = self._progress.add_task(description, total=tally.total, completed=tally.done,
                                             counts=tally.line())

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, tally: Tally) -> None:
        self._progress.update(self._task, total=tally.total, completed=tally.done, counts=tally.line())


def print_summary(console: Console, tally: Tally, title: str, problems: Sequence[Outcome] = ()) -> None:
    """Photos per folder, then each photo left in All and why."""
    counts = tally.counts
    table = Table(title=title, title_justify="left")
    table.add_column("Folder")
    table.add_column("Photos", justify="right")
    if tally.tags:
        for name, n in {**{f: 0 for f in tally.folders}, **counts.tagged}.items():
            table.add_row(f"tagged {name}", str(n))
        table.add_row("tagged (photos)", str(counts.tagged_photos))
        table.add_row("untagged: no class above its threshold", str(counts.unsorted))
    else:
        for folder, n in tally.by_folder().items():
            table.add_row(folder, str(n))
        table.add_row(tally.unsorted_folder, str(counts.unsorted))
    table.add_row("left in All: not usable photos", str(counts.skipped))
    table.add_row("left in All: failed", str(counts.failed))
    if counts.gone:
        table.add_row("gone before sorting", str(counts.gone))
    table.add_row("total", f"{tally.done} of {tally.total}", style="bold")
    console.print(table)
    if problems:
        left = Table(title="Left in All", title_justify="left")
        left.add_column("File", overflow="fold")
        left.add_column("Reason", overflow="fold")
        for outcome in problems:
            left.add_row(rooted(outcome.file), outcome.why or outcome.kind)
        console.print(left)


def rooted(path: str) -> str:
    """A path from the top of the sorted tree, as both modes show it: "/All/a.jpg" (Dropbox's, or DIR's)."""
    return "/" + path.lstrip("/")


def print_preview(console: Console, outcomes: Sequence[Outcome]) -> None:
    """A dry run's photos: where each would go, with the class and score that decided it."""
    table = Table(title="Where each photo would go", title_justify="left")
    table.add_column("File", overflow="fold")
    table.add_column("Would go to", overflow="fold")
    table.add_column("Class and score", overflow="fold")
    for outcome in outcomes:
        decided = f"{outcome.label or 'no class'} {outcome.score or 0.0:.2f}"
        if outcome.reason == "duplicate":
            decided += f"; {outcome.detail}"
        where = f"/{outcome.destination}/{outcome.file.rsplit('/', 1)[-1]}" if outcome.folder else \
            f"stays, tagged {', '.join(outcome.added)}" if outcome.kind == "tagged" else "stays, untagged"
        table.add_row(rooted(outcome.file), where, decided)
    console.print(table)
