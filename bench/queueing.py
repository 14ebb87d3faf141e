"""Queueing many photos at once (POST /sort over a camera roll's first day; a webhook page): the
SQS calls in flight one at a time against several at once (chalicelib/adapters/work_queue.py).

    .venv/bin/python -m bench.queueing [--photos 2000] [--sqs-ms 20]

Sends N sort requests through WorkQueue.send to moto's SQS, each call held `--sqs-ms` first (SQS's
latency within a region; moto answers at once, so without it only moto's CPU would be measured).
Prints the median of 3 runs for one call in flight (the baseline) and for SEND_THREADS, and the ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.in_process import isolate_aws  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--sqs-ms", type=float, default=20.0, help="latency added to each SQS call")
    args = parser.parse_args()
    isolate_aws()
    import boto3
    from moto import mock_aws

    from chalicelib.adapters import work_queue
    from chalicelib.rules.messages import SortRequest

    requests = [SortRequest(f"id:{i:08d}", f"/All/IMG_{i:05d}.JPG", "1") for i in range(args.photos)]
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.meta.events.register("before-send.sqs.*", lambda **_: time.sleep(args.sqs_ms / 1000))
        rows = []
        for threads in (1, work_queue.SEND_THREADS):
            times = []
            for run in range(3):
                queue = work_queue.WorkQueue(f"bench-{threads}-{run}", sqs)
                queue.create()
                queue._pool._max_workers = threads  # the same code, with that many calls in flight
                start = time.perf_counter()
                queue.send(requests)
                times.append(time.perf_counter() - start)
            rows.append((threads, statistics.median(times)))
    baseline = rows[0][1]
    print(f"{args.photos} sort requests, SQS at {args.sqs_ms:.0f} ms a call ({args.photos // 10} calls):")
    for threads, seconds in rows:
        print(f"  {threads} call(s) in flight: {seconds:6.2f} s  ({args.photos / seconds:,.0f} photos/s, "
              f"{seconds / baseline:.2f}x the baseline)")


if __name__ == "__main__":
    main()
