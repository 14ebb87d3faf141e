"""Command line: sort a local folder with the bundled model, or drive the running service.

    python main.py --classes cat dog truck --folder DIR [--dry-run] [--json] [--threshold X]
    python main.py --folder DIR --undo
    python main.py --undo JOB          # the service's job: its photos back in /All
    python main.py --classes cat dog truck --explain
    CATEGORIZER_URL=http://host:8000 SERVICE_KEY=... python main.py --classes cat dog truck

The sorting is the service's own core (chalicelib/sorting.py) on a local folder
(cli/folder_photos.py); cli/ also holds the service client and the progress display. This file
parses the arguments and decides what goes to stdout and what to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console

from chalicelib import sort_config
from chalicelib.classifier import Classifier
from chalicelib.outcomes import Counts, Outcome
from chalicelib.sort_config import MIN_EXAMPLES, ConfigError, SortConfig
from chalicelib.sorting import sort_batch
from chalicelib.vocabulary import Resolution
from cli import folder_examples
from cli.folder_examples import Teaching
from cli.folder_photos import FolderError, FolderPhotos
from cli.folder_undo import undo_last_run
from cli.progress import ProgressBar, Tally, print_summary
from cli.service_client import ServiceClient, ServiceError
from local.defaults import LOCAL_STACK_KEY, LOCAL_STACK_URL, is_local

EPILOG = f"""\
Without --folder, the running service sorts Dropbox /All: its URL comes from CATEGORIZER_URL
(default {LOCAL_STACK_URL}, the local stack of `make run`) and its key from SERVICE_KEY
(default: the local stack's key, for a URL on this machine only).
Exit status: 0 done; 1 the folder or service failed, or some photos could not be moved (or put back);
2 invalid arguments or classes."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py", description="Sort photos into one folder per class.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="+", metavar="CLASS",
                        help="the classes to sort into, e.g. cat dog truck")
    parser.add_argument("--folder", type=Path, metavar="DIR",
                        help="sort DIR/All (and its subfolders), or DIR's own photos when it has no All/, "
                             "locally into DIR/<Class>/ and DIR/Unsorted/")
    parser.add_argument("--undo", nargs="?", const="", metavar="JOB",
                        help="with --folder: put every photo the last sort of DIR moved back where it was; "
                             "without: put the photos of the service's job JOB back in /All")
    parser.add_argument("--threshold", type=float, metavar="X",
                        help="lowest score (0-1) that sorts a photo into a class; below it goes to Unsorted")
    parser.add_argument("--dry-run", action="store_true", help="classify, but move nothing (--folder only)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per photo on stdout (--folder only)")
    parser.add_argument("--explain", action="store_true", help="print what each class covers and exit")
    args = parser.parse_args(argv)
    if args.undo is not None and (args.folder is None) == (args.undo == ""):
        parser.error("--undo takes a JOB of the service, or --folder DIR without a JOB")
    if args.undo is None and not args.classes:
        parser.error("the following arguments are required: --classes")
    if args.folder is None and not args.explain and (args.dry_run or args.json):
        parser.error("--dry-run and --json need --folder")
    return args


def configure(args: argparse.Namespace, taught: Teaching | None = None
              ) -> tuple[Classifier, SortConfig, list[Resolution]]:
    """The same validation as the service's POST /configure; raises ConfigError. A name the
    model does not know is a class when its folder holds enough examples."""
    classifier = Classifier.load()
    standing = {c for c, n in (taught.counts() if taught else {}).items() if n >= MIN_EXAMPLES}
    config, resolutions = sort_config.parse(
        {"classes": args.classes, "threshold": args.threshold},
        lambda name: classifier.vocabulary.resolve(name, by_examples=name in standing))
    return classifier, config, resolutions


def explain(args: argparse.Namespace) -> int:
    taught = folder_examples.teaching(args.folder, args.classes) if args.folder is not None else None
    for resolution in configure(args, taught)[2]:
        print(resolution.describe() + (_examples_line(taught, resolution.name) if taught else ""))
    return 0


def _examples_line(taught: Teaching, label: str) -> str:
    examples, corrections = len(taught.positives[label]), len(taught.negatives[label])
    return f"; and {examples} example(s) in its folder, {corrections} correction(s) away from it"


