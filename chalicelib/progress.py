"""The command line's live progress bar and summary table (rich), shared by local and service mode.

Command-line only: the Lambda never imports this, so rich stays out of requirements.txt.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task,
                           TextColumn)
from rich.table import Table
from rich.text import Text

from .class_config import SortConfig
from .folder_sorter import SortResult


@dataclass
class Tally:
    """Counts with the shape of the service's GET /jobs/{id}; `sorted` maps folder -> photos."""

    total: int
    done: int = 0
    sorted: dict[str, int] = field(default_factory=dict)
    unsorted: int = 0
    skipped: int = 0
    failed: int = 0
    gone: int = 0  # service only: deleted or moved away in Dropbox before it was sorted
    unsorted_folder: str = "Unsorted"

    @classmethod
    def for_config(cls, total: int, config: SortConfig) -> "Tally":
        # Every class is listed, so an empty class shows as 0 rather than missing.
        return cls(total, sorted={_folder(config, c): 0 for c in config.classes},
                   unsorted_folder=_folder(config, None))

    @classmethod
    def from_job(cls, job: Mapping) -> "Tally":
        return cls(int(job["total"]), int(job["done"]), dict(job["sorted"]), int(job["unsorted"]),
                   int(job["skipped"]), int(job["failed"]), int(job.get("gone", 0)))

    def add(self, result: SortResult, config: SortConfig) -> None:
        self.done += 1
        if result.failed:
            self.failed += 1
        elif result.error:
            self.skipped += 1
        elif result.label is None:
            self.unsorted += 1
        else:
            folder = _folder(config, result.label)
            self.sorted[folder] = self.sorted.get(folder, 0) + 1

    def counts(self) -> str:
        parts = [f"{folder} {n}" for folder, n in self.sorted.items()]
        parts.append(f"{self.unsorted_folder} {self.unsorted}")
        parts += [f"{what} {n}" for what, n in
                  (("skipped", self.skipped), ("failed", self.failed), ("gone", self.gone)) if n]
        return " · ".join(parts)


def _folder(config: SortConfig, label: str | None) -> str:
    return config.folder_for(label).lstrip("/")


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

    def get_renderables(self):
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
                                             counts=tally.counts())

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def update(self, tally: Tally) -> None:
        self._progress.update(self._task, total=tally.total, completed=tally.done, counts=tally.counts())


def print_summary(console: Console, tally: Tally, title: str,
                  problems: Sequence[SortResult] = ()) -> None:
    """Photos per folder, then each photo left in All and why."""
    table = Table(title=title, title_justify="left")
    table.add_column("Folder")
    table.add_column("Photos", justify="right")
    for folder, n in tally.sorted.items():
        table.add_row(folder, str(n))
    table.add_row(tally.unsorted_folder, str(tally.unsorted))
    table.add_row("left in All: not usable photos", str(tally.skipped))
    table.add_row("left in All: failed", str(tally.failed))
    if tally.gone:
        table.add_row("gone before sorting", str(tally.gone))
    table.add_row("total", f"{tally.done} of {tally.total}", style="bold")
    console.print(table)
    if problems:
        left = Table(title="Left in All", title_justify="left")
        left.add_column("File", overflow="fold")
        left.add_column("Reason", overflow="fold")
        for result in problems:
            left.add_row(result.file, f"{result.error}: {result.detail}")
        console.print(left)
