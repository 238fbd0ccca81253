"""Request classification (SigV4 service, region, account; the operation's name) and the call log.

The classification is shared by the call log and the patches' route matchers.
The call log middleware appends one JSON line per AWS request to the call log
file: ``{"t": <epoch seconds>, "service": "ec2", "operation": "DescribeVpcs", "akid": "AKIA…"}``
(``akid``: the SigV4 access key id the request was signed with, so that a test can tell whose
credentials a tool used)
(scripts/bench.py and ``emulator.sh calls`` read it).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from typing import Callable, Iterable, Optional

from .context import WSGIApp

# --------------------------------------------------------------------------
# Request classification (shared by the call log and the extra routes)
# --------------------------------------------------------------------------

_CREDENTIAL_RE = re.compile(r"Credential=([^,\s]+)")
# smithy rpc-v2-cbor style paths: /service/<Service>/operation/<Operation>
_RPC_V2_PATH_RE = re.compile(r"^/service/[^/]+/operation/([^/?]+)")
# X-Ray (restJson1) has one fixed POST path per operation; botocore's xray
# 2016-04-12 model. Used to log X-Ray calls by operation name.
XRAY_OPERATIONS = {
    "/Traces": "BatchGetTraces",
    "/CancelTraceRetrieval": "CancelTraceRetrieval",
    "/CreateGroup": "CreateGroup",
    "/CreateSamplingRule": "CreateSamplingRule",
    "/DeleteGroup": "DeleteGroup",
    "/DeleteResourcePolicy": "DeleteResourcePolicy",
    "/DeleteSamplingRule": "DeleteSamplingRule",
    "/EncryptionConfig": "GetEncryptionConfig",
    "/GetGroup": "GetGroup",
    "/Groups": "GetGroups",
    "/GetIndexingRules": "GetIndexingRules",
    "/Insight": "GetInsight",
    "/InsightEvents": "GetInsightEvents",
    "/InsightImpactGraph": "GetInsightImpactGraph",
    "/InsightSummaries": "GetInsightSummaries",
    "/GetRetrievedTracesGraph": "GetRetrievedTracesGraph",
    "/GetSamplingRules": "GetSamplingRules",
    "/SamplingStatisticSummaries": "GetSamplingStatisticSummaries",
    "/SamplingTargets": "GetSamplingTargets",
    "/ServiceGraph": "GetServiceGraph",
    "/TimeSeriesServiceStatistics": "GetTimeSeriesServiceStatistics",
    "/TraceGraph": "GetTraceGraph",
    "/GetTraceSegmentDestination": "GetTraceSegmentDestination",
    "/TraceSummaries": "GetTraceSummaries",
    "/ListResourcePolicies": "ListResourcePolicies",
    "/ListRetrievedTraces": "ListRetrievedTraces",
    "/ListTagsForResource": "ListTagsForResource",
    "/PutEncryptionConfig": "PutEncryptionConfig",
    "/PutResourcePolicy": "PutResourcePolicy",
    "/TelemetryRecords": "PutTelemetryRecords",
    "/TraceSegments": "PutTraceSegments",
    "/StartTraceRetrieval": "StartTraceRetrieval",
    "/TagResource": "TagResource",
    "/UntagResource": "UntagResource",
    "/UpdateGroup": "UpdateGroup",
    "/UpdateIndexingRule": "UpdateIndexingRule",
    "/UpdateSamplingRule": "UpdateSamplingRule",
    "/UpdateTraceSegmentDestination": "UpdateTraceSegmentDestination",
}


def read_body(environ: dict) -> bytes:
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


# S3 bucket sub-resources (the query key) → the operation's noun, e.g. GET ?versioning = GetBucketVersioning.
_S3_SUBRESOURCES = {
    "versioning": "BucketVersioning",
    "tagging": "BucketTagging",
    "ownershipControls": "BucketOwnershipControls",
    "publicAccessBlock": "PublicAccessBlock",
    "encryption": "BucketEncryption",
    "policy": "BucketPolicy",
    "lifecycle": "BucketLifecycleConfiguration",
    "location": "BucketLocation",
    "acl": "BucketAcl",
}


def _s3_operation(method: str, path: str, query_string: str) -> str:
    """S3's REST operations by method, path depth and sub-resource (path-style requests)."""
    query = {k for k, _ in urllib.parse.parse_qsl(query_string, keep_blank_values=True)}
    parts = [p for p in path.split("/") if p]
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}.get(method, method)
    if len(parts) <= 1:
        for key, noun in _S3_SUBRESOURCES.items():
            if key in query:
                return f"{verb}{noun}"
        if "versions" in query:
            return "ListObjectVersions"
        if "delete" in query and method == "POST":
            return "DeleteObjects"
        if not parts:
            return "ListBuckets"
        return {"GET": "ListObjectsV2", "PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(
            method, f"{method} /bucket"
        )
    return {"GET": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}.get(
        method, f"{method} /object"
    )


