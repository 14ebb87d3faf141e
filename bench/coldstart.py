"""Cold start of the classify handler: from a fresh Python process to the first classified photo.

Usage:  .venv/bin/python bench/coldstart.py [--repeat 3]

Each repetition starts a fresh interpreter (subprocess) that does what a new Lambda container of the
classify function does, phase by phase:

    interpreter start -> `import app` -> Classifier.load() -> the classify handler on one SQS event,
    with classes that need every bundled model (people, screenshots, documents)
    (get_metadata, download of a 12 MP JPEG, decode, first ONNX inference, move, DynamoDB record)

The handler is called as Lambda calls it (`app.classify(event, context)`), with the real dropbox SDK
talking HTTPS to the fake Dropbox and boto3 talking HTTP to a moto server, both running in this
(parent) process, so the child imports and loads only what the app does. The event is a real SQS
message received from moto. Reported per phase (median of the repetitions, and each run): seconds,
the child's peak RSS (getrusage ru_maxrss), and separately `import app` alone in its own fresh
process, with which heavy modules that import pulled in (onnxruntime should not be one).
Targets: <= 1.5 s from process start to the first classified photo; peak RSS <= 300 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# One class per bundled model: the first photo loads the classifier, the face and the text detector.
CLASSES = ["people", "screenshots", "documents", "cat", "building"]
HEAVY_MODULES = ("onnxruntime", "numpy", "PIL", "boto3", "dropbox", "pillow_heif")
TARGET_SECONDS, TARGET_MB = 1.5, 300.0


# --- the child: nothing but the standard library is imported before the clock starts ---------------

def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _hwm_mb() -> float | None:
    """VmHWM: the peak RSS of this process's own address space (a cross-check of ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def child(mode: str, event_path: str | None) -> None:
    started = time.time()
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    import app
    t_import = time.perf_counter()
    report = {"started": started, "import_app": t_import - t0, "rss_after_import": _rss_mb(),
              "modules": {name: name in sys.modules for name in HEAVY_MODULES}}
    if mode == "full":
        from chalicelib.classifier import Classifier

        Classifier.load()
        t_load = time.perf_counter()
        report["rss_after_load"] = _rss_mb()
        inside = {}
        original = Classifier.classify_batch

        def timed(self, *args, **kwargs):  # how much of the first call is decode + inference
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                inside["classify_batch"] = time.perf_counter() - start

        Classifier.classify_batch = timed
        with open(event_path) as f:
            event = json.load(f)
        app.classify(event, None)
        t_first = time.perf_counter()
        report.update(load=t_load - t_import, first_classify=t_first - t_load,
                      classify_batch=inside.get("classify_batch"))
    report["peak_rss"] = _rss_mb()
    report["vm_hwm"] = _hwm_mb()
    report["finished"] = time.time()
    print("REPORT " + json.dumps(report), flush=True)


# --- the launcher: a small process that starts the children ----------------------------------------
# On Linux a process's ru_maxrss carries over the RSS of the address space it was forked from (exec
# folds the old one in), so a child started by the parent, which holds moto and the fake Dropbox,
# would report the parent's size. Children are started by this small process instead, itself
# started before the parent grew.

def launcher() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        spawned = time.time()
        done = subprocess.run(job["args"], env=job["env"], capture_output=True, text=True, timeout=120)
        print(json.dumps({"spawned": spawned, "rc": done.returncode, "stdout": done.stdout,
                          "stderr": done.stderr}), flush=True)


