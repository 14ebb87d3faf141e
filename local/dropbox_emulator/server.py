"""HTTPS for the emulator: a throwaway CA (trustme) whose certificate clients are told to trust, a
threading server, and each request's way through fault injection and the routes back to the client."""
from __future__ import annotations

import json
import socket
import ssl
import tempfile
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

from .faults import Counters, Faults
from .replies import Reply
from .routes import Api


class Server:
    def __init__(self, api: Api, faults: Faults, counters: Counters, lock: threading.RLock, *,
                 host: str, port: int):
        self._api, self._faults, self._counters, self._lock = api, faults, counters, lock
        self.host, self.port = host, port
        self._ca = trustme.CA()
        ca_file = tempfile.NamedTemporaryFile("wb", suffix=".pem", prefix="fake-dropbox-ca-", delete=False)
        with ca_file:
            ca_file.write(self._ca.cert_pem.bytes())
        self.ca_path = ca_file.name
        self._server: _TLSServer | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(self.host, "localhost").configure_cert(context)
        self._server = _TLSServer((self.host, self.port), self, context)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-dropbox", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        Path(self.ca_path).unlink(missing_ok=True)

    def handle(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        route = h.path.split("?", 1)[0].strip("/")
        route = route[2:] if route.startswith("2/") else route
        self._counters.start_request()
        fault = self._faults.take(route)
        try:
            if fault not in (None, "slow", "reset"):
                raise self._faults.reply(route, fault, h.headers.get("Authorization", ""))
            status, headers, payload = self._api.dispatch(route, h.headers, body)
        except Reply as reply:
            status, headers, payload = reply.status, dict(reply.headers), reply.body
        except Exception:  # a bug in the emulator: say so loudly rather than hang the client
            status, headers, payload = 500, {}, "fake dropbox crashed:\n" + traceback.format_exc()
            with self._lock:
                self._counters.crashes.append(f"{route}: {traceback.format_exc()}")
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(payload, str):
            payload = payload.encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        h.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            h.send_header(name, value)
        h.end_headers()
        if fault == "reset":
            # Headers promise the whole body; half of it arrives, then the connection drops.
            h.wfile.write(payload[:len(payload) // 2])
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        node, sent = self._counters.serving(), 0
        try:
            for start in range(0, len(payload), 1 << 20):
                h.wfile.write(payload[start:start + (1 << 20)])
                sent += len(payload[start:start + (1 << 20)])
        finally:
            if node is not None:
                with self._lock:
                    self._counters.sent_bytes[node] += sent


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: Server, context: ssl.SSLContext):
        self.owner, self.context = owner, context
        super().__init__(address, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # Handshake in the connection's own thread (Handler.setup), not in the accept loop.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # clients that hang up (timeouts, resets) are part of the tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API; every reply has a Content-Length
    # Headers and body go out as separate writes; with Nagle on, the body of every small reply
    # waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    timeout = 60
    server: _TLSServer

    def setup(self):
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def do_POST(self):
        self.server.owner.handle(self)

    def log_message(self, format, *args):
        pass