# Route 53's REST operations by (method, path under /2013-04-01), for the call log and the benchmark tables.
_ROUTE53_OPERATIONS: list[tuple[str, "re.Pattern[str]", str]] = [
    (m, re.compile(p), name) for m, p, name in [
        ("POST", r"^/hostedzone/?$", "CreateHostedZone"),
        ("GET", r"^/hostedzone/?$", "ListHostedZones"),
        ("GET", r"^/hostedzonesbyname/?$", "ListHostedZonesByName"),
        ("GET", r"^/hostedzonecount/?$", "GetHostedZoneCount"),
        ("GET", r"^/hostedzone/[^/]+/?$", "GetHostedZone"),
        ("POST", r"^/hostedzone/[^/]+/?$", "UpdateHostedZoneComment"),
        ("DELETE", r"^/hostedzone/[^/]+/?$", "DeleteHostedZone"),
        ("POST", r"^/hostedzone/[^/]+/rrset/?$", "ChangeResourceRecordSets"),
        ("GET", r"^/hostedzone/[^/]+/rrset/?$", "ListResourceRecordSets"),
        ("GET", r"^/hostedzone/[^/]+/dnssec/?$", "GetDNSSEC"),
        ("POST", r"^/tags/[^/]+/?$", "ListTagsForResources"),
        ("POST", r"^/tags/[^/]+/[^/]+/?$", "ChangeTagsForResource"),
        ("GET", r"^/tags/[^/]+/[^/]+/?$", "ListTagsForResource"),
        ("GET", r"^/change/[^/]+/?$", "GetChange"),
        ("POST", r"^/healthcheck/?$", "CreateHealthCheck"),
        ("GET", r"^/healthcheck/?$", "ListHealthChecks"),
        ("GET", r"^/healthcheck/[^/]+/?$", "GetHealthCheck"),
        ("POST", r"^/healthcheck/[^/]+/?$", "UpdateHealthCheck"),
        ("DELETE", r"^/healthcheck/[^/]+/?$", "DeleteHealthCheck"),
    ]
]


def _route53_operation(method: str, path: str) -> str | None:
    rest = re.sub(r"^/\d{4}-\d{2}-\d{2}", "", path)
    for m, pattern, name in _ROUTE53_OPERATIONS:
        if m == method and pattern.match(rest):
            return name
    return None


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
        body = read_body(environ)
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if form.get("Action"):
            return form["Action"][0]
    path = environ.get("PATH_INFO") or "/"
    if method == "POST" and service_of(environ) == "xray":
        name = XRAY_OPERATIONS.get(path.rstrip("/"))
        if name:
            return name
    m = _RPC_V2_PATH_RE.match(path)
    if m:
        return m.group(1)
    if service_of(environ) == "s3":
        return _s3_operation(method, path, environ.get("QUERY_STRING") or "")
    if service_of(environ) == "route53":
        name = _route53_operation(method, path)
        if name:
            return name
    # REST services: "METHOD /first-segment".
    first = path.lstrip("/").split("/", 1)[0]
    return f"{method} /{first}"


def region_of(environ: dict) -> str:
    """SigV4 credential scope region (AKID/DATE/REGION/SERVICE/aws4_request)."""
    m = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION") or "")
    scope = m.group(1) if m else None
    if scope is None:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "")
        scope = (query.get("X-Amz-Credential") or [None])[0]
    parts = scope.split("/") if scope else []
    return parts[2] if len(parts) >= 5 else "us-east-1"


def account_of(environ: dict) -> str:
    """The account moto would use for this request (see moto BaseResponse.get_current_account)."""
    if os.environ.get("MOTO_ACCOUNT_ID"):
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    m = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION") or "")
    access_key = m.group(1).split("/", 1)[0] if m else None
    if access_key:
        try:
            from moto.iam.models import get_account_id_from

            return get_account_id_from(access_key)
        except Exception:  # noqa: BLE001 - fall back to moto's default account
            pass
    from moto.core import DEFAULT_ACCOUNT_ID

    return DEFAULT_ACCOUNT_ID  # 123456789012


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

    def record(self, service: str, operation: str, t: float, akid: Optional[str] = None) -> None:
        line = json.dumps({"t": t, "service": service, "operation": operation, "akid": akid}) + "\n"
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
            if not path.startswith(("/moto-api", "/hms-api")) and path != "/favicon.ico":
                t = time.time()
                try:
                    service, operation = service_of(environ), operation_of(environ)
                except Exception as exc:  # never let logging break a request
                    service, operation = "unknown", f"error: {exc}"
                try:
                    m = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION") or "")
                    akid = m.group(1).split("/", 1)[0] if m else None
                    self.log.record(service, operation, t, akid)
                except OSError as exc:
                    print(f"emulator: call log write failed: {exc}", file=sys.stderr)
        return self.app(environ, start_response)
