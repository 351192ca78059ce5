#!/usr/bin/python3
"""The two Kubernetes pieces vipd talks to, for the namespace lab (standard library only):

- `api`: a kube-apiserver for one Service's EndpointSlices over HTTPS with a bearer token:
  `GET /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices?labelSelector=kubernetes.io/
  service-name=<name>` as a list (kind EndpointSliceList, list resourceVersion) and, with
  `watch=1&resourceVersion=<rv>&allowWatchBookmarks=true&timeoutSeconds=<n>`, as a chunked watch
  stream of ADDED/MODIFIED/DELETED/BOOKMARK events, one JSON object per line. A watch from a
  resourceVersion older than the kept history gets the ERROR event with the 410 `Expired` Status the
  real server sends. A wrong token gets 401 with the real Status body.
- `healthz`: kube-proxy's healthCheckNodePort for one Service: 200 with localEndpoints > 0, 503
  otherwise, with kube-proxy's exact body and headers (pkg/proxy/healthcheck/service_health.go).

Both are started inside a lab namespace on a lab address (198.18.0.0/15) and steered by the test
through a Unix socket (one JSON request per connection, one JSON answer). The API server keeps its
objects in a state file so that a killed server restarts with them (as etcd would keep them).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

API_VERSION = "discovery.k8s.io/v1"


def now_ns() -> int:
    return time.monotonic_ns()


# ----------------------------------------------------------------------------------------------
# Control channel


class ControlServer(threading.Thread):
    """Unix-socket server: `handler(request dict) -> answer dict`."""

    def __init__(self, path: str, handler: Callable[[dict], dict]):
        super().__init__(daemon=True)
        self.path = path
        self.handler = handler
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)

    def run(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                try:
                    answer = self.handler(json.loads(data))
                except Exception as exc:  # reported to the test, which fails on it
                    answer = {"error": repr(exc)}
                conn.sendall(json.dumps(answer).encode() + b"\n")


def control(path: str, request: dict, timeout: float = 10.0) -> dict:
    """The test side of the control channel."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    if "error" in answer:
        raise RuntimeError(f"kube_stub: {answer['error']}")
    return answer


# ----------------------------------------------------------------------------------------------
# The API server's objects


