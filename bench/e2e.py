"""End-to-end throughput of the service, where the time goes, and the overhead over the bare classifier.

Usage:  .venv/bin/python bench/e2e.py [--photos 500] [--latency 0] [--compare-latency 50]
                                      [--source download|thumbnail]

N real photos (local/sample_photos.py: variants() and upscaled_jpeg() from 0.1 to 12 MP, JPEG, PNG
and WebP, cached under the temp directory) go through the whole service on 127.0.0.1, as the
`service` fixture of tests/conftest.py assembles it:

    files in /All of the fake Dropbox (real dropbox SDK over HTTPS)
    -> signed webhook through chalice.test.Client (list /All, one SQS message per photo)
    -> SQS (moto, in-process) -> SqsEventSource, batches of 10 -> the classify handler
    -> download, decode, ONNX inference, move_batch_v2 in the fake Dropbox, DynamoDB (moto)

The clock runs from the webhook until the queue is empty. Where the time goes is measured from
outside, by timing wrappers this script installs around DropboxStore's methods, images.preprocess,
Classifier.probabilities and every boto3 call (nothing in app.py or chalicelib/ is edited). Shares
are wall-clock: the time during which at least one call of the kind was in flight.

In the same process and on the same photos it runs the classifier alone (Classifier.classify_batch
in batches of 10, the SQS batch size) as the baseline. Reported against the targets:
  - end to end >= 25 photos/s at 0 ms Dropbox latency on 2 cores;
  - pipeline overhead (the share of end-to-end time not spent decoding or in inference) <= 30 %.

A second run at --compare-latency ms per Dropbox call (default 50; -1 skips it) shows how Dropbox's
round trips dominate once they are not free. The model is loaded and warm before anything is timed
(cold start is bench/coldstart.py's business), and a 20-photo warm-up run of the pipeline precedes
the timed runs. The fake Dropbox and moto run inside this process: their CPU time counts inside the
Dropbox and queue figures and competes for the same 2 cores, as a Lambda's would not.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _harness as h  # noqa: E402

PORT_HOLD, PORT = h.prepare_environment()

CLASSES = ["cat", "food", "vehicle", "building", "flower"]  # local/sample_photos.py SCENARIO_CLASSES
BATCH = 10  # app.SQS_BATCH_SIZE
KEY = "bench-service-key"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
TABLE, QUEUE = "image-categorizer", "image-categorizer-sort"
WARMUP_PHOTOS = 20
DRAIN_TIMEOUT = 900.0

# Categories that do not nest in each other; "other" is what none of them covers.
LEAVES = ["Dropbox download", "Dropbox moves", "Dropbox other", "decode+preprocess", "inference",
          "queue (SQS)", "state (DynamoDB)"]
COMPUTE = ["decode+preprocess", "inference"]
TARGET_RATE, TARGET_OVERHEAD = 25.0, 30.0

_untimed_clients: set[int] = set()


def install_wrappers(spans: h.Spans) -> None:
    import botocore.client

    from chalicelib.adapters.dropbox_store import DropboxStore
    from chalicelib.vision import images
    from chalicelib.vision.classifier import Classifier

    # Every public method of the store (it is being changed: move -> move_batch), by what it does.
    for name, member in list(vars(DropboxStore).items()):
        if name.startswith("_") or not callable(member) or isinstance(member, (classmethod, staticmethod)):
            continue
        if name in ("download", "download_file", "thumbnail"):
            category = "Dropbox download"
        elif name.startswith(("move", "ensure_folder", "create", "copy")):
            category = "Dropbox moves"
        else:
            category = "Dropbox other"
        spans.wrap(DropboxStore, name, category, op="get_metadata" if name == "get_file" else name)
    # classifier.py calls images.preprocess through the module, so the module attribute is the boundary.
    spans.wrap(images, "preprocess", "decode+preprocess")
    spans.wrap(Classifier, "probabilities", "inference")
    spans.wrap(Classifier, "classify_batch", "classify_batch (all)")

    def aws(client, operation, params):
        if id(client) in _untimed_clients:
            return None
        service = client.meta.service_model.service_name
        return {"sqs": "queue (SQS)", "dynamodb": "state (DynamoDB)"}.get(service, service), operation

    spans.wrap(botocore.client.BaseClient, "_make_api_call", aws)


def place(photos: list[h.Photo], inbox: Path) -> None:
    """Put the photos into the fake's /All on disk (hard links to the cache: nothing writes them)."""
    inbox.mkdir(parents=True)
    for i, photo in enumerate(photos):
        target = inbox / f"IMG_{i:04d}_{photo.name}_{photo.kind}.{photo.ext}"
        try:
            os.link(photo.path, target)
        except OSError:
            shutil.copyfile(photo.path, target)


