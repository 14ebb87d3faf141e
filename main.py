"""Command line: sort a local folder with the bundled model, or drive the running service.

    python main.py --classes cat dog receipt:0.6 --folder DIR [--dry-run] [--json] [--threshold X] [--duplicates folder]
                   [--inbox PATH] [--by-date year|month]
    python main.py --classes cat person --folder DIR --tag   # labels in XMP sidecars, nothing moved
    python main.py --folder DIR --undo
    python main.py --undo JOB          # the service's job: its photos back in its inbox
    python main.py --classes cat dog truck --explain
    CATEGORIZER_URL=http://host:8000 SERVICE_KEY=... python main.py --classes cat dog truck [--dry-run [--json]]

The sorting is the service's own core (chalicelib/rules/sorting.py) on a local folder
(cli/folder_photos.py); cli/ also holds the service client and the progress display. This file
parses the arguments and decides what goes to stdout and what to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from chalicelib.rules import configuration
from chalicelib.rules.configuration import (
    BY_DATE,
    DUPLICATE_POLICIES,
    DUPLICATES_FOLDER,
    INBOX,
    VIDEO_POLICIES,
    VIDEOS_FOLDER,
    ConfigError,
    SortConfig,
)
from chalicelib.rules.outcomes import DECIDED, Counts, Outcome
from chalicelib.rules.sorting import sort_batch
from chalicelib.rules.vocabulary import Resolution
from chalicelib.vision.classifier import Classifier
from cli import folder_examples
from cli.folder_examples import Teaching
from cli.folder_photos import FolderError, FolderPhotos
from cli.folder_undo import undo_last_run
from cli.progress import ProgressBar, Tally, print_preview, print_summary, rooted
from cli.service_client import Answer, Body, ServiceClient, ServiceError
from local.defaults import LOCAL_STACK_KEY, LOCAL_STACK_URL, is_local

EPILOG = f"""\
Without --folder, the running service sorts its Dropbox inbox (/All, or --inbox): its URL comes from CATEGORIZER_URL
(default {LOCAL_STACK_URL}, the local stack of `make run`) and its key from SERVICE_KEY
(default: the local stack's key, for a URL on this machine only).
Exit status: 0 done; 1 the folder or service failed, or some photos could not be moved (or put back);
2 invalid arguments or classes."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py", description="Sort photos into one folder per class.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", nargs="+", metavar="CLASS",
                        help="the classes to sort into, e.g. cat dog truck; NAME:X gives a class its own "
                             "threshold, e.g. receipt:0.6")
    parser.add_argument("--folder", type=Path, metavar="DIR",
                        help="sort DIR/All (and its subfolders), or DIR's own photos when it has no All/, "
                             "locally into DIR/<Class>/ and DIR/Unsorted/")
    parser.add_argument("--undo", nargs="?", const="", metavar="JOB",
                        help="with --folder: put every photo the last sort of DIR moved back where it was; "
                             "without: put the photos of the service's job JOB back in the inbox they came from")
    parser.add_argument("--threshold", type=float, metavar="X",
                        help="lowest score (0-1) that sorts a photo into a class; below it goes to Unsorted "
                             "(a class's own, NAME:X in --classes, comes first)")
    parser.add_argument("--duplicates", choices=DUPLICATE_POLICIES,
                        help="an exact copy of a photo already sorted: 'keep' sorts it like any photo (the "
                             f"default), 'folder' moves it to {DUPLICATES_FOLDER}/")
    parser.add_argument("--inbox", metavar="PATH",
                        help=f"the folder new photos arrive in, e.g. 'Camera Uploads' or 'Photos/Inbox' (default "
                             f"{INBOX}): DIR/PATH with --folder, the Dropbox folder /PATH for the service")
    parser.add_argument("--by-date", choices=BY_DATE[1:],
                        help="file each photo in a folder of its year (Cat/2024/) or month (Cat/2024-06/) inside "
                             "its class folder, dated by its EXIF date, else its modification time")
    parser.add_argument("--videos", choices=VIDEO_POLICIES,
                        help=f"a video on its own: 'leave' it in the inbox (the default) or 'folder' moves it to "
                             f"{VIDEOS_FOLDER}/ (into its date folder with --by-date); a Live Photo's video, a RAW "
                             "beside its JPEG and an edit's .AAE always go with their photo")
    parser.add_argument("--tag", action="store_true",
                        help="leave every photo where it is and tag it with each class above its threshold: "
                             "Dropbox tags with the service (\"ice cream\" is the tag ice_cream), an XMP "
                             "sidecar PHOTO.xmp (dc:subject, read by digiKam and darktable) with --folder")
    parser.add_argument("--dry-run", action="store_true",
                        help="say where each photo would go and move nothing (with the service: its classes "
                             "are not changed either)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per photo on stdout (with --folder, or a --dry-run of the service)")
    parser.add_argument("--explain", action="store_true", help="print what each class covers and exit")
    args = parser.parse_args(argv)
    if args.undo is not None and (args.folder is None) == (args.undo == ""):
        parser.error("--undo takes a JOB of the service, or --folder DIR without a JOB")
    if args.undo is None and not args.classes:
        parser.error("the following arguments are required: --classes")
    if args.folder is None and not args.explain and args.json and not args.dry_run:
        parser.error("--json needs --folder or --dry-run")
    return args