def status_object(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Store:
    """Pods of one Service, served as EndpointSlices (one per address family, as the EndpointSlice
    controller makes them for a dual-stack Service), a resourceVersion counter and the history of
    watch events since the last compaction."""

    def __init__(self, namespace: str, service: str, state_file: Path):
        self.namespace = namespace
        self.service = service
        self.state_file = state_file
        self.cond = threading.Condition()
        self.pods: dict[str, dict] = {}
        self.rv = 1000
        self.slices: dict[str, dict] = {}
        self.history: list[tuple[int, dict]] = []  # (rv, event), rv increasing
        self.compacted_rv = self.rv  # watches from before this get 410
        self.generation = 0  # bumped to end every open watch (expire / drop)
        self.expire_generation = 0
        self.mode = "ok"
        self.stats = {"lists": 0, "watches": 0, "unauthorized": 0, "refused_by_mode": 0,
                      "events_sent": 0, "bookmarks_sent": 0, "gone_sent": 0}
        if state_file.exists():
            saved = json.loads(state_file.read_text())
            self.pods = saved["pods"]
            self.slices = saved["slices"]
            # A restarted server keeps etcd's versions but none of the watch history.
            self.rv = saved["rv"] + 10
            self.compacted_rv = self.rv

    # -- objects

    def _slice(self, name: str, family: str, pods: list[tuple[str, dict]]) -> dict:
        endpoints = []
        for pod_name, pod in pods:
            address = pod["ipv4"] if family == "IPv4" else pod["ipv6"]
            endpoint = {
                "addresses": [address],
                "conditions": {"ready": pod["ready"], "serving": pod.get("serving", pod["ready"]),
                               "terminating": pod.get("terminating", False)},
                "targetRef": {"kind": "Pod", "namespace": self.namespace, "name": pod_name,
                              "uid": pod["uid"]},
            }
            if pod.get("node"):
                endpoint["nodeName"] = pod["node"]
            endpoint["zone"] = "lab"
            endpoints.append(endpoint)
        return {
            "kind": "EndpointSlice", "apiVersion": API_VERSION,
            "metadata": {
                "name": name, "generateName": f"{self.service}-", "namespace": self.namespace,
                "uid": f"00000000-0000-4000-8000-{abs(hash(name)) % 10**12:012d}",
                "resourceVersion": "0", "generation": 1,
                "creationTimestamp": "2024-03-11T09:12:44Z",
                "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                           "kubernetes.io/service-name": self.service},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": self.service,
                                     "uid": "9b0c3f4e-2d7a-4c61-8e1f-5a6b7c8d9e0f",
                                     "controller": True, "blockOwnerDeletion": True}],
            },
            "addressType": family,
            "endpoints": endpoints or None,  # Go's nil slice
            "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
        }

    def _desired_slices(self) -> dict[str, dict]:
        by_slice: dict[str, list[tuple[str, dict]]] = {}
        for pod_name, pod in sorted(self.pods.items()):
            by_slice.setdefault(pod.get("slice", "a"), []).append((pod_name, pod))
        desired = {}
        for key, pods in by_slice.items():
            for family in ("IPv4", "IPv6"):
                name = f"{self.service}-{key}{'' if family == 'IPv4' else '6'}"
                desired[name] = self._slice(name, family, pods)
        return desired

    def set_pods(self, pods: dict[str, dict]) -> list[dict]:
        """Replaces the pods; returns the watch events this caused (one per changed slice)."""
        with self.cond:
            self.pods = pods
            desired = self._desired_slices()
            events = []
            for name in sorted(set(self.slices) | set(desired)):
                old, new = self.slices.get(name), desired.get(name)
                if new is not None and old is not None:
                    comparable = dict(old, metadata=dict(old["metadata"], resourceVersion="0"))
                    if comparable == new:
                        continue
                self.rv += 1
                if new is None:
                    obj = dict(old, metadata=dict(old["metadata"], resourceVersion=str(self.rv)))
                    del self.slices[name]
                    events.append({"type": "DELETED", "object": obj})
                else:
                    new["metadata"]["resourceVersion"] = str(self.rv)
                    events.append({"type": "MODIFIED" if old is not None else "ADDED", "object": new})
                    self.slices[name] = new
                self.history.append((self.rv, events[-1]))
            self._save()
            self.cond.notify_all()
            return events

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pods": self.pods, "slices": self.slices, "rv": self.rv}))
        tmp.replace(self.state_file)

    def list_body(self) -> bytes:
        with self.cond:
            items = []
            for name in sorted(self.slices):
                item = {k: v for k, v in self.slices[name].items() if k not in ("kind", "apiVersion")}
                items.append(item)
            body = {"kind": "EndpointSliceList", "apiVersion": API_VERSION,
                    "metadata": {"resourceVersion": str(self.rv)}, "items": items}
        return json.dumps(body).encode()

    def expire(self) -> None:
        """Compacts the history and ends every open watch with 410 (as after etcd compaction)."""
        with self.cond:
            self.compacted_rv = self.rv  # a watch from the current version is still fine
            self.history.clear()
            self.expire_generation += 1
            self.cond.notify_all()

    def drop_watches(self) -> None:
        with self.cond:
            self.generation += 1
            self.cond.notify_all()


# ----------------------------------------------------------------------------------------------
# HTTPS


