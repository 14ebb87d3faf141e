"""Learning traffic: what 1000 user corrections cost the service, beside sorting the same 1000 photos.

Usage:  .venv/bin/python -m bench.corrections [--photos 1000] [--per-notification 50]

The service runs in this process as in the tests (Chalice's test client, moto, the fake Dropbox
over HTTPS, the SQS event source). Two phases on the same photos, each counted alone:
  1. sorting (the baseline): N distinct photos (local/soak.py's) are dropped into /All,
  2. corrections: the user moves every sorted photo into another class folder,
with one webhook notification per --per-notification changes (Dropbox groups changes, so real
notifications are fewer). Printed per phase: webhook calls, Dropbox API calls by route and bytes
downloaded, SQS messages handled, DynamoDB calls by operation, wall time; then per photo, and
corrections over sorting as a ratio.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _harness as h  # noqa: E402

from chalicelib.rules.configuration import folder_name  # noqa: E402

PORT_HOLD, PORT = h.prepare_environment()


class AwsCalls:
    """Every DynamoDB and SQS call this process makes, by operation (a botocore before-send hook,
    registered ahead of moto's, that answers nothing)."""

    def __init__(self) -> None:
        self.by_operation: collections.Counter = collections.Counter()
        self._lock = threading.Lock()

    def install(self) -> "AwsCalls":
        import boto3
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION._session.get_component("event_emitter")
        for service in ("dynamodb", "sqs"):
            events.register_first(f"before-send.{service}", self._count)
        return self

    def _count(self, request, **kwargs) -> None:
        target = (request.headers.get("X-Amz-Target") or b"").decode().rsplit(".", 1)[-1]
        with self._lock:
            self.by_operation[target or "?"] += 1


@dataclass
class Phase:
    name: str
    photos: int
    webhooks: int
    dropbox: collections.Counter
    downloaded: int
    messages: int
    aws: collections.Counter
    seconds: float


def run_phase(name: str, service, fake, aws: AwsCalls, handled: list[int], changes: list, every: int) -> Phase:
    """Make each change (a callable on the fake), notify after every `every` of them, drain the queue."""
    fake.counters.clear()
    aws.by_operation.clear()
    handled[0] = 0
    webhooks = 0
    start = time.perf_counter()
    for i in range(0, len(changes), every):
        for change in changes[i:i + every]:
            change()
        service.notify()
        webhooks += 1
        service.source.drain(timeout=600)
    service.source.drain(timeout=600)
    return Phase(name, len(changes), webhooks, collections.Counter(fake.counters.calls),
                 sum(fake.counters.sent_bytes.values()), handled[0], collections.Counter(aws.by_operation),
                 time.perf_counter() - start)


def elsewhere(path: str, classes: list[str]) -> str:
    """The user's correction of a sorted photo: into the next class's folder (out of /Unsorted: the first)."""
    folder, name = path.rsplit("/", 1)
    folders = [f"/{folder_name(c)}" for c in classes]
    target = folders[(folders.index(folder) + 1) % len(folders)] if folder in folders else folders[0]
    return f"{target}/{name}"


def report(phases: list[Phase]) -> str:
    rows = []
    for p in phases:
        rows.append([p.name, p.photos, p.webhooks, sum(p.dropbox.values()), f"{p.downloaded / 1e6:.1f}",
                     p.messages, sum(p.aws.values()), f"{p.seconds:.0f}",
                     f"{sum(p.dropbox.values()) / p.photos:.2f}", f"{p.messages / p.photos:.2f}",
                     f"{sum(p.aws.values()) / p.photos:.2f}", f"{1000 * p.seconds / p.photos:.0f}"])
    lines = [h.table(["phase", "photos", "webhooks", "dropbox calls", "MB down", "sqs messages", "aws calls", "s",
                      "dropbox/photo", "messages/photo", "aws/photo", "ms/photo"], rows)]
    for p in phases:
        lines.append(f"{p.name}: dropbox {dict(p.dropbox.most_common())}")
        lines.append(f"{p.name}: aws {dict(p.aws.most_common())}")
    base, learn = phases
    lines.append("corrections / sorting: " + ", ".join(
        f"{what} {mine / theirs:.2f}x" for what, mine, theirs in [
            ("dropbox calls", sum(learn.dropbox.values()), sum(base.dropbox.values())),
            ("bytes down", learn.downloaded, base.downloaded),
            ("sqs messages", learn.messages, base.messages),
            ("aws calls", sum(learn.aws.values()), sum(base.aws.values())),
            ("wall time", learn.seconds, base.seconds)] if theirs))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--per-notification", type=int, default=50)
    args = parser.parse_args()
    h.quiet_logging()

    from moto import mock_aws

    from local import soak
    from local.dropbox_emulator import FakeDropbox
    from local.in_process import running_service

    photos = [soak.photo(i) for i in range(args.photos)]
    with tempfile.TemporaryDirectory(prefix="bench-corrections-") as root, mock_aws():
        aws = AwsCalls().install()
        PORT_HOLD.close()
        with FakeDropbox(Path(root), port=PORT) as fake, running_service(fake) as service:
            handled = [0]
            invoke = service.source._handler

            def counting(event: dict) -> object:
                handled[0] += len(event["Records"])
                return invoke(event)
            service.source._handler = counting
            service.configure(soak.CLASSES)
            drops = [lambda i=i, ext=ext, data=data: fake.put(f"/All/IMG_{i:05d}.{ext}", data)
                     for i, (ext, data) in enumerate(photos)]
            sorting = run_phase("sorting", service, fake, aws, handled, drops, args.per_notification)
            moves = [lambda p=p: fake.user_move(p, elsewhere(p, soak.CLASSES))
                     for p in sorted(fake.files("/")) if not p.startswith("/All/")]
            learning = run_phase("corrections", service, fake, aws, handled, moves, args.per_notification)
            learned = json.loads(service.get("/status").body)["learned"]
    print(h.machine())
    print(f"{args.photos} photos, one notification per {args.per_notification} changes")
    print(report([sorting, learning]))
    print("learned (GET /status): " + ", ".join(f"{c} {n['examples']} examples {n['corrections']} corrections"
                                                for c, n in sorted(learned.items())))


if __name__ == "__main__":
    main()
