#!/usr/bin/env python3
"""Project-owned launcher for the moto AWS emulator (moto[server]==5.2.5).

Usage:
    python scripts/emulator.py --host 127.0.0.1 --port N [--call-log FILE]

It builds moto's WSGI app exactly the way moto's own server does
(``moto/server.py`` and ``moto/moto_server/threaded_moto_server.py``:
``DomainDispatcherApplication(create_backend_app)`` served by werkzeug with
``MotoRequestHandler``), and wraps it in:

* an optional router of extra routes (see ``PATCHES`` below), tried before
  moto, for APIs moto lacks;
* a call-log middleware that appends one JSON line per AWS request to
  ``--call-log FILE`` (or ``$HMS_EMULATOR_CALL_LOG``):
  ``{"t": <epoch seconds>, "service": "ec2", "operation": "DescribeVpcs"}``.

After the socket is listening it warms moto up with one request per service
the project uses (moto's first request per service takes ~2 s), then enables
the call log, and prints ``ready`` on stdout.

Normally started through ``scripts/emulator.sh start``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

# Must be set before moto is imported: moto reads its settings at import time.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

# --------------------------------------------------------------------------
# Request classification (shared by the call log and the extra routes)
# --------------------------------------------------------------------------

_CREDENTIAL_RE = re.compile(r"Credential=([^,\s]+)")
# smithy rpc-v2-cbor style paths: /service/<Service>/operation/<Operation>
_RPC_V2_PATH_RE = re.compile(r"^/service/[^/]+/operation/([^/?]+)")


def _read_body(environ: dict) -> bytes:
    """Read the request body and put it back so the wrapped app still sees it.

    The body is re-wrapped as ``io.BytesIO`` and CONTENT_LENGTH is kept (or,
    for a chunked body without one, set to the length actually read).
    """
    cached = environ.get("hms.body")
    if cached is not None:
        return cached
    stream = environ.get("wsgi.input")
    body = b""
    if stream is not None:
        length_header = environ.get("CONTENT_LENGTH") or ""
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length > 0:
            body = stream.read(length)
        elif length < 0 and environ.get("wsgi.input_terminated"):
            # Chunked transfer: werkzeug hands us a stream that ends at EOF.
            body = stream.read()
            environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
    environ["hms.body"] = body
    return body


def service_of(environ: dict) -> str:
    """SigV4 credential scope service: Credential=AKID/DATE/REGION/SERVICE/aws4_request."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    m = _CREDENTIAL_RE.search(auth)
    scope = m.group(1) if m else None
    if scope is None:
        # Presigned URL: X-Amz-Credential in the query string.
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "")
        scope = (query.get("X-Amz-Credential") or [None])[0]
    if scope:
        parts = scope.split("/")
        if len(parts) >= 5:
            return parts[3]
    return "unknown"


def operation_of(environ: dict) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        # JSON protocols, e.g. "Logs_20140328.DescribeLogGroups".
        return target.rsplit(".", 1)[-1]
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "")
    if query.get("Action"):
        return query["Action"][0]
    content_type = environ.get("CONTENT_TYPE") or ""
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        # Query protocol (EC2, IAM, STS, RDS, ...): Action=...&Version=... in the body.
        body = _read_body(environ)
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if form.get("Action"):
            return form["Action"][0]
    path = environ.get("PATH_INFO") or "/"
    m = _RPC_V2_PATH_RE.match(path)
    if m:
        return m.group(1)
    # REST services: "METHOD /first-segment".
    first = path.lstrip("/").split("/", 1)[0]
    return f"{method} /{first}"


# --------------------------------------------------------------------------
# Call log middleware
# --------------------------------------------------------------------------


class CallLog:
    """Thread-safe JSON-lines appender. Opens the file per write in append mode
    so that `emulator.sh reset-calls` (truncate) or deleting it just works."""

    def __init__(self, path: Optional[str]):
        self.path = path
        self.enabled = False  # switched on after warm-up
        self._lock = threading.Lock()

    def record(self, service: str, operation: str, t: float) -> None:
        line = json.dumps({"t": t, "service": service, "operation": operation}) + "\n"
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as f:  # type: ignore[arg-type]
                f.write(line)
                f.flush()


class CallLogMiddleware:
    def __init__(self, app: WSGIApp, log: CallLog):
        self.app = app
        self.log = log

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.log.enabled and self.log.path:
            path = environ.get("PATH_INFO") or ""
            if not path.startswith("/moto-api") and path != "/favicon.ico":
                t = time.time()
                try:
                    service, operation = service_of(environ), operation_of(environ)
                except Exception as exc:  # never let logging break a request
                    service, operation = "unknown", f"error: {exc}"
                try:
                    self.log.record(service, operation, t)
                except OSError as exc:
                    print(f"emulator: call log write failed: {exc}", file=sys.stderr)
        return self.app(environ, start_response)