def class_entry(given: str) -> str | dict[str, object]:
    """A --classes word as POST /configure takes it: "cat", or "receipt:0.6" as {"name": "receipt",
    "threshold": 0.6}. A threshold that is not a number goes as given, for the validation to name."""
    if ":" not in given:
        return given
    name, threshold = given.rsplit(":", 1)
    try:
        return {"name": name, "threshold": float(threshold)}
    except ValueError:
        return {"name": name, "threshold": threshold}


def class_names(args: argparse.Namespace) -> list[str]:
    """The names of --classes, without their thresholds."""
    return [given.rsplit(":", 1)[0] for given in args.classes]


def proposal(args: argparse.Namespace) -> Body:
    """The classes and options as POST /configure takes them."""
    return {"classes": [class_entry(c) for c in args.classes], **{name: value for name, value in
                                        (("threshold", args.threshold), ("duplicates", args.duplicates),
                                         ("inbox", args.inbox), ("by_date", args.by_date), ("videos", args.videos))
                                        if value is not None}, **({"action": "tag"} if args.tag else {})}


def configure(args: argparse.Namespace, counts: Mapping[str, int] | None = None
              ) -> tuple[Classifier, SortConfig, list[Resolution]]:
    """The same validation as the service's POST /configure; raises ConfigError. A name the
    model does not know is a class when its folder holds enough examples (`counts`, by class)."""
    config = configuration.parse(proposal(args))
    classifier = Classifier.load()
    standing = {c for c, n in (counts or {}).items() if configuration.stands_by_examples(n)}
    where = {} if args.folder is None else {"root": str(args.folder).rstrip("/"), "then": "run again"}
    return classifier, config, configuration.resolve_classes(
        config, lambda name: classifier.vocabulary.resolve(name, by_examples=name in standing), **where)


def explain(args: argparse.Namespace) -> int:
    taught = folder_examples.teaching(args.folder, class_names(args), configuration.parse(proposal(args)).inbox) \
        if args.folder is not None else None
    classifier, config, resolutions = configure(args, taught.counts() if taught else None)
    for resolution in resolutions:
        print(resolution.describe() + _threshold_line(config, resolution.name, classifier.default_threshold)
              + (_examples_line(taught, resolution.name) if taught else ""))
    return 0


def _threshold_line(config: SortConfig, label: str, default: float) -> str:
    """Which score sorts a photo into the class, and whose threshold that is."""
    threshold = config.threshold_for(label)
    whose = {"class": "its own", "default": "the model's default", "configuration": "--threshold"}
    return f"; threshold {default if threshold is None else threshold:g} ({whose[config.threshold_from(label)]})"


def _examples_line(taught: Teaching, label: str) -> str:
    examples, corrections = len(taught.positives[label]), len(taught.negatives[label])
    return f"; and {examples} example(s) in its folder, {corrections} correction(s) away from it"


