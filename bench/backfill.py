"""Backfill: N small photos waiting in /All at once (a camera roll's first day), one webhook
notification, then the queue driven through the classify handler until it is empty, with the
stand-ins' faults on; then the soak's invariant (local/soak.py check: nothing lost, duplicated,
overwritten, stuck ...).

    .venv/bin/python -m bench.backfill                  # 10,000 photos
    nice -n 10 .venv/bin/python -m bench.backfill --photos 1000

Prints the webhook's slowest answer, the time to an empty queue, calls per photo to each service,
peak memory, the app's own CPU time apart from the stand-ins' (moto and the Dropbox emulator run
in this process; their CPU is measured at their doors and taken off), the soak's figures, and a
modelled AWS figure: photos/s and cost per 1,000 photos from the measured CPU time and call counts,
with the per-call latencies and prices given as options (their defaults are printed with it).
"""
from __future__ import annotations

import argparse
import collections
import functools
import io
import json
import logging
import math
import random
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.in_process import isolate_aws, point_sdk_at_free_port  # noqa: E402  (imports no SDK)

_DYNAMO_READS = {"GetItem", "Query", "BatchGetItem", "Scan"}
_POLLER = {"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch", "GetQueueAttributes"}


class Meter:
    """CPU seconds spent inside the stand-ins (moto's request handling, the emulator's connection
    threads), and each AWS call with the request units it costs, counted at botocore's door."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stand_in_cpu = 0.0
        self.waited = collections.Counter()  # "moto" / "dropbox" -> wall seconds callers spent in them
        self.calls: collections.Counter = collections.Counter()   # (service, operation) -> calls
        self.units: collections.Counter = collections.Counter()   # "read" / "write" -> DynamoDB request units

    def install(self) -> None:
        import botocore.client
        import moto.core.botocore_stubber as stubber

        from local.dropbox_emulator import server

        meter = self

        def cpu_of(original):
            @functools.wraps(original)
            def timed(*args, **kwargs):
                start = time.thread_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    with meter.lock:
                        meter.stand_in_cpu += time.thread_time() - start
            return timed

        def wall_of(original, what):
            @functools.wraps(original)
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    with meter.lock:
                        meter.waited[what] += time.perf_counter() - start
            return timed

        from chalicelib.adapters.dropbox_store import DropboxStore

        stubber.BotocoreStubber.__call__ = wall_of(cpu_of(stubber.BotocoreStubber.__call__), "moto")
        DropboxStore._call = wall_of(DropboxStore._call, "dropbox")
        server._TLSServer.process_request_thread = cpu_of(server._TLSServer.process_request_thread)
        original_call = botocore.client.BaseClient._make_api_call

        def counted(client, operation, params):
            answer = original_call(client, operation, params)
            service = client.meta.service_model.service_name
            with meter.lock:
                meter.calls[service, operation] += 1
                if service == "dynamodb":
                    kind, units = _units(operation, params, answer)
                    meter.units[kind] += units
            return answer

        botocore.client.BaseClient._make_api_call = counted


class _Retries(logging.Handler):
    """The soak's count of the retries the app logs, keeping no record (10,000 photos log a lot)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._counter = None

    def emit(self, record: logging.LogRecord) -> None:
        from local import soak

        if self._counter is None:
            self._counter = soak._RetryCounter()
        self._counter.emit(record)
        self._counter.records.clear()

    @property
    def counts(self) -> collections.Counter:
        return self._counter.counts if self._counter is not None else collections.Counter()


def _units(operation: str, params: dict, answer: dict) -> tuple[str, int]:
    """DynamoDB on-demand request units of a call (items under 1 KB written, 4 KB read; a
    transaction costs two per item)."""
    if operation in _DYNAMO_READS:
        if operation == "BatchGetItem":
            return "read", sum(len(t["Keys"]) for t in params["RequestItems"].values())
        if operation == "Query":
            size = len(json.dumps(answer.get("Items", []), default=str))
            return "read", max(1, math.ceil(size / 4096))
        return "read", 1
    if operation == "BatchWriteItem":
        return "write", sum(len(v) for v in params["RequestItems"].values())
    if operation == "TransactWriteItems":
        return "write", 2 * len(params["TransactItems"])
    return "write", 1