def pipeline(fake, photos: list[h.Photo], latency_ms: float, spans: h.Spans, source: str) -> dict:
    """One run through the whole service, on a fresh fake Dropbox, fresh moto and fresh services."""
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    import app
    from chalicelib import wiring
    from chalicelib.adapters.state import StateStore
    from chalicelib.adapters.work_queue import WorkQueue
    from local.dropbox_emulator import signed_notification
    from local.event_source import SqsEventSource
    from local.in_process import linear_moto_dynamodb

    fake.reset()
    place(photos, fake.root / "All")
    fake.scan()
    os.environ.update({
        "SERVICE_KEY": KEY, "DROPBOX_APP_KEY": fake.app_key, "DROPBOX_APP_SECRET": fake.app_secret,
        "DROPBOX_REFRESH_TOKEN": fake.refresh_token, "DROPBOX_CA_CERTS": fake.ca_path,
        "STATE_TABLE": TABLE, "SORT_QUEUE": QUEUE, "CLASSIFY_SOURCE": source})
    wiring.reset()
    handler_seconds = 0.0
    try:
        with mock_aws(), linear_moto_dynamodb():
            StateStore(TABLE).create_table()
            queue_url = WorkQueue(QUEUE).create()
            with Client(app.app, project_dir=str(h.ROOT)) as client:
                client.lambda_._config  # noqa: B018  (the stage config, read once here, not in the clock)
                response = client.http.post("/configure", headers=AUTH, body=json.dumps({"classes": CLASSES}))
                assert response.status_code == 200, response.body
                monitor = boto3.client("sqs")
                _untimed_clients.add(id(monitor))

                def invoke(event):
                    nonlocal handler_seconds
                    start = time.perf_counter()
                    try:
                        return client.lambda_.invoke("classify", event)
                    finally:
                        handler_seconds += time.perf_counter() - start

                events = SqsEventSource(boto3.client("sqs"), queue_url, invoke)
                body, signature = signed_notification([fake.account_id], fake.app_secret)
                fake.latency = latency_ms / 1000
                spans.clear()

                t0 = time.perf_counter()
                response = client.http.post("/webhook", body=body, headers={
                    "Content-Type": "application/json", "X-Dropbox-Signature": signature})
                t_webhook = time.perf_counter()
                assert response.status_code == 200, response.body
                queued = json.loads(response.body)["queued"]
                while True:
                    if events.poll_once(wait_seconds=0):
                        continue
                    attributes = monitor.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
                        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
                    if not any(int(v) for v in attributes.values()):
                        break
                    if time.perf_counter() - t0 > DRAIN_TIMEOUT:
                        raise TimeoutError(f"queue not drained within {DRAIN_TIMEOUT} s")
                    time.sleep(0.01)  # a failed batch waiting out its retry delay
                t1 = time.perf_counter()

                fake.latency = 0.0
                status = json.loads(client.http.get("/status", headers=AUTH).body)
                _untimed_clients.discard(id(monitor))
    finally:
        wiring.reset()
    left = sum(1 for p in (fake.root / "All").rglob("*") if p.is_file())
    return {"latency_ms": latency_ms, "photos": len(photos), "queued": queued, "t0": t0, "t1": t1,
            "seconds": t1 - t0, "webhook_seconds": t_webhook - t0, "handler_seconds": handler_seconds,
            "batches": events.batches, "failed_batches": events.failures, "left_in_inbox": left,
            "status": status}


def classifier_alone(classifier, photos: list[h.Photo], data: dict, spans: h.Spans) -> dict:
    batches = [[data[p.path] for p in photos[i:i + BATCH]] for i in range(0, len(photos), BATCH)]
    spans.clear()
    t0 = time.perf_counter()
    decisions = [d for batch in batches for d in classifier.classify_batch(batch, CLASSES)]
    t1 = time.perf_counter()
    errors = sum(not hasattr(d, "label") for d in decisions)
    return {"t0": t0, "t1": t1, "seconds": t1 - t0, "photos": len(photos), "errors": errors}