def record(outcome: Outcome) -> dict:
    """One --json line: where the photo went and why."""
    line = {"file": outcome.file, "kind": outcome.kind, "class": outcome.label, "score": outcome.score or 0.0,
            "by": outcome.by, "moved_to": outcome.to_path}
    if outcome.kind in ("skipped", "failed"):
        line.update(error=outcome.reason, detail=outcome.detail)
    return line


def sort_folder(args: argparse.Namespace) -> int:
    stderr = Console(stderr=True)
    with FolderPhotos(args.folder) as folder:
        taught = folder_examples.teaching(args.folder, args.classes)
        classifier, config, _ = configure(args, taught)
        examples = folder_examples.load(args.folder, taught, classifier)
        files = folder.find()
        tally = Tally.for_config(len(files), config)
        problems = []
        with ProgressBar(stderr, "Checking" if args.dry_run else "Sorting", tally) as bar:
            for batch in folder.batches(files):
                for outcome in sort_batch(batch, folder, classifier, config, examples=examples,
                                          dry_run=args.dry_run):
                    tally.counts.add(outcome)
                    bar.update(tally)
                    if outcome.kind in ("skipped", "failed"):
                        problems.append(outcome)
                    if args.json:
                        print(json.dumps(record(outcome)), flush=True)
    title = f"Dry run of {args.folder}: nothing moved" if args.dry_run else f"Sorted {args.folder}"
    # With --json, stdout is for the JSON lines only.
    print_summary(stderr if args.json else Console(), tally, title, problems)
    return 1 if tally.counts.failed else 0


def undo_folder(args: argparse.Namespace) -> int:
    undone = undo_last_run(args.folder)
    console = Console()
    console.print(f"Put back {len(undone.put_back)} photo(s) moved by the sort of {args.folder} ({undone.run}).")
    for was, now in undone.put_back:
        console.print(f"  {was} -> {now}", markup=False, highlight=False)
    if undone.left:
        console.print(f"Left {len(undone.left)} where they are:")
        for path, why in undone.left:
            console.print(f"  {path}: {why}", markup=False, highlight=False)
    return 1 if undone.left else 0


def service_client() -> ServiceClient:
    url = os.environ.get("CATEGORIZER_URL") or LOCAL_STACK_URL
    return ServiceClient(url, os.environ.get("SERVICE_KEY") or (LOCAL_STACK_KEY if is_local(url) else None))


def undo_job(args: argparse.Namespace) -> int:
    answer = service_client().undo(args.undo)
    console = Console()
    console.print(f"Put back {answer['moved_back']} photo(s) of job {args.undo} in /All.", markup=False)
    if answer["left"]:
        console.print(f"Left {len(answer['left'])} where they are:")
        for left in answer["left"]:
            console.print(f"  {left.get('path')}: {left.get('reason')}", markup=False, highlight=False)
    return 1 if answer["left"] else 0


def sort_via_service(args: argparse.Namespace) -> int:
    client = service_client()
    client.configure(args.classes, args.threshold)
    job_id, total = client.start_sort()
    tally = Tally.for_config(total, SortConfig(tuple(args.classes)))
    left: list[dict] = []
    with ProgressBar(Console(stderr=True), "Sorting", tally) as bar:
        for job in client.follow(job_id):
            tally.total, tally.counts, left = job["total"], Counts.from_dict(job), job.get("left", [])
            bar.update(tally)
    console = Console()
    problems = [Outcome(str(f.get("path")), f.get("kind", "skipped"), reason=f.get("reason")) for f in left]
    print_summary(console, tally, f"Sorted Dropbox /All (job {job_id})", problems)
    if sum(tally.counts.sorted.values()) + tally.counts.unsorted:
        console.print(f"To put these photos back in /All: python main.py --undo {job_id}", markup=False)
    return 1 if tally.counts.failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.explain:
            return explain(args)
        if args.undo is not None:
            return undo_folder(args) if args.folder is not None else undo_job(args)
        return sort_folder(args) if args.folder is not None else sort_via_service(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (ServiceError, FolderError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