# --------------------------------------------------------------------------
# Extra routes / patches: the place to add APIs moto lacks
# --------------------------------------------------------------------------

Matcher = Callable[[dict], bool]


@dataclass
class PatchContext:
    """Handed to each patch before the server starts.

    * ``moto_app``: moto's DomainDispatcherApplication (e.g. to monkeypatch a
      backend class, or inspect ``moto_app.app_instances``).
    * ``add_route(matcher, app)``: serve requests for which ``matcher(environ)``
      is true with the WSGI ``app`` instead of moto. Matchers may use
      ``service_of(environ)`` / ``operation_of(environ)`` from this module.
    """

    moto_app: DomainDispatcherApplication
    routes: list = field(default_factory=list)

    def add_route(self, matcher: Matcher, app: WSGIApp) -> None:
        self.routes.append((matcher, app))


# Patches applied, in order, before serving. Each is `def patch(ctx: PatchContext) -> None`.
# Planned (not implemented yet):
#   - X-Ray sampling rules (GetSamplingRules / CreateSamplingRule / ...), e.g.
#       ctx.add_route(lambda env: service_of(env) == "xray"
#                     and operation_of(env) == "POST /GetSamplingRules", xray_app)
#   - RDS reserved instances (DescribeReservedDBInstances[Offerings], Purchase...).
PATCHES: list[Callable[[PatchContext], None]] = []


class Router:
    """Tries the extra routes first, then falls through to moto."""

    def __init__(self, fallback: WSGIApp, routes: list):
        self.fallback = fallback
        self.routes = routes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        for matcher, app in self.routes:
            if matcher(environ):
                return app(environ, start_response)
        return self.fallback(environ, start_response)


def build_app(call_log: CallLog) -> WSGIApp:
    # Same as moto/server.py main().
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True  # type: ignore[attr-defined]
    ctx = PatchContext(moto_app=moto_app)
    for patch in PATCHES:
        patch(ctx)
    app: WSGIApp = Router(moto_app, ctx.routes) if ctx.routes else moto_app
    return CallLogMiddleware(app, call_log)


# --------------------------------------------------------------------------
# Warm-up
# --------------------------------------------------------------------------


def _fake_auth(service: str, region: str = "us-east-1") -> str:
    # moto does not verify signatures; it only reads the credential scope.
    return (
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00"
    )


FORM = "application/x-www-form-urlencoded; charset=utf-8"
WARMUP: list[tuple[str, str, dict, bytes]] = [
    # (service, label, extra headers, body)
    ("ec2", "DescribeVpcs", {"Content-Type": FORM}, b"Action=DescribeVpcs&Version=2016-11-15"),
    ("iam", "ListRoles", {"Content-Type": FORM}, b"Action=ListRoles&Version=2010-05-08"),
    ("sts", "GetCallerIdentity", {"Content-Type": FORM}, b"Action=GetCallerIdentity&Version=2011-06-15"),
    (
        "logs",
        "DescribeLogGroups",
        {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
        },
        b"{}",
    ),
]


def warm_up(base_url: str) -> None:
    for service, label, headers, body in WARMUP:
        start = time.monotonic()
        req = urllib.request.Request(base_url + "/", data=body, method="POST")
        req.add_header("Authorization", _fake_auth(service))
        req.add_header("X-Amz-Date", "20260101T000000Z")
        for k, v in headers.items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status = resp.status
                resp.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.read()
        took = time.monotonic() - start
        note = "" if status < 400 else "  (unexpected status)"
        print(f"emulator: warm-up {service} {label}: HTTP {status} in {took:.2f}s{note}",
              file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--call-log", default=os.environ.get("HMS_EMULATOR_CALL_LOG") or None)
    parser.add_argument("--no-warm-up", action="store_true", help="skip the warm-up requests")
    args = parser.parse_args(argv)

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the emulator only listens on loopback (127.0.0.1, localhost or ::1)")
    # moto uses MOTO_PORT when it builds URLs pointing back at itself.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    call_log = CallLog(os.path.abspath(args.call_log) if args.call_log else None)
    app = build_app(call_log)
    server = make_server(args.host, args.port, app, threaded=True,
                         request_handler=MotoRequestHandler)

    def _stop(signum: int, frame: Any) -> None:
        # shutdown() blocks until serve_forever returns, so call it off-thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()

    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{server.server_port}"
    print(f"emulator: listening on {base_url}", file=sys.stderr, flush=True)
    if not args.no_warm_up:
        try:
            warm_up(base_url)
        except Exception as exc:
            print(f"emulator: warm-up failed: {exc!r}", file=sys.stderr, flush=True)
            server.shutdown()
            return 1
    call_log.enabled = call_log.path is not None
    print("ready", flush=True)

    while serving.is_alive():
        serving.join(timeout=1.0)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