def small_photo(i: int, seed: int) -> bytes:
    """The i-th distinct small photo: a real one cropped at random, about 240 px, JPEG."""
    from PIL import Image

    from local import sample_photos

    rng = random.Random(seed * 1_000_003 + i)
    names = list(sample_photos.PHOTOS)
    picture = _base(names[i % len(names)])
    w, h = picture.size
    left, top = rng.uniform(0, 0.2) * w, rng.uniform(0, 0.2) * h
    crop = picture.crop((int(left), int(top), int(left + 0.8 * w), int(top + 0.8 * h)))
    crop = crop.resize((240, max(32, int(240 * crop.height / crop.width))), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=rng.randint(70, 92))
    return out.getvalue()


@functools.cache
def _base(name: str):
    from local import sample_photos

    picture = sample_photos.image(name).convert("RGB")
    picture.thumbnail((400, 400))
    return picture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=10_000, help="photos waiting in /All (default 10000)")
    parser.add_argument("--dropbox-rate", type=float, default=0.02, help="fraction of Dropbox calls that fail")
    parser.add_argument("--dynamodb-rate", type=float, default=0.02, help="fraction of DynamoDB calls throttled")
    parser.add_argument("--sqs-rate", type=float, default=0.02, help="fraction of SQS sends and deletes refused")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the emulator's latency per Dropbox call")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--webhook-only", action="store_true",
                        help="only the notification: how soon it is answered with N photos waiting and what "
                             "it queued; no draining")
    parser.add_argument("--trace-memory", action="store_true",
                        help="with --webhook-only: the most the call allocated (tracemalloc; it slows the call)")
    model = parser.add_argument_group("the modelled AWS figure")
    model.add_argument("--classify-mb", type=int, default=2048, help="classify function memory (.chalice/config.json)")
    model.add_argument("--webhook-mb", type=int, default=512, help="API function memory (.chalice/config.json)")
    model.add_argument("--gb-s-price", type=float, default=0.0000166667, help="Lambda $ per GB-s")
    model.add_argument("--invoke-price", type=float, default=0.20, help="Lambda $ per million invocations")
    model.add_argument("--sqs-price", type=float, default=0.40, help="SQS $ per million requests")
    model.add_argument("--write-price", type=float, default=1.25, help="DynamoDB $ per million write units")
    model.add_argument("--read-price", type=float, default=0.25, help="DynamoDB $ per million read units")
    model.add_argument("--dynamodb-ms", type=float, default=10.0, help="DynamoDB latency per call")
    model.add_argument("--sqs-ms", type=float, default=20.0, help="SQS latency per call")
    model.add_argument("--dropbox-move-ms", type=float, default=300.0,
                       help="Dropbox latency of a move batch (launch and check)")
    model.add_argument("--dropbox-ms", type=float, default=100.0, help="Dropbox latency of any other call")
    model.add_argument("--concurrency", type=int, default=10, help="classify functions running at once")
    args = parser.parse_args(argv)

    isolate_aws()
    port_hold = point_sdk_at_free_port()  # before anything imports the dropbox SDK
    port = port_hold.getsockname()[1]
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.ERROR)

    from moto import mock_aws

    from local import soak
    from local.dropbox_emulator import FakeDropbox
    from chalicelib.flows import webhook
    from local.in_process import AwsFaults, DynamoThrottle, running_service, short_throttle_backoff, untracked_moto_models

    print(f"making {args.photos} small photos ...", file=sys.stderr)
    photos = [(f"/All/IMG_{i:05d}.jpg", small_photo(i, args.seed)) for i in range(args.photos)]
    meter = Meter()
    meter.install()
    with tempfile.TemporaryDirectory(prefix="backfill-dropbox-") as root, mock_aws(), short_throttle_backoff():
        port_hold.close()
        with FakeDropbox(Path(root), port=port) as fake:
            aws = {"dynamodb throttle": DynamoThrottle(args.dynamodb_rate, seed=args.seed).install(),
                   "sqs refusal": AwsFaults("sqs", args.sqs_rate, seed=args.seed + 2, operations=frozenset(
                       {"SendMessageBatch", "SendMessage", "DeleteMessageBatch"})).install()}
            with running_service(fake) as service, untracked_moto_models():
                service.configure(soak.CLASSES)
                dropped = [(soak.Drop(path, data), fake.put(path, data)) for path, data in photos]
                del photos
                result = soak.Result(photos=len(dropped), files=len(dropped))
                fake.latency = args.latency_ms / 1000
                fake.fault_rate(args.dropbox_rate, soak.DROPBOX_FAULTS, seed=args.seed)
                fake.calls.clear()
                meter.calls.clear()
                meter.units.clear()
                retries = _Retries()
                logging.getLogger("chalicelib").addHandler(retries)
                print("one notification, then the queue until it is empty ...", file=sys.stderr)
                answers = []
                webhook._first_request_started = None  # a warm container (not this script's start)
                if args.trace_memory:
                    tracemalloc.start()
                waited0 = collections.Counter(meter.waited)
                cpu0, stand0, t0 = time.process_time(), meter.stand_in_cpu, time.monotonic()
                started = time.monotonic()
                listing = soak.notify(service, result)
                answers.append(time.monotonic() - started)
                if args.webhook_only:
                    traced = ""
                    if args.trace_memory:
                        traced = (f"; {tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB allocated at most during "
                                  "the call (tracemalloc, which slows it: moto's included)")
                        tracemalloc.stop()
                    depth = json.loads(service.get("/status").body)["queue"]
                    moto_s, dropbox_s = (meter.waited[k] - waited0[k] for k in ("moto", "dropbox"))
                    aws_wait = (_count(meter.calls, "dynamodb") * args.dynamodb_ms
                                + _count(meter.calls, "sqs") * args.sqs_ms) / 1000
                    dropbox_wait = sum(n for r, n in fake.calls.items() if r != "oauth2/token") * args.dropbox_ms / 1000
                    print(f"{len(dropped)} photos waiting: the webhook answered in {answers[0]:.2f} s "
                          f"({moto_s:.2f} s of it in moto, {dropbox_s:.2f} s in Dropbox calls), "
                          f"queued {listing['queued']} and handed the rest over; the queue holds {depth}"
                          f"{traced}; modelled on AWS {answers[0] - moto_s - dropbox_s + aws_wait + dropbox_wait:.2f} s "
                          f"(DynamoDB {args.dynamodb_ms:g} ms, SQS {args.sqs_ms:g} ms, Dropbox {args.dropbox_ms:g} ms "
                          f"a call); its calls: " + ", ".join(f"{s} {op} {c}" for (s, op), c in sorted(
                              meter.calls.items())) + f", Dropbox {dict(fake.calls)}")
                    return 0
                webhook_cpu = (time.process_time() - cpu0) - (meter.stand_in_cpu - stand0)
                webhook_calls = dict(meter.calls)
                webhook_in_moto = meter.waited["moto"] - waited0["moto"]
                cpu1, stand1 = time.process_time(), meter.stand_in_cpu
                service.source.drain(timeout=24 * 3600)
                emptied = time.monotonic() - t0
                classify_cpu = (time.process_time() - cpu1) - (meter.stand_in_cpu - stand1)
                stand_in_cpu = meter.stand_in_cpu - stand0
                batches = service.source.batches
                dropbox_calls = collections.Counter({r: n for r, n in fake.calls.items() if r != "oauth2/token"})
                fake.fault_rate(0)
                for hook in aws.values():
                    hook.rate = 0.0
                for (_, kind), n in fake.injected.items():
                    result.faults[f"dropbox {kind}"] += n
                for name, hook in aws.items():
                    result.faults[name] = hook.hits
                result.retries.update(retries.counts)
                result.retries["dynamodb"] = aws["dynamodb throttle"].hits  # each retried by botocore
                logging.getLogger("chalicelib").removeHandler(retries)
                soak.check(service, dropped, result, soak.User())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(args, result, listing, answers, emptied, webhook_cpu, classify_cpu, stand_in_cpu, peak_mb,
           batches, dropbox_calls, meter, webhook_calls, webhook_in_moto)
    return 1 if result.problems or any(result.figures().values()) else 0