def breakdown(run: dict, spans: h.Spans) -> str:
    t0, t1, total = run["t0"], run["t1"], run["seconds"]
    rows, covered = [], []
    for category in LEAVES:
        intervals = spans.of([category], t0, t1)
        covered += intervals
        wall = h.union(intervals)
        ops = spans.calls(category)
        detail = ", ".join(f"{op} {n}" for op, n in sorted(ops.items(), key=lambda kv: -kv[1]))
        count = sum(ops.values())
        per_call = f"{1000 * spans.summed(category) / count:.1f}" if count else ""
        rows.append([category, f"{wall:.2f}", f"{100 * wall / total:.1f} %", f"{spans.summed(category):.2f}",
                     per_call, detail])
    other = total - h.union(covered)
    rows.append(["other (Python glue: chalice, event source, handler logic, decide, waits)",
                 f"{other:.2f}", f"{100 * other / total:.1f} %", "", "", ""])
    rows.append(["total (webhook to empty queue)", f"{total:.2f}", "100.0 %", "", "", ""])
    return h.table(["where", "wall s", "share", "thread s", "ms/call", "calls"], rows, "<>>>><")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=500, help="photos per run (default 500)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="MS",
                        help="added latency per Dropbox call, ms (default 0)")
    parser.add_argument("--compare-latency", type=float, default=50.0, metavar="MS",
                        help="a second run at this latency (default 50; -1 for none)")
    parser.add_argument("--source", choices=["download", "thumbnail"], default="download",
                        help="CLASSIFY_SOURCE of the service (default download)")
    args = parser.parse_args()

    h.quiet_logging()
    from chalicelib.vision.classifier import Classifier
    from local.dropbox_emulator import FakeDropbox

    h.say(h.machine())
    pool = h.photo_pool()
    photos = h.spread(pool, args.photos)
    data = {p.path: p.read() for p in pool}
    h.say(f"photos: {h.mix_summary(photos)}")
    h.say(f"classes: {', '.join(CLASSES)}; source: {args.source}; SQS batch {BATCH}; "
          f"fake Dropbox and moto in this process")

    spans = h.Spans()
    install_wrappers(spans)
    workdir = Path(tempfile.mkdtemp(prefix="e2e-", dir=h.cache_dir()))  # same file system: hard links
    PORT_HOLD.close()
    fake = FakeDropbox(workdir / "dropbox", port=PORT).start()
    try:
        classifier = Classifier.load()
        classifier.classify_batch([data[p.path] for p in photos[:BATCH]], CLASSES)  # warm the session
        warm = pipeline(fake, photos[:WARMUP_PHOTOS], 0.0, spans, args.source)
        h.say(f"warm-up: {warm['photos']} photos through the pipeline in {warm['seconds']:.2f} s (not counted)\n")

        alone = classifier_alone(classifier, photos, data, spans)
        alone_compute = {c: h.union(spans.of([c], alone["t0"], alone["t1"])) for c in COMPUTE}
        latencies = [args.latency] + ([args.compare_latency] if args.compare_latency >= 0
                                      and args.compare_latency != args.latency else [])
        runs = []
        for latency in latencies:
            run = pipeline(fake, photos, latency, spans, args.source)
            run["compute"] = {c: h.union(spans.of([c], run["t0"], run["t1"])) for c in COMPUTE}
            run["compute_union"] = h.union(spans.of(COMPUTE, run["t0"], run["t1"]))
            run["table"] = breakdown(run, spans)
            runs.append(run)
    finally:
        fake.stop()
        spans.restore()
        shutil.rmtree(workdir, ignore_errors=True)

    for run in runs:
        st = run["status"]
        failed = f", {run['failed_batches']} failed (retried)" if run["failed_batches"] else ""
        h.say(f"== end to end, {run['latency_ms']:g} ms per Dropbox call: {run['photos']} photos in "
              f"{run['seconds']:.2f} s = {run['photos'] / run['seconds']:.1f} photos/s")
        h.say(f"   webhook (list /All, queue {run['queued']}): {run['webhook_seconds']:.2f} s; "
              f"{run['batches']} handler batches in {run['handler_seconds']:.2f} s"
              f"{failed}; "
              f"finished {st.get('finished')}, unsorted {st.get('unsorted')}, skipped {st.get('skipped')}, "
              f"failed {st.get('failed')}, left in /All {run['left_in_inbox']}")
        h.say(run["table"])
        h.say("   moto's SQS and DynamoDB cost grows with what they hold (ms/call rises with --photos): "
              "compare their ms/call with AWS's ~5-20 ms")
        h.say("")

    base = alone["seconds"]
    rows = [["classifier alone (classify_batch x10)", f"{base:.2f}", f"{alone['photos'] / base:.1f}", "1.00x",
             f"{alone_compute['decode+preprocess']:.2f}", f"{alone_compute['inference']:.2f}", "-"]]
    for run in runs:
        overhead = 100 * (run["seconds"] - run["compute_union"]) / run["seconds"]
        rows.append([f"end to end, {run['latency_ms']:g} ms Dropbox latency", f"{run['seconds']:.2f}",
                     f"{run['photos'] / run['seconds']:.1f}", f"{run['seconds'] / base:.2f}x",
                     f"{run['compute']['decode+preprocess']:.2f}", f"{run['compute']['inference']:.2f}",
                     f"{overhead:.1f} %"])
    h.say(f"== against the classifier alone, same {len(photos)} photos, same process")
    h.say(h.table(["run", "seconds", "photos/s", "time vs alone", "decode s", "inference s",
                   "pipeline overhead"], rows))
    h.say("   pipeline overhead = share of end-to-end wall time in neither decode+preprocess nor inference")
    first = runs[0]
    rate = first["photos"] / first["seconds"]
    overhead = 100 * (first["seconds"] - first["compute_union"]) / first["seconds"]
    h.say(f"\n== targets (run at {first['latency_ms']:g} ms)")
    h.say(h.table(["target", "measured", "verdict"], [
        [f">= {TARGET_RATE:g} photos/s end to end", f"{rate:.1f} photos/s", "met" if rate >= TARGET_RATE else "MISSED"],
        [f"pipeline overhead <= {TARGET_OVERHEAD:g} %", f"{overhead:.1f} %",
         "met" if overhead <= TARGET_OVERHEAD else "MISSED"],
    ], "<><"))


if __name__ == "__main__":
    main()