def record(outcome: Outcome) -> dict[str, str | float | None]:
    """One --json line: where the photo went (in a dry run, would go) and why, the same in both
    modes: paths from the top of the sorted tree ("/All/a.jpg": Dropbox's, or DIR's), the score to
    two places as the service keeps it, and a reason's code apart from its words."""
    line = {"file": rooted(outcome.file), "kind": outcome.kind, "class": outcome.label,
            "score": round(outcome.score or 0.0, 2), "by": outcome.by, "folder": outcome.destination,
            "moved_to": outcome.to_path and rooted(outcome.to_path)}
    if outcome.kind == "tagged":
        line.update(tags=",".join(outcome.tags), tags_added=",".join(outcome.added))
    if outcome.kind in ("skipped", "failed") or outcome.reason == "duplicate":
        line.update(error=outcome.reason, detail=outcome.detail)
    return line


def sort_folder(args: argparse.Namespace) -> int:
    stderr = Console(stderr=True)
    inbox = configuration.parse(proposal(args)).inbox  # a bad inbox is refused before DIR is opened
    with FolderPhotos(args.folder, inbox) as folder:
        taught = folder_examples.teaching(args.folder, class_names(args), inbox)
        # The examples whose photos could be read are those that count, as in the service (which
        # keeps only those): a class that stands on its examples has them when it sorts.
        examples = folder_examples.load(args.folder, taught, Classifier.load())
        classifier, config, _ = configure(args, {label: len(e.positives) for label, e in examples.items()})
        files = folder.find()
        if config.tags:
            tagged = folder.tagged_already(files)
            files = [f for f in files if f not in tagged]
        tally = Tally.for_config(len(files), config)
        outcomes = []
        with ProgressBar(stderr, "Checking" if args.dry_run else "Sorting", tally) as bar:
            for batch in folder.batches(files):
                for outcome in sort_batch(batch, folder, classifier, config, examples=examples, originals=folder,
                                          dry_run=args.dry_run):
                    tally.counts.add(outcome)
                    bar.update(tally)
                    outcomes.append(outcome)
                    if args.json:
                        print(json.dumps(record(outcome)), flush=True)
    title = f"Dry run of {args.folder}: nothing moved" if args.dry_run else \
        f"Tagged {args.folder} (XMP sidecars)" if config.tags else f"Sorted {args.folder}"
    report(args, tally, title, outcomes, stderr)
    if not args.dry_run and sum(tally.counts.sorted.values()) + tally.counts.unsorted:
        (stderr if args.json else Console()).print(
            f"To put these photos back where they were: {again('--folder', str(args.folder), '--undo')}",
            markup=False, highlight=False, soft_wrap=True)
    return 1 if tally.counts.failed else 0


def report(args: argparse.Namespace, tally: Tally, title: str, outcomes: list[Outcome], stderr: Console) -> None:
    """The summary, each file left in All, and for a dry run where each photo would go; with
    --json, stdout is for the JSON lines only."""
    console = stderr if args.json else Console()
    print_summary(console, tally, title, [o for o in outcomes if o.kind in ("skipped", "failed")])
    if args.dry_run and not args.json:
        print_preview(console, [o for o in outcomes if o.kind in DECIDED])


def undo_folder(args: argparse.Namespace) -> int:
    undone = undo_last_run(args.folder)
    console = Console()
    console.print(f"Put back {len(undone.put_back)} photo(s) moved by the sort of {args.folder} ({undone.run}).")
    for was, now in undone.put_back:
        console.print(f"  {was} -> {now}", markup=False, highlight=False)
    if undone.untagged:
        console.print(f"Took the labels it added off {len(undone.untagged)} photo(s)' sidecars.")
        for photo, labels in undone.untagged:
            console.print(f"  {photo}: {', '.join(labels)}", markup=False, highlight=False)
    if undone.left:
        console.print(f"Left {len(undone.left)} where they are:")
        for path, why in undone.left:
            console.print(f"  {path}: {why}", markup=False, highlight=False)
    return 1 if undone.left else 0