def report(args, result, listing, answers, emptied, webhook_cpu, classify_cpu, stand_in_cpu, peak_mb,
           batches, dropbox_calls, meter, webhook_calls, webhook_in_moto) -> None:
    n = result.photos
    sqs = {op: c for (s, op), c in meter.calls.items() if s == "sqs"}
    dynamo = {op: c for (s, op), c in meter.calls.items() if s == "dynamodb"}
    sqs_app = sum(c for op, c in sqs.items() if op not in _POLLER)
    sqs_poller = sum(c for op, c in sqs.items() if op in _POLLER)
    moves = dropbox_calls["files/move_batch_v2"] + dropbox_calls["files/move_batch/check_v2"]
    other_dropbox = sum(dropbox_calls.values()) - moves
    print(f"backfill of {n} photos: webhook answered in {max(answers):.2f} s ({webhook_in_moto:.2f} s of it "
          f"in moto; slowest of {len(answers)}; "
          f"it queued {listing['queued']}, the classify function the rest); queue empty after {emptied:.1f} s "
          f"({n / emptied:.1f} photos/s here)")
    print(f"calls per photo: Dropbox {sum(dropbox_calls.values()) / n:.2f} ("
          + ", ".join(f"{r.removeprefix('files/')} {c / n:.3f}" for r, c in dropbox_calls.most_common()) + ")")
    print(f"                 SQS {sum(sqs.values()) / n:.2f} (app {sqs_app / n:.2f}, Lambda's poller "
          f"{sqs_poller / n:.2f}: " + ", ".join(f"{op} {c / n:.3f}" for op, c in sorted(sqs.items())) + ")")
    print(f"                 DynamoDB {sum(dynamo.values()) / n:.2f} calls, {meter.units['write'] / n:.2f} write "
          f"and {meter.units['read'] / n:.2f} read units (" + ", ".join(
              f"{op} {c / n:.3f}" for op, c in sorted(dynamo.items())) + ")")
    print(f"the webhook's own calls: " + ", ".join(f"{s} {op} {c}" for (s, op), c in sorted(webhook_calls.items())))
    print(f"peak memory (maxrss, the whole process: model, moto and emulator included) {peak_mb:.0f} MB")
    print(f"CPU: the app {webhook_cpu + classify_cpu:.1f} s (webhook {webhook_cpu:.2f} s, classify "
          f"{classify_cpu:.1f} s = {1000 * classify_cpu / n:.1f} ms per photo, {batches} batches); "
          f"the stand-ins {stand_in_cpu:.1f} s")
    print(result.summary())
    if result.problems:
        for problem in result.problems[:20]:
            print("PROBLEM", problem, file=sys.stderr)

    # The modelled AWS figure: a function's duration is its CPU time plus its calls' latencies, one
    # after the other (no overlap: an upper bound).
    dynamo_calls, sqs_calls = sum(dynamo.values()), sum(sqs.values())
    wait_classify = ((dynamo_calls - _count(webhook_calls, "dynamodb")) * args.dynamodb_ms
                     + (sqs_app - _count(webhook_calls, "sqs")) * args.sqs_ms
                     + moves * args.dropbox_move_ms + other_dropbox * args.dropbox_ms) / 1000
    classify_s = classify_cpu + wait_classify
    webhook_s = webhook_cpu + (_count(webhook_calls, "dynamodb") * args.dynamodb_ms
                               + _count(webhook_calls, "sqs") * args.sqs_ms) / 1000
    gb_s = classify_s * args.classify_mb / 1024 + webhook_s * args.webhook_mb / 1024
    lambda_cost = gb_s * args.gb_s_price + (batches + 1) * args.invoke_price / 1e6
    sqs_cost = sqs_calls * args.sqs_price / 1e6
    dynamo_cost = meter.units["write"] * args.write_price / 1e6 + meter.units["read"] * args.read_price / 1e6
    per_k = 1000 / n
    # Dropbox takes one move batch per account at a time: moves bound the rate whatever the concurrency.
    by_functions = args.concurrency * n / classify_s
    by_moves = n / (moves * args.dropbox_move_ms / 1000) if moves else float("inf")
    print(f"modelled on AWS ({args.concurrency} classify functions at once; latencies DynamoDB {args.dynamodb_ms:g} ms, "
          f"SQS {args.sqs_ms:g} ms, Dropbox move batch {args.dropbox_move_ms:g} ms, other Dropbox calls "
          f"{args.dropbox_ms:g} ms; Lambda ${args.gb_s_price} per GB-s at {args.classify_mb} MB / {args.webhook_mb} MB "
          f"and ${args.invoke_price} per million invocations, SQS ${args.sqs_price}, DynamoDB ${args.write_price} "
          f"write / ${args.read_price} read per million, Dropbox free):")
    print(f"  {min(by_functions, by_moves):.1f} photos/s ({by_functions:.1f} by the functions' time, "
          f"{by_moves:.1f} by Dropbox's one move batch at a time); {1000 * classify_s / n:.0f} ms of classify "
          f"function per photo ({1000 * wait_classify / n:.0f} ms of it waiting on calls)")
    print(f"  ${(lambda_cost + sqs_cost + dynamo_cost) * per_k:.4f} per 1,000 photos: Lambda "
          f"${lambda_cost * per_k:.4f}, SQS ${sqs_cost * per_k:.4f}, DynamoDB ${dynamo_cost * per_k:.4f}")


def _count(calls: dict, service: str) -> int:
    return sum(c for (s, _), c in calls.items() if s == service)


if __name__ == "__main__":
    sys.exit(main())
