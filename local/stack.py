"""`make run`: the whole service on 127.0.0.1, with local stand-ins for Dropbox and AWS.

- moto server for SQS and DynamoDB (boto3 finds it through AWS_ENDPOINT_URL);
- the Dropbox emulator, backed by ./sandbox, which notices files dropped into ./sandbox/All and
  sends signed webhooks as Dropbox does;
- `chalice local --stage local` serving the API;
- a queue worker doing what Lambda's SQS event source mapping does.

Its state (moto's table: classes, cursors, counts, examples, jobs) is kept across restarts in
.<sandbox>-state.json beside the sandbox, and at the start it sorts what arrived in All meanwhile.
The emulator keeps the sandbox's file ids in .<sandbox>-dropbox-ids.json, as Dropbox keeps a file's
id for good: the state is all by file id.

The app runs its production code path: the real dropbox SDK and boto3, pointed at the stand-ins.
Ctrl-C stops everything this started.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from local import stack_state
from local.defaults import LOCAL_STACK_KEY

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLASSES = ["cat", "dog", "bird", "food", "flower", "vehicle", "building"]
QUEUE, TABLE = "image-categorizer-sort", "image-categorizer"
HTTP_TIMEOUT = 10
# A file still being written is not new yet: Dropbox, too, shows a file once its upload is complete.
SETTLE_SECONDS = 2.0
log = logging.getLogger("local.stack")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:`port`, so a server started there is the one that answers."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a stack just stopped leaves TIME_WAIT only
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


def uses_real_dropbox(env: Mapping[str, str]) -> bool:
    return all(env.get(name) for name in ("DROPBOX_APP_KEY", "DROPBOX_APP_SECRET", "DROPBOX_REFRESH_TOKEN"))


def uses_real_aws(env: Mapping[str, str]) -> bool:
    return bool(env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE")) and not env.get("AWS_ENDPOINT_URL")


class InboxWatcher:
    """Notices files dropped into the sandbox and notifies the app as Dropbox would."""

    def __init__(self, dropbox, webhook_url: str, interval: float = 0.5):
        self.dropbox, self.webhook_url, self.interval = dropbox, webhook_url, interval
        self.notifications = 0

    def run(self, stop: threading.Event) -> None:
        from local.dropbox_emulator import signed_notification

        # A change was indexed but its notification did not get through; at the start, what
        # arrived while the stack was stopped is owed one.
        owed = True
        while not stop.wait(self.interval):
            if not self.dropbox.scan(settle=SETTLE_SECONDS) and not owed:
                continue
            body, signature = signed_notification([self.dropbox.account_id], self.dropbox.app_secret)
            try:
                requests.post(self.webhook_url, data=body, timeout=HTTP_TIMEOUT, headers={
                    "Content-Type": "application/json", "X-Dropbox-Signature": signature}).raise_for_status()
                self.notifications += 1
                owed = False
            except requests.RequestException as e:
                log.warning("webhook not delivered (%s); retrying", e)
                owed = True


class Stack:
    def __init__(self, sandbox: Path, port: int, service_key: str):
        self.sandbox, self.port, self.service_key = sandbox, port, service_key
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._chalice: subprocess.Popen | None = None
        self._moto = self.dropbox = None
        # Beside the sandbox, not in it (the sandbox is the Dropbox the service sees).
        self.saved_state = sandbox.with_name(f".{sandbox.name}-state.json")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        os.environ.update({"SERVICE_KEY": self.service_key, "STATE_TABLE": TABLE, "SORT_QUEUE": QUEUE})
        if uses_real_aws(os.environ):
            log.info("AWS credentials found: using (and creating if missing) the real queue and table")
        else:
            from moto.server import ThreadedMotoServer

            moto_port = free_port()
            self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
            self._moto.start()
            os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}", "AWS_DEFAULT_REGION": "us-east-1",
                               "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
        if uses_real_dropbox(os.environ):
            log.info("Dropbox credentials found: sorting your Dropbox /All; its webhooks cannot reach "
                     "127.0.0.1, so start sorts with main.py")
        else:
            self._start_emulator()

        import boto3

        from chalicelib.adapters.state import StateStore
        from chalicelib.adapters.work_queue import WorkQueue

        StateStore(TABLE).create_table()
        if self._moto is not None:
            log.info("state of the last run: %d item(s) loaded from %s",
                     stack_state.load(boto3.client("dynamodb"), TABLE, self.saved_state), self.saved_state)
        queue_url = WorkQueue(QUEUE).create()

        self._chalice = subprocess.Popen(
            [str(Path(sys.executable).parent / "chalice"), "local", "--stage", "local", "--host", "127.0.0.1",
             "--port", str(self.port), "--no-autoreload"], cwd=ROOT, env=os.environ.copy())
        wait_for_port(self.port, 60, self._chalice)

        import app
        from local.event_source import SqsEventSource

        worker = SqsEventSource(boto3.client("sqs"), queue_url, lambda event: app.classify(event, None))
        workers = [(worker.run, "queue-worker")]
        if self.dropbox is not None:
            workers.append((InboxWatcher(self.dropbox, f"{self.url}/webhook").run, "inbox-watcher"))
        for target, name in workers:
            thread = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _start_emulator(self) -> None:
        (self.sandbox / "All").mkdir(parents=True, exist_ok=True)
        dropbox_port = free_port()
        # The SDK reads these once, at import: set them before anything imports dropbox.
        os.environ.update({"DROPBOX_API_HOST": f"127.0.0.1:{dropbox_port}",
                           "DROPBOX_API_CONTENT_HOST": f"127.0.0.1:{dropbox_port}"})
        from local.dropbox_emulator import FakeDropbox

        # Dropbox's file ids never change, and the service keeps everything by them: the stand-in
        # keeps them beside the sandbox, so that a restart does not make every file look new.
        ids_file = self.sandbox.with_name(f".{self.sandbox.name}-dropbox-ids.json")
        self.dropbox = FakeDropbox(self.sandbox, port=dropbox_port, ids_file=ids_file).start()
        self.dropbox.auto_scan = SETTLE_SECONDS
        self.dropbox.scan()
        log.info("Dropbox stand-in at https://%s (CA certificate %s), file ids kept in %s",
                 self.dropbox.address, self.dropbox.ca_path, ids_file)
        os.environ.update({"DROPBOX_APP_KEY": self.dropbox.app_key, "DROPBOX_APP_SECRET": self.dropbox.app_secret,
                           "DROPBOX_REFRESH_TOKEN": self.dropbox.refresh_token,
                           "DROPBOX_CA_CERTS": self.dropbox.ca_path})

    def configure_defaults(self, classes: list[str]) -> dict:
        headers = {"Authorization": f"Bearer {self.service_key}"}
        current = requests.get(f"{self.url}/configure", headers=headers, timeout=HTTP_TIMEOUT)
        if current.status_code == 200:
            return current.json()
        response = requests.post(f"{self.url}/configure", json={"classes": classes}, headers=headers,
                                 timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._chalice is not None and self._chalice.poll() is None:
            self._chalice.terminate()
            try:
                self._chalice.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._chalice.kill()
                self._chalice.wait()
        if self.dropbox is not None:
            self.dropbox.stop()
        if self._moto is not None:
            import boto3
            from botocore.exceptions import BotoCoreError, ClientError
            try:
                stack_state.save(boto3.client("dynamodb"), TABLE, self.saved_state)
            except (BotoCoreError, ClientError) as e:  # a stack that failed to start has no table to save
                log.warning("state not saved: %s", e)
            self._moto.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandbox", type=Path, default=ROOT / "sandbox", help="the local Dropbox folder")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)), help="API port")
    parser.add_argument("--classes", nargs="+", default=DEFAULT_CLASSES,
                        help="classes configured at the first start (later starts keep the classes set last)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    for name in ("chalicelib", "local"):
        logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto server's access log

    if not port_is_free(args.port):
        print(f"error: port {args.port} is already in use (another `make run`?): stop that, or choose "
              f"another port: PORT={args.port + 1} make run", file=sys.stderr)
        return 2
    stack = Stack(args.sandbox.resolve(), args.port, os.environ.get("SERVICE_KEY", LOCAL_STACK_KEY))
    # Handled explicitly: a stack started in the background has SIGINT ignored, not raised.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stack.stop_event.set())
    try:
        stack.start()
        config = stack.configure_defaults(args.classes)
        # Only the well-known local key is shown; a key of the user's own is a secret.
        key = stack.service_key if stack.service_key == LOCAL_STACK_KEY else "from your environment"
        print(f"\nimage-categorizer is running at {stack.url} (SERVICE_KEY {key})")
        if stack.dropbox is not None:
            print(f"Drop photos into {stack.sandbox / 'All'}; they move to {stack.sandbox}/<Class>/.")
        print("Classes: " + ", ".join(f"{c['class']} -> {c['folder']}"
                                      for c in config["covers"]))
        print("Change them (and sort what is in All) with: .venv/bin/python main.py --classes cat dog truck\n",
              flush=True)
        print(json.dumps({"ready": stack.url}), flush=True)
        while not stack.stop_event.wait(0.5):
            pass
    finally:
        stack.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
