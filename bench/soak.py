"""Soak: N real, varied photos plus the hard cases and a camera roll (Live Photos, RAW+JPEG pairs,
videos), dropped into /All in batches while Dropbox and DynamoDB fail at a fixed rate and the user
moves, renames, undoes and copies photos; then check that nothing was lost, duplicated or
overwritten, that each shot stayed together, and that each of the user's doings ended as promised.

    .venv/bin/python -m bench.soak                      # 1000 photos
    .venv/bin/python -m bench.soak --photos 200 --dropbox-rate 0.1 --dynamodb-rate 0.05

The scenario and the invariant are local/soak.py (tests/test_soak.py runs the same with ~100 photos);
the service is local/in_process.py's: Chalice's test client, moto, the fake Dropbox over HTTPS, and the
SQS event source, all in this process. Prints one summary line (and the details on stderr); exits 1
if the invariant does not hold (the summary line names each figure: any but 0 is a broken promise).
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.in_process import isolate_aws, point_sdk_at_free_port  # noqa: E402  (imports no SDK)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=1000, help="distinct photos to drop (default 1000)")
    parser.add_argument("--batches", type=int, default=0, help="batches to drop them in (default photos/100, >= 2)")
    parser.add_argument("--dropbox-rate", type=float, default=0.05, help="fraction of Dropbox calls that fail")
    parser.add_argument("--dynamodb-rate", type=float, default=0.03, help="fraction of DynamoDB calls throttled")
    parser.add_argument("--lost-answers-rate", type=float, default=0.03,
                        help="fraction of DynamoDB transactions written whose answer is lost")
    parser.add_argument("--sqs-rate", type=float, default=0.03, help="fraction of SQS sends and deletes refused")
    parser.add_argument("--no-chaos", action="store_true",
                        help="faults only: no overlapping sorts, re-sent or lost notifications, cursor resets, "
                             "renames, blocked folder, nor the user's moves, undo and copies")
    parser.add_argument("--duplicates", choices=["keep", "folder"], default="keep",
                        help="the configuration's duplicates: with folder, each content must have one photo "
                             "outside /Duplicates")
    parser.add_argument("--by-date", choices=["none", "year", "month"], default="none",
                        help="the configuration's by_date: each sorted photo must be in its date folder (/Cat/2024/)")
    parser.add_argument("--tag", action="store_true",
                        help='sort with "action": "tag": nothing moves, each photo gets its classes as Dropbox tags')
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="the app's log on stderr")
    args = parser.parse_args(argv)
    batches = args.batches or max(2, args.photos // 100)

    isolate_aws()
    port_hold = point_sdk_at_free_port()  # before anything imports the dropbox SDK
    port = port_hold.getsockname()[1]
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    # app.py sets chalicelib's loggers to INFO; the handler decides what is shown.
    logging.getLogger().handlers[0].setLevel(logging.INFO if args.verbose else logging.ERROR)

    from moto import mock_aws

    from local import soak
    from local.dropbox_emulator import FakeDropbox
    from local.in_process import AwsFaults, DynamoThrottle, running_service, short_throttle_backoff

    print(f"building {args.photos} photos and the hard cases ...", file=sys.stderr)
    plan = soak.scenario(args.photos, batches, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="soak-dropbox-") as root, mock_aws(), short_throttle_backoff():
        port_hold.close()
        with FakeDropbox(Path(root), port=port) as fake:
            aws = {"dynamodb throttle": DynamoThrottle(args.dynamodb_rate, seed=args.seed).install(),
                   "dynamodb lost answer": AwsFaults("dynamodb", args.lost_answers_rate, seed=args.seed + 1,
                                                     lost_answers=True,
                                                     operations=frozenset({"TransactWriteItems"})).install(),
                   "sqs refusal": AwsFaults("sqs", args.sqs_rate, seed=args.seed + 2, operations=frozenset(
                       {"SendMessageBatch", "SendMessage", "DeleteMessageBatch"})).install()}
            # The user's doings scale down with small runs (there must be photos enough to do them on).
            chaos = soak.Chaos() if args.no_chaos else soak.Chaos(
                overlap_sort=True, resend_webhooks=True, drop_notification=True, renames=5, blocked_folder=True,
                corrections=min(10, max(1, args.photos // 10)), cursor_resets=3,
                queued_moves=min(5, max(1, args.photos // 20)), class_renames=min(5, max(1, args.photos // 20)),
                undo=True, orphan_copies=True)
            with running_service(fake) as service:
                result = soak.run(service, plan, dropbox_rate=args.dropbox_rate, aws=aws, seed=args.seed,
                                  drain_timeout=3600, chaos=chaos, duplicates=args.duplicates,
                                  by_date=args.by_date, tag=args.tag)
    print(result.details(), file=sys.stderr)
    for problem in result.problems[:50]:
        print("PROBLEM", problem, file=sys.stderr)
    print(result.summary())
    return 1 if result.problems or any(result.figures().values()) else 0


if __name__ == "__main__":
    sys.exit(main())