class TlsThreadingServer(ThreadingHTTPServer):
    """TLS handshakes run in the request's thread, so a stalled client cannot block accept()."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, context: ssl.SSLContext):
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        request.settimeout(5)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log(f"TLS handshake with {client_address} failed: {exc}")
            return
        tls.settimeout(None)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def log(text: str) -> None:
    sys.stderr.write(f"{now_ns()} {text}\n")
    sys.stderr.flush()


def api_handler(store: Store, token_file: Path, bookmark_interval: float, watch_cap: float):
    slices_path = f"/apis/{API_VERSION}/namespaces/{store.namespace}/endpointslices"
    selector = f"kubernetes.io/service-name={store.service}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log(f"{self.address_string()} {fmt % args}")

        def send_json(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def do_GET(self):  # noqa: N802 (http.server's name)
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            expected = "Bearer " + token_file.read_text().strip()
            if self.headers.get("Authorization") != expected:
                store.stats["unauthorized"] += 1
                self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
                return
            if store.mode == "error500":
                store.stats["refused_by_mode"] += 1
                self.send_json(500, status_object(500, "InternalError",
                                                  "Internal error occurred: etcdserver: leader changed"))
                return
            if store.mode == "unauthorized":
                store.stats["refused_by_mode"] += 1
                self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
                return
            if url.path != slices_path or query.get("labelSelector") != [selector]:
                self.send_json(404, status_object(404, "NotFound", f"unexpected request {self.path}"))
                return
            if query.get("watch") in (["1"], ["true"]):
                self.watch(query)
                return
            store.stats["lists"] += 1
            body = store.list_body()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def watch(self, query: dict) -> None:
            store.stats["watches"] += 1
            since = int(query.get("resourceVersion", ["0"])[0])
            bookmarks = query.get("allowWatchBookmarks") == ["true"]
            timeout = float(query.get("timeoutSeconds", ["1800"])[0])
            if watch_cap > 0:
                timeout = min(timeout, watch_cap)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            deadline = time.monotonic() + timeout
            next_bookmark = time.monotonic() + bookmark_interval
            with store.cond:
                generation, expire_generation = store.generation, store.expire_generation
                gone = since < store.compacted_rv
            position = since
            try:
                if gone:
                    self.send_gone(since)
                    return
                while True:
                    with store.cond:
                        pending = [event for rv, event in store.history if rv > position]
                        if not pending and store.generation == generation and \
                                store.expire_generation == expire_generation:
                            wait = min(deadline, next_bookmark) - time.monotonic()
                            if wait > 0:
                                store.cond.wait(wait)
                            pending = [event for rv, event in store.history if rv > position]
                        dropped = store.generation != generation
                        expired = store.expire_generation != expire_generation
                        current_rv = store.rv
                    if dropped:
                        # An abrupt end, as when the API server process dies: no last chunk.
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if expired:
                        self.send_gone(position)
                        return
                    for event in pending:
                        self.chunk(json.dumps(event).encode() + b"\n")
                        store.stats["events_sent"] += 1
                        position = int(event["object"]["metadata"]["resourceVersion"])
                    if time.monotonic() >= deadline:
                        break
                    if bookmarks and time.monotonic() >= next_bookmark:
                        # Only metadata.resourceVersion is set, as the API documents it.
                        bookmark = {"type": "BOOKMARK", "object": {
                            "kind": "EndpointSlice", "apiVersion": API_VERSION,
                            "metadata": {"resourceVersion": str(current_rv), "creationTimestamp": None},
                            "addressType": "", "endpoints": None}}
                        self.chunk(json.dumps(bookmark).encode() + b"\n")
                        store.stats["bookmarks_sent"] += 1
                        position = max(position, current_rv)
                        next_bookmark = time.monotonic() + bookmark_interval
                self.wfile.write(b"0\r\n\r\n")  # the server's timeoutSeconds: a clean end
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True

        def send_gone(self, since: int) -> None:
            status = status_object(410, "Expired",
                                   f"too old resource version: {since} ({store.rv})")
            self.chunk(json.dumps({"type": "ERROR", "object": status}).encode() + b"\n")
            store.stats["gone_sent"] += 1
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


def run_api(args) -> int:
    restarted = Path(args.state).exists()
    store = Store(args.namespace, args.service, Path(args.state))
    if args.pods and not restarted:
        store.set_pods(json.loads(Path(args.pods).read_text()))

    def handle(request: dict) -> dict:
        op = request["op"]
        if op == "set_pods":
            t0 = now_ns()
            events = store.set_pods(request["pods"])
            return {"events": len(events), "t0": t0, "rv": store.rv}
        if op == "expire":
            store.expire()
            return {"rv": store.rv}
        if op == "drop_watches":
            store.drop_watches()
            return {}
        if op == "mode":
            store.mode = request["mode"]
            if request.get("drop_watches", True):
                store.drop_watches()
            return {}
        if op == "stats":
            with store.cond:
                return {"stats": dict(store.stats), "rv": store.rv}
        raise ValueError(f"unknown op {op}")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server = TlsThreadingServer((args.address, args.port),
                                api_handler(store, Path(args.token_file), args.bookmark_interval,
                                            args.watch_cap),
                                context)
    ControlServer(args.control, handle).start()
    print("READY", flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


# ----------------------------------------------------------------------------------------------
# kube-proxy's healthCheckNodePort


def run_healthz(args) -> int:
    state = {"local_endpoints": args.local_endpoints, "proxy_healthy": True, "requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *unused):
            pass

        def do_GET(self):  # noqa: N802
            with lock:
                state["requests"] += 1
                count, healthy = state["local_endpoints"], state["proxy_healthy"]
            # Byte for byte what kube-proxy writes (dedent of a tab-indented template).
            body = (f'{{\n\t"service": {{\n\t\t"namespace": {json.dumps(args.namespace)},\n'
                    f'\t\t"name": {json.dumps(args.service)}\n\t}},\n'
                    f'\t"localEndpoints": {count},\n'
                    f'\t"serviceProxyHealthy": {"true" if healthy else "false"}\n}}').encode()
            self.send_response(200 if count != 0 and healthy else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Load-Balancing-Endpoint-Weight", str(count))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def handle(request: dict) -> dict:
        with lock:
            if request["op"] == "set":
                state["local_endpoints"] = request.get("local_endpoints", state["local_endpoints"])
                state["proxy_healthy"] = request.get("proxy_healthy", state["proxy_healthy"])
                return {"t0": now_ns()}
            if request["op"] == "stats":
                return dict(state)
        raise ValueError(f"unknown op {request['op']}")

    socketserver.TCPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    ControlServer(args.control, handle).start()
    print("READY", flush=True)
    server.serve_forever(poll_interval=0.2)
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    api = sub.add_parser("api")
    api.add_argument("--address", required=True)
    api.add_argument("--port", type=int, default=6443)
    api.add_argument("--cert", required=True)
    api.add_argument("--key", required=True)
    api.add_argument("--token-file", required=True)
    api.add_argument("--namespace", required=True)
    api.add_argument("--service", required=True)
    api.add_argument("--state", required=True)
    api.add_argument("--pods", help="JSON file with the initial pods (only without a state file)")
    api.add_argument("--control", required=True)
    api.add_argument("--bookmark-interval", type=float, default=60.0)
    api.add_argument("--watch-cap", type=float, default=0.0,
                     help="end every watch after this many seconds (0: the client's timeoutSeconds)")
    healthz = sub.add_parser("healthz")
    healthz.add_argument("--address", required=True)
    healthz.add_argument("--port", type=int, required=True)
    healthz.add_argument("--namespace", required=True)
    healthz.add_argument("--service", required=True)
    healthz.add_argument("--local-endpoints", type=int, default=1)
    healthz.add_argument("--control", required=True)
    args = parser.parse_args(argv)
    return run_api(args) if args.command == "api" else run_healthz(args)


if __name__ == "__main__":
    sys.exit(main())
