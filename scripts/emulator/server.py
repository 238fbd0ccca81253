"""The server: moto's WSGI app wrapped in the patches' router and the call log, the reset hook, the
warm-up, and main() (the command line; see the package docstring)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Iterable, Optional

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from . import __doc__ as PACKAGE_DOC
from .calllog import CallLog, CallLogMiddleware
from .context import PatchContext, WSGIApp
from .patches import PATCHES, latency

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


def install_reset_hooks(hooks: list[Callable[[], None]]) -> None:
    """Make moto's reset (``POST /moto-api/reset``: MotoAPIBackend.reset, which resets every moto backend)
    also call `hooks`, which clear the stores the patches keep outside moto's backends. Replaces the
    hooks of an earlier build_app rather than adding to them."""
    from moto.moto_api._internal.models import MotoAPIBackend

    original = getattr(MotoAPIBackend.reset, "hms_original", MotoAPIBackend.reset)

    def reset(self):  # type: ignore[no-untyped-def]
        original(self)
        for hook in hooks:
            hook()

    reset.hms_original = original  # type: ignore[attr-defined]
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]


def build_app(call_log: CallLog) -> WSGIApp:
    # Same as moto/server.py main().
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True  # type: ignore[attr-defined]
    ctx = PatchContext(moto_app=moto_app)
    for patch in PATCHES:
        patch(ctx)
    install_reset_hooks(list(ctx.reset_hooks))
    app: WSGIApp = Router(moto_app, ctx.routes) if ctx.routes else moto_app
    return CallLogMiddleware(app, call_log)


# --------------------------------------------------------------------------
# Warm-up
# --------------------------------------------------------------------------


def fake_auth(service: str, region: str = "us-east-1") -> str:
    # moto does not verify signatures; it only reads the credential scope.
    return (
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00"
    )


FORM = "application/x-www-form-urlencoded; charset=utf-8"
WARMUP: list[tuple[str, str, dict, bytes, str]] = [
    # (service, label, extra headers, body, path)
    ("ec2", "DescribeVpcs", {"Content-Type": FORM}, b"Action=DescribeVpcs&Version=2016-11-15", "/"),
    ("iam", "ListRoles", {"Content-Type": FORM}, b"Action=ListRoles&Version=2010-05-08", "/"),
    ("sts", "GetCallerIdentity", {"Content-Type": FORM}, b"Action=GetCallerIdentity&Version=2011-06-15", "/"),
    (
        "logs",
        "DescribeLogGroups",
        {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
        },
        b"{}",
        "/",
    ),
    # Served by patch_xray_sampling_rules_and_groups, not moto: costs milliseconds and
    # shows at start that the route answers.
    ("xray", "GetSamplingRules", {"Content-Type": "application/json"}, b"{}", "/GetSamplingRules"),
    # CloudWatch as the SDKs speak it (rpc-v2-cbor, through patch_rpc_v2_cbor_bridge):
    # warms moto's cloudwatch backend and the bridge's botocore model. Body: empty CBOR map.
    (
        "monitoring",
        "ListDashboards (rpc-v2-cbor)",
        {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"},
        b"\xa0",
        "/service/GraniteServiceVersion20100801/operation/ListDashboards",
    ),
]


def warm_up(base_url: str) -> None:
    for service, label, headers, body, path in WARMUP:
        start = time.monotonic()
        req = urllib.request.Request(base_url + path, data=body, method="POST")
        req.add_header("Authorization", fake_auth(service))
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
    parser = argparse.ArgumentParser(prog="emulator", description=PACKAGE_DOC.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--call-log", default=os.environ.get("HMS_EMULATOR_CALL_LOG") or None)
    parser.add_argument("--no-warm-up", action="store_true", help="skip the warm-up requests")
    args = parser.parse_args(argv)

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the emulator only listens on loopback (127.0.0.1, localhost or ::1)")
    try:
        latency.parse_scale(os.environ.get(latency.ENV))
    except ValueError as exc:
        print(f"emulator: {exc}", file=sys.stderr, flush=True)
        return 64
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