def service_client() -> ServiceClient:
    url = os.environ.get("CATEGORIZER_URL") or LOCAL_STACK_URL
    return ServiceClient(url, os.environ.get("SERVICE_KEY") or (LOCAL_STACK_KEY if is_local(url) else None))


def undo_job(args: argparse.Namespace) -> int:
    console = Console()
    try:
        answer = service_client().undo(args.undo)
    except ServiceError as e:
        if e.status == 409 and e.detail and "already undone" in e.detail:
            console.print(f"Nothing to do: {e.detail}", markup=False)  # the user's wish holds already
            return 0
        raise
    console.print(f"Put back {answer['moved_back']} photo(s) of job {args.undo} in the inbox.", markup=False)
    if answer.get("untagged"):
        console.print(f"Took the tags it added off {answer['untagged']} photo(s).", markup=False)
    if answer["left"]:
        console.print(f"Left {len(answer['left'])} where they are:")
        for left in answer["left"]:
            console.print(f"  {left.get('path')}: {left.get('reason')}", markup=False, highlight=False)
    return 1 if answer["left"] else 0


def sort_via_service(args: argparse.Namespace) -> int:
    """Configure the service and sort its inbox; a dry run only asks where each photo would go with
    these classes (the service keeps its own). A body the service would refuse as it stands (a class's
    threshold that is not a number between 0 and 1...) is refused here first, as it would be."""
    inbox = "/" + configuration.parse(proposal(args)).inbox
    client = service_client()
    if not args.dry_run:
        client.configure(proposal(args))
    job_id, total = client.start_sort(proposal(args) if args.dry_run else None)
    tally = Tally.for_config(total, SortConfig(tuple(class_names(args)), action="tag" if args.tag else "move"))
    stderr = Console(stderr=True)
    job: Answer = {}
    with ProgressBar(stderr, "Checking" if args.dry_run else "Sorting", tally) as bar:
        for job in client.follow(job_id):
            tally.total, tally.counts = job["total"], Counts.from_dict(job)
            bar.update(tally)
    outcomes = [_left(f) for f in job.get("left", [])] + [_previewed(p) for p in job.get("preview", [])]
    if args.json:
        for outcome in outcomes:
            print(json.dumps(record(outcome)), flush=True)
    title = f"Dry run of Dropbox {inbox} (job {job_id}): nothing moved" if args.dry_run \
        else f"Tagged Dropbox {inbox} (job {job_id})" if args.tag else f"Sorted Dropbox {inbox} (job {job_id})"
    report(args, tally, title, outcomes, stderr)
    if not args.dry_run and sum(tally.counts.sorted.values()) + tally.counts.tagged_photos + tally.counts.unsorted:
        what = "take these tags off" if args.tag else f"put these photos back in {inbox}"
        Console().print(f"To {what}: {again('--undo', job_id)}", markup=False, highlight=False, soft_wrap=True)
    return 1 if tally.counts.failed else 0


def again(*argv: str) -> str:
    """This command line again with other arguments, as the user can paste it: the same Python
    (".venv/bin/python" when run from the project) and the same main.py."""
    python = os.path.relpath(sys.executable) if Path(sys.executable).is_relative_to(Path.cwd()) else sys.executable
    return shlex.join([python, sys.argv[0] or "main.py", *argv])


def _left(file: Answer) -> Outcome:
    """A file the job left in the inbox; the service says why in one line, "corrupt: the image ..."."""
    reason, _, detail = str(file.get("reason") or "").partition(": ")
    return Outcome(str(file.get("path")), file.get("kind", "skipped"), reason=reason or None, detail=detail or None)


def _previewed(photo: Answer) -> Outcome:
    """A dry run's photo, as the service says where it would go (`to`: its folder, and a date folder in it)."""
    dated = str(photo.get("to", "")).strip("/").split("/")[1:-1] if photo.get("folder") else []
    return Outcome(str(photo.get("path")), photo.get("kind", "sorted"), folder=photo.get("folder") or None,
                   label=photo.get("class"), score=photo.get("score"), by=photo.get("by"),
                   reason=photo.get("reason"), detail=photo.get("detail"), date_folder="/".join(dated) or None,
                   added=tuple(photo.get("tags") or ()))


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