class Launcher:
    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--launcher"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, args: list[str], env: dict) -> dict:
        self._process.stdin.write(json.dumps({"args": args, "env": env}) + "\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)


# --- the parent -------------------------------------------------------------------------------------

def run_child(launch: Launcher, mode: str, env: dict, event_path: str | None = None) -> dict:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", mode] + ([event_path] if event_path else [])
    done = launch.run(args, env)
    spawned = done["spawned"]
    lines = [line for line in done["stdout"].splitlines() if line.startswith("REPORT ")]
    if done["rc"] != 0 or not lines:
        raise RuntimeError(f"child ({mode}) failed with {done['rc']}:\n{done['stdout']}\n{done['stderr']}")
    report = json.loads(lines[-1][len("REPORT "):])
    report["startup"] = report["started"] - spawned
    report["total"] = report["finished"] - spawned
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (default 3)")
    parser.add_argument("--classes", nargs="+", default=CLASSES,
                        help="the configured classes (default: one per bundled model; "
                             "e.g. cat food for the classifier alone)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--launcher", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1] if len(args.child) > 1 else None)
        return
    if args.launcher:
        launcher()
        return
    launch = Launcher()  # before anything heavy is imported here

    sys.path.insert(0, str(HERE))
    import _harness as h

    hold, port = h.prepare_environment()
    h.quiet_logging()
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's one line per request
    import boto3
    from moto.server import ThreadedMotoServer

    from chalicelib import answers
    from chalicelib.messages import SortRequest
    from chalicelib.wiring import Wiring
    from local.dropbox_emulator import FakeDropbox
    from local.event_source import SqsEventSource
    from local.stack import free_port

    h.say(h.machine())
    photo = next(p for p in h.photo_pool(upscaled=(12,), with_variants=False) if p.name == "chelsea")
    h.say(f"photo: {photo.name} {photo.width}x{photo.height} ({photo.megapixels:.1f} MP), {photo.size / 1e6:.2f} MB "
          f"JPEG; classes {', '.join(args.classes)}; the fake Dropbox and a moto server run in the parent")

    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{moto_port}"  # this process's boto3 too, never AWS
    hold.close()
    workdir = h.cache_dir() / f"coldstart-{os.getpid()}"
    fake = FakeDropbox(workdir, port=port).start()
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "SERVICE_KEY": "bench",
           "DROPBOX_APP_KEY": fake.app_key, "DROPBOX_APP_SECRET": fake.app_secret,
           "DROPBOX_REFRESH_TOKEN": fake.refresh_token, "DROPBOX_CA_CERTS": fake.ca_path,
           "STATE_TABLE": "image-categorizer", "SORT_QUEUE": "image-categorizer-sort",
           "CLASSIFY_SOURCE": "download", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    full, imports = [], []
    try:
        wired = Wiring(env)
        wired.state.create_table()
        queue_url = wired.queue.create()
        answers.configure({"classes": args.classes}, wired.vocabulary.resolve, wired.state, wired.default_threshold, {})
        sqs = boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"])
        source = SqsEventSource(sqs, queue_url, lambda event: None)
        data = photo.read()
        run_child(launch, "import", env)  # one untimed start: byte-code and page cache as a warm host has them

        for i in range(args.repeat):
            path = f"/All/cold-{i}.jpg"
            file_id = fake.put(path, data)
            wired.queue.send([SortRequest(file_id, path, "")])
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                           AttributeNames=["All"])["Messages"]
            event_path = workdir / f"event-{i}.json"
            event_path.write_text(json.dumps(source._event(messages)))
            report = run_child(launch, "full", env, str(event_path))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            moved = [p for p in fake.files("/") if p.endswith(f"/cold-{i}.jpg") and not p.startswith("/All/")]
            report["moved_to"] = moved[0] if moved else "NOT MOVED"
            full.append(report)
            imports.append(run_child(launch, "import", env))
    finally:
        launch.close()
        fake.stop()
        moto.stop()
        import shutil
        shutil.rmtree(workdir, ignore_errors=True)

    def col(key: str, runs: list[dict], scale: float = 1.0, fmt: str = "{:.3f}") -> list[str]:
        values = [r[key] * scale for r in runs]
        return [fmt.format(h.median(values)), " ".join(fmt.format(v) for v in values)]

    in_python = [dict(r, in_python=r["import_app"] + r["load"] + r["first_classify"]) for r in full]
    rows = [
        ["interpreter start (spawn to first line)", *col("startup", full)],
        ["import app", *col("import_app", full)],
        ["Classifier.load()", *col("load", full)],
        ["first classify: handler on 1 SQS record", *col("first_classify", full)],
        ["  of which classify_batch (decode + 1st inference)", *col("classify_batch", full)],
        ["import app -> photo classified (in Python)", *col("in_python", in_python)],
        ["TOTAL: process start -> photo classified", *col("total", full)],
    ]
    h.say(f"\n== cold start of the classify handler, {args.repeat} fresh processes (median, then each)")
    h.say(h.table(["phase", "seconds", "runs"], rows, "<><"))
    mem_rows = [
        ["after import app", *col("rss_after_import", full, fmt="{:.0f}")],
        ["after Classifier.load()", *col("rss_after_load", full, fmt="{:.0f}")],
        ["peak (after the first photo)", *col("peak_rss", full, fmt="{:.0f}")],
        ["  cross-check: VmHWM of /proc/self/status", *col("vm_hwm", full, fmt="{:.0f}")],
    ]
    h.say("\n" + h.table(["peak RSS of the child, MB", "median", "runs"], mem_rows, "<><"))
    h.say("moved: " + ", ".join(r["moved_to"] for r in full))

    modules = imports[0]["modules"]
    h.say(f"\n== `import app` alone, {args.repeat} fresh processes")
    h.say(h.table(["measure", "median", "runs"], [
        ["import app, seconds", *col("import_app", imports)],
        ["process start -> imported, seconds", *col("total", imports)],
        ["peak RSS, MB", *col("peak_rss", imports, fmt="{:.0f}")],
    ], "<><"))
    h.say("modules imported by `import app`: " + ", ".join(f"{m} {'yes' if v else 'no'}" for m, v in modules.items()))
    h.say(f"onnxruntime imported by `import app`: {'YES' if modules['onnxruntime'] else 'no'}")

    total = h.median([r["total"] for r in full])
    peak = h.median([r["peak_rss"] for r in full])
    h.say("\n== targets")
    h.say(h.table(["target", "measured (median)", "verdict"], [
        [f"process start -> first classified photo <= {TARGET_SECONDS:g} s", f"{total:.2f} s",
         "met" if total <= TARGET_SECONDS else "MISSED"],
        [f"peak RSS of the classify handler <= {TARGET_MB:g} MB", f"{peak:.0f} MB",
         "met" if peak <= TARGET_MB else "MISSED"],
    ], "<><"))


if __name__ == "__main__":
    main()
