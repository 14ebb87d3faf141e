"""Cold start as Lambda sees it: each function from a fresh process to its first request answered.

Usage:  .venv/bin/python bench/coldstart.py [--repeat 3] [--zip build/package/deployment.zip]
        (`make package` first: the package rows need its deployment.zip)

Three setups, each a row per function:
  - package: deployment.zip unzipped into a fresh read-only folder, run by Python 3.12 with -I -S -B
    (isolated, no site-packages, no bytecode written), with only the boto3 the Lambda runtime adds
    beside it: what Lambda does, with the bytecode `make package` put in the zip;
  - package without its bytecode: the same, with the zip's .pyc files left out (as before `make
    package` added them);
  - venv: the repository run by the development virtualenv, whose bytecode is cached (for comparison).
Functions, each run by deploy/cold_start.py in a fresh process:
  - webhook (the API function): `import app`, then a signed Dropbox notification as API Gateway
    hands it over, with one new photo in /All to list and queue;
  - classify: `import app`, the classifier's model loaded, then an SQS event of 10 small JPEGs
    (classes that need every bundled model, so the first batch also loads the face and text
    detectors) sorted and moved.
The fake Dropbox (HTTPS, real SDK) and a moto server run in this process. Printed per row: the
median of the fresh processes for each phase, from process start to answered, and peak RSS.
Targets: `import app` from the package <= 1.0 s; the classify function's cold start <= 2.5 s.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
COLD_START = ROOT / "deploy" / "cold_start.py"
DEFAULT_ZIP = ROOT / "build" / "package" / "deployment.zip"
TARGET_IMPORT, TARGET_CLASSIFY = 1.0, 2.5
BATCH = 10


# --- the launcher: a small process that starts the children ----------------------------------------
# On Linux a process's ru_maxrss carries over the RSS of the address space it was forked from, so a
# child started by the parent, which holds moto and the fake Dropbox, would report the parent's
# size. Children are started by this small process instead, itself started before the parent grew.

def launcher() -> None:
    import time
    for line in sys.stdin:
        job = json.loads(line)
        spawned = time.perf_counter()
        done = subprocess.run(job["args"], env=job["env"], cwd=job["cwd"], capture_output=True, text=True,
                              timeout=300)
        print(json.dumps({"seconds": time.perf_counter() - spawned, "rc": done.returncode, "stdout": done.stdout,
                          "stderr": done.stderr}), flush=True)


class Launcher:
    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--launcher"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, args: list[str], env: dict, cwd: str) -> dict:
        self._process.stdin.write(json.dumps({"args": args, "env": env, "cwd": cwd}) + "\n")
        self._process.stdin.flush()
        done = json.loads(self._process.stdout.readline())
        if done["rc"] != 0:
            raise RuntimeError(f"{' '.join(args)} failed with {done['rc']}:\n{done['stdout']}\n{done['stderr']}")
        report = json.loads(done["stdout"].splitlines()[-1])
        report["process"] = done["seconds"]  # spawn to exit: interpreter start and shutdown included
        return report

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per row (default 3)")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--launcher", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.launcher:
        launcher()
        return
    if not args.zip.is_file():
        raise SystemExit(f"{args.zip} is missing: run `make package` first")
    launch = Launcher()  # before anything heavy is imported here

    sys.path.insert(0, str(HERE))
    import _harness as h

    hold, port = h.prepare_environment()
    h.quiet_logging()
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's one line per request
    import boto3
    from moto.server import ThreadedMotoServer

    from chalicelib.flows import answers
    from chalicelib.rules.configuration import parse
    from chalicelib.rules.messages import SortRequest
    from chalicelib.wiring import Wiring
    from deploy import bytecode
    from local.dropbox_emulator import FakeDropbox, signed_notification
    from local.event_source import SqsEventSource
    from local.sample_photos import PHOTOS, jpeg
    from local.stack import free_port

    h.say(h.machine())
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"  # this process's boto3 too, never AWS
    hold.close()
    rows = []
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        work = Path(tmp)
        task, bare = work / "task", work / "task-without-bytecode"
        bytecode.unpack(args.zip, task)
        bytecode.unpack(args.zip, bare, with_bytecode=False)
        runtime = bytecode.runtime(work / "runtime")
        fake = FakeDropbox(work / "dropbox", port=port).start()
        env = {"PATH": os.environ["PATH"], "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
               "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "DROPBOX_API_HOST": os.environ["DROPBOX_API_HOST"],
               "DROPBOX_API_CONTENT_HOST": os.environ["DROPBOX_API_CONTENT_HOST"], "SERVICE_KEY": "bench",
               "DROPBOX_APP_KEY": fake.app_key, "DROPBOX_APP_SECRET": fake.app_secret,
               "DROPBOX_REFRESH_TOKEN": fake.refresh_token, "DROPBOX_CA_CERTS": fake.ca_path,
               "STATE_TABLE": "image-categorizer", "SORT_QUEUE": "image-categorizer-sort",
               "CLASSIFY_SOURCE": "download"}
        setups = {"package": ([sys.executable, "-I", "-S", "-B"], task, runtime),
                  "package without its bytecode": ([sys.executable, "-I", "-S", "-B"], bare, runtime),
                  "venv": ([sys.executable, "-B"], ROOT, "")}
        try:
            wired = Wiring(env)
            wired.state.create_table()
            queue_url = wired.queue.create()
            answers.configure(parse({"classes": ["people", "screenshots", "documents", "cat", "building"]}),
                              wired.vocabulary.resolve, wired.state, wired.default_threshold, {}, wired.dropbox)
            sqs = boto3.client("sqs")
            source = SqsEventSource(sqs, queue_url, lambda event: None)
            counter = iter(range(10**6))

            def webhook_event() -> Path:
                fake.put(f"/All/new-{next(counter)}.jpg", jpeg("chelsea"))
                body, signature = signed_notification([fake.account_id], fake.app_secret)
                event = {"requestContext": {"httpMethod": "POST", "resourcePath": "/webhook", "path": "/webhook",
                                            "identity": {"sourceIp": "127.0.0.1"}},
                         "headers": {"content-type": "application/json", "x-dropbox-signature": signature},
                         "pathParameters": None, "stageVariables": {}, "multiValueQueryStringParameters": None,
                         "body": body.decode(), "isBase64Encoded": False}
                path = work / f"event-{next(counter)}.json"
                path.write_text(json.dumps(event))
                return path

            def classify_event() -> Path:
                requests = []
                for name in (list(PHOTOS) * 2)[:BATCH]:
                    path = f"/All/sqs-{next(counter)}.jpg"
                    requests.append(SortRequest(fake.put(path, jpeg(name)), path, ""))
                wired.queue.send(requests)
                ours, messages = {r.file_id for r in requests}, []
                while len(messages) < BATCH:
                    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                                       AttributeNames=["All"]).get("Messages", []):
                        if any(file_id in message["Body"] for file_id in ours):
                            messages.append(message)
                        else:  # queued by the webhook runs: not this batch's
                            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                path = work / f"event-{next(counter)}.json"
                path.write_text(json.dumps(source._event(messages)))
                return path

            for setup, (python, folder, runtime_dir) in setups.items():
                for function, event in (("webhook", webhook_event), ("classify", classify_event)):
                    launch.run([*python, str(COLD_START), function, str(folder), str(runtime_dir)], env,
                               str(folder))  # one untimed start: the page cache as a warm host has it
                    runs = [launch.run([*python, str(COLD_START), function, str(folder), str(runtime_dir),
                                        str(event())], env, str(folder)) for _ in range(args.repeat)]
                    rows.append((setup, function, runs))
            moved = sum(1 for p in fake.files("/") if "/sqs-" in p and not p.startswith("/All/"))
        finally:
            launch.close()
            fake.stop()
            moto.stop()
            bytecode.writable(task)
            bytecode.writable(bare)

    def cell(runs: list[dict], key: str, fmt: str = "{:.2f}") -> str:
        values = [r[key] for r in runs if key in r]
        return fmt.format(h.median(values)) if values else "-"

    h.say(f"\n== cold start, median of {args.repeat} fresh processes (seconds; peak RSS in MB)")
    h.say(h.table(["setup", "function", "import app", "model", "first request", "import -> answered",
                   "process start -> exit", "peak RSS", "answers"],
                  [[s, f, cell(r, "import"), cell(r, "load"), cell(r, "first"), cell(r, "total"), cell(r, "process"),
                    cell(r, "peak_rss_mb", "{:.0f}"), str(r[0].get("answer"))[:40]] for s, f, r in rows]))
    h.say(f"photos moved by the classify runs: {moved} of {BATCH * args.repeat * len(setups)}")
    package = {f: runs for s, f, runs in rows if s == "package"}
    webhook = package["webhook"][0]
    h.say(f"webhook from the package: numpy, PIL, onnxruntime, dropbox.team_log loaded: {webhook['loaded']}; "
          f"SDK namespaces left unloaded: {', '.join(webhook['deferred'])}")
    imported = h.median([r["import"] for r in package["webhook"]])
    classify = h.median([r["total"] for r in package["classify"]])
    h.say(h.table(["target", "measured (median)", "verdict"], [
        [f"import app from the package <= {TARGET_IMPORT:g} s", f"{imported:.2f} s",
         "met" if imported <= TARGET_IMPORT else "MISSED"],
        [f"classify cold start from the package (import, model, first batch of {BATCH}) <= {TARGET_CLASSIFY:g} s",
         f"{classify:.2f} s", "met" if classify <= TARGET_CLASSIFY else "MISSED"]], "<><"))


if __name__ == "__main__":
    main()
