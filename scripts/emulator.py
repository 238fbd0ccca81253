#!/usr/bin/env python3
"""Project-owned launcher for the moto AWS emulator (moto[server]==5.2.5).

Usage:
    python scripts/emulator.py --host 127.0.0.1 --port N [--call-log FILE]

It builds moto's WSGI app exactly the way moto's own server does
(``moto/server.py`` and ``moto/moto_server/threaded_moto_server.py``:
``DomainDispatcherApplication(create_backend_app)`` served by werkzeug with
``MotoRequestHandler``), and wraps it in:

* an optional router of extra routes (see ``PATCHES`` below), tried before
  moto, for APIs moto lacks (patches may also monkeypatch moto bugs);
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
import base64
import gzip
import io
import json
import math
import os
import re
import signal
import struct
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus
from xml.sax.saxutils import escape as xml_escape
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
    if method == "POST" and service_of(environ) == "xray":
        name = XRAY_OPERATIONS.get(path.rstrip("/"))
        if name:
            return name
    m = _RPC_V2_PATH_RE.match(path)
    if m:
        return m.group(1)
    if service_of(environ) == "s3":
        return _s3_operation(method, path, environ.get("QUERY_STRING") or "")
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


# ---- Patch: RDS backup/maintenance windows that only touch -----------------
#
# moto gap: moto/rds/utils.py::valid_preferred_maintenance_window rejects a
# PreferredBackupWindow that merely *touches* the PreferredMaintenanceWindow
# (backup "03:00-04:00" + maintenance "sun:04:00-sun:05:00") with "The backup
# window and maintenance window must not overlap.", because it treats an overlap
# of 0 seconds as an overlap (`get_overlap_between_two_date_ranges(...) >= 0`).
# AWS accepts adjacent windows. The validator looks the overlap helper up in
# moto.rds.utils' globals at call time (models.py imports only the validator,
# `from .utils import valid_preferred_maintenance_window`), so replacing the
# helper in moto.rds.utils fixes both CreateDBInstance and ModifyDBInstance.
# Only ranges that meet end-to-start are affected; real overlaps still fail.


def patch_rds_touching_windows(ctx: PatchContext) -> None:
    import moto.rds.models as rds_models
    import moto.rds.utils as rds_utils

    original = rds_utils.get_overlap_between_two_date_ranges
    if getattr(original, "hms_patched", False):
        return

    def get_overlap_between_two_date_ranges(start_1, end_1, start_2, end_2):  # type: ignore[no-untyped-def]
        overlap = original(start_1, end_1, start_2, end_2)
        non_empty = start_1 < end_1 and start_2 < end_2
        if overlap == 0 and non_empty and (end_1 == start_2 or end_2 == start_1):
            return -1  # adjacent ranges (one ends where the other starts): no overlap
        return overlap

    get_overlap_between_two_date_ranges.hms_patched = True  # type: ignore[attr-defined]
    rds_utils.get_overlap_between_two_date_ranges = get_overlap_between_two_date_ranges
    # The validator models.py calls must be the one that reads utils' globals.
    validator = rds_models.valid_preferred_maintenance_window
    if validator.__globals__ is not vars(rds_utils):
        raise RuntimeError("moto.rds.models.valid_preferred_maintenance_window is not "
                           "moto.rds.utils' function; the window patch would not apply")


# ---- Patch: RDS reserved DB instances ---------------------------------------
#
# moto gap: moto 5.2.5 has no reserved DB instance API at all. This serves, in
# the RDS Query protocol (API version 2014-10-31):
#   DescribeReservedDBInstancesOfferings, PurchaseReservedDBInstancesOffering,
#   DescribeReservedDBInstances
# from a fixed, deterministic offering catalogue; purchases are kept in memory
# per region (region from the SigV4 credential scope).
#
# Offering ids are uuid5(RDS_RI_NAMESPACE, "<class>|<product>|<multi_az>|<duration s>|<type>")
# with multi_az "true"/"false", e.g. "db.t3.medium|postgresql|true|31536000|Partial Upfront".
#
# Prices (USD): on-demand hourly per class and product (RDS_ON_DEMAND_HOURLY),
# doubled for Multi-AZ. The effective hourly cost of a reservation is
# on_demand * RDS_RI_EFFECTIVE_RATE[(years, type)], so 3 years is cheaper per year
# and more upfront is cheaper overall. With hours = 8760 * years:
#   No Upfront:      FixedPrice 0,                          hourly = effective
#   Partial Upfront: FixedPrice = effective * hours / 2,    hourly = effective / 2
#   All Upfront:     FixedPrice = effective * hours,        no RecurringCharges
# FixedPrice is rounded to cents, hourly to 4 decimals (half up); UsagePrice is 0.0.

RDS_XMLNS = "http://rds.amazonaws.com/doc/2014-10-31/"
RDS_ACCOUNT_ID = "123456789012"  # moto's default account
RDS_RI_NAMESPACE = uuid.UUID("5c0f3f4e-7d1a-4c59-9b7e-2a6f0e1d8b21")
RDS_RI_PRODUCTS = ("postgresql", "mysql")
RDS_RI_DURATIONS = (31536000, 94608000)  # 1 and 3 years, in seconds
RDS_RI_OFFERING_TYPES = ("No Upfront", "Partial Upfront", "All Upfront")
# Single-AZ on-demand USD/hour: (postgresql, mysql).
RDS_ON_DEMAND_HOURLY = {
    "db.t3.micro": ("0.018", "0.017"),
    "db.t3.small": ("0.036", "0.034"),
    "db.t3.medium": ("0.072", "0.068"),
    "db.t3.large": ("0.145", "0.136"),
    "db.m5.large": ("0.178", "0.171"),
    "db.m5.xlarge": ("0.356", "0.342"),
    "db.r5.large": ("0.250", "0.240"),
    "db.r5.xlarge": ("0.500", "0.480"),
    "db.m6g.large": ("0.159", "0.152"),
    "db.r6g.large": ("0.225", "0.215"),
}
# Effective hourly cost of a reservation as a fraction of on-demand.
RDS_RI_EFFECTIVE_RATE = {
    (1, "No Upfront"): Decimal("0.70"),
    (1, "Partial Upfront"): Decimal("0.66"),
    (1, "All Upfront"): Decimal("0.64"),
    (3, "No Upfront"): Decimal("0.50"),
    (3, "Partial Upfront"): Decimal("0.45"),
    (3, "All Upfront"): Decimal("0.42"),
}
# HTTP status per error code (botocore's RDS model says 404 for the not-found faults).
RDS_ERROR_STATUS = {
    "ReservedDBInstancesOfferingNotFound": 404,
    "ReservedDBInstanceNotFound": 404,
    "ReservedDBInstanceAlreadyExists": 400,
}


class RdsError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = RDS_ERROR_STATUS.get(code, 400)


def region_of(environ: dict) -> str:
    """SigV4 credential scope region (AKID/DATE/REGION/SERVICE/aws4_request)."""
    m = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION") or "")
    scope = m.group(1) if m else None
    if scope is None:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "")
        scope = (query.get("X-Amz-Credential") or [None])[0]
    parts = scope.split("/") if scope else []
    return parts[2] if len(parts) >= 5 else "us-east-1"


def _money(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _rds_offering(db_class: str, product: str, multi_az: bool, duration: int,
                  offering_type: str) -> dict:
    key = f"{db_class}|{product}|{str(multi_az).lower()}|{duration}|{offering_type}"
    years = duration // 31536000
    on_demand = Decimal(RDS_ON_DEMAND_HOURLY[db_class][RDS_RI_PRODUCTS.index(product)])
    if multi_az:
        on_demand *= 2
    effective = on_demand * RDS_RI_EFFECTIVE_RATE[(years, offering_type)]
    hours = 8760 * years
    if offering_type == "No Upfront":
        fixed, hourly = Decimal("0"), _money(effective, "0.0001")
    elif offering_type == "Partial Upfront":
        fixed, hourly = _money(effective * hours / 2, "0.01"), _money(effective / 2, "0.0001")
    else:  # All Upfront
        fixed, hourly = _money(effective * hours, "0.01"), None
    return {
        "ReservedDBInstancesOfferingId": str(uuid.uuid5(RDS_RI_NAMESPACE, key)),
        "DBInstanceClass": db_class,
        "Duration": duration,
        "FixedPrice": fixed,
        "UsagePrice": Decimal("0"),
        "CurrencyCode": "USD",
        "ProductDescription": product,
        "OfferingType": offering_type,
        "MultiAZ": multi_az,
        "RecurringCharges": [] if hourly is None else [(hourly, "Hourly")],
    }


def _rds_catalogue() -> list[dict]:
    return [
        _rds_offering(db_class, product, multi_az, duration, offering_type)
        for db_class in RDS_ON_DEMAND_HOURLY
        for product in RDS_RI_PRODUCTS
        for multi_az in (False, True)
        for duration in RDS_RI_DURATIONS
        for offering_type in RDS_RI_OFFERING_TYPES
    ]


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value != 0 else "0.0"
    return xml_escape(str(value))


def _xml_fields(record: dict, names: Iterable[str]) -> str:
    out = []
    for name in names:
        if name == "RecurringCharges":
            charges = "".join(
                "<RecurringCharge>"
                f"<RecurringChargeAmount>{_xml_value(amount)}</RecurringChargeAmount>"
                f"<RecurringChargeFrequency>{frequency}</RecurringChargeFrequency>"
                "</RecurringCharge>"
                for amount, frequency in record["RecurringCharges"]
            )
            out.append(f"<RecurringCharges>{charges}</RecurringCharges>")
        else:
            out.append(f"<{name}>{_xml_value(record[name])}</{name}>")
    return "".join(out)


OFFERING_FIELDS = (
    "ReservedDBInstancesOfferingId", "DBInstanceClass", "Duration", "FixedPrice",
    "UsagePrice", "CurrencyCode", "ProductDescription", "OfferingType", "MultiAZ",
    "RecurringCharges",
)
RESERVED_FIELDS = (
    "ReservedDBInstanceId", "ReservedDBInstancesOfferingId", "DBInstanceClass",
    "StartTime", "Duration", "FixedPrice", "UsagePrice", "CurrencyCode",
    "DBInstanceCount", "ProductDescription", "OfferingType", "MultiAZ", "State",
    "RecurringCharges", "ReservedDBInstanceArn", "LeaseId",
)


class RdsReservedInstancesApp:
    """WSGI app for the three RDS reserved DB instance actions."""

    ACTIONS = (
        "DescribeReservedDBInstancesOfferings",
        "PurchaseReservedDBInstancesOffering",
        "DescribeReservedDBInstances",
    )

    def __init__(self) -> None:
        self.offerings = _rds_catalogue()
        self.offerings_by_id = {o["ReservedDBInstancesOfferingId"]: o for o in self.offerings}
        self.purchases: dict[str, dict[str, dict]] = {}  # region -> id -> reservation
        self.lock = threading.Lock()

    def matches(self, environ: dict) -> bool:
        return service_of(environ) == "rds" and operation_of(environ) in self.ACTIONS

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        params: dict[str, str] = {}
        for source in (environ.get("QUERY_STRING") or "",
                       _read_body(environ).decode("utf-8", "replace")):
            for k, v in urllib.parse.parse_qsl(source, keep_blank_values=True):
                params[k] = v
        action = operation_of(environ)
        try:
            handler = getattr(self, "_" + action)
            result = handler(params, region_of(environ))
            status = "200 OK"
            body = (f'<{action}Response xmlns="{RDS_XMLNS}"><{action}Result>{result}'
                    f"</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId>"
                    f"</ResponseMetadata></{action}Response>")
        except RdsError as err:
            status = f"{err.status} {'Not Found' if err.status == 404 else 'Bad Request'}"
            body = (f'<ErrorResponse xmlns="{RDS_XMLNS}"><Error><Type>Sender</Type>'
                    f"<Code>{err.code}</Code><Message>{xml_escape(err.message)}</Message>"
                    f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        data = body.encode("utf-8")
        start_response(status, [("Content-Type", "text/xml"),
                                ("Content-Length", str(len(data))),
                                ("x-amzn-RequestId", request_id)])
        return [data]

    # -- parameter parsing --------------------------------------------------

    @staticmethod
    def _bool(params: dict, name: str) -> Optional[bool]:
        value = params.get(name)
        if value is None:
            return None
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise RdsError("InvalidParameterValue", f"Invalid boolean value {value!r} for {name}.")

    @staticmethod
    def _int(params: dict, name: str, default: int, low: int, high: int) -> int:
        value = params.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise RdsError("InvalidParameterValue",
                           f"Invalid value {value} for {name}. Must be between {low} and {high}.")
        return number

    @staticmethod
    def _duration(params: dict) -> Optional[int]:
        value = params.get("Duration")
        if value is None:
            return None
        seconds = {"1": 31536000, "3": 94608000}.get(value.strip(), None)
        if seconds is None and value.strip() in ("31536000", "94608000"):
            seconds = int(value)
        if seconds is None:
            raise RdsError("InvalidParameterValue",
                           f"Invalid Duration {value!r}: use 1 or 3 (years) or 31536000 or 94608000 (seconds).")
        return seconds

    def _filter(self, records: Iterable[dict], params: dict) -> list[dict]:
        """Apply the filters shared by both Describe actions."""
        wanted: dict[str, Any] = {}
        for name in ("ReservedDBInstancesOfferingId", "DBInstanceClass", "LeaseId"):
            if params.get(name) is not None:
                wanted[name] = params[name]
        for name in ("ProductDescription", "OfferingType"):  # AWS matches these case-insensitively
            if params.get(name) is not None:
                wanted[name] = params[name].lower()
        duration, multi_az = self._duration(params), self._bool(params, "MultiAZ")
        if duration is not None:
            wanted["Duration"] = duration
        if multi_az is not None:
            wanted["MultiAZ"] = multi_az

        def keep(record: dict) -> bool:
            for name, value in wanted.items():
                have = record.get(name)
                if isinstance(value, str) and name in ("ProductDescription", "OfferingType"):
                    have = str(have).lower()
                if have != value:
                    return False
            return True

        return [r for r in records if keep(r)]

    def _page(self, records: list[dict], params: dict) -> tuple[list[dict], Optional[str]]:
        max_records = self._int(params, "MaxRecords", 100, 20, 100)
        marker = params.get("Marker") or "0"
        if not marker.isdigit():
            raise RdsError("InvalidParameterValue", f"Invalid Marker {marker!r}.")
        start = int(marker)
        page = records[start:start + max_records]
        more = start + max_records < len(records)
        return page, (str(start + max_records) if more else None)

    # -- actions ------------------------------------------------------------

    def _DescribeReservedDBInstancesOfferings(self, params: dict, region: str) -> str:
        offering_id = params.get("ReservedDBInstancesOfferingId")
        if offering_id is not None and offering_id not in self.offerings_by_id:
            raise RdsError("ReservedDBInstancesOfferingNotFound",
                           f"Specified offering does not exist: {offering_id}")
        page, marker = self._page(self._filter(self.offerings, params), params)
        items = "".join(f"<ReservedDBInstancesOffering>{_xml_fields(o, OFFERING_FIELDS)}"
                        "</ReservedDBInstancesOffering>" for o in page)
        marker_xml = f"<Marker>{marker}</Marker>" if marker else ""
        return f"{marker_xml}<ReservedDBInstancesOfferings>{items}</ReservedDBInstancesOfferings>"

    def _PurchaseReservedDBInstancesOffering(self, params: dict, region: str) -> str:
        offering_id = params.get("ReservedDBInstancesOfferingId")
        if not offering_id:
            raise RdsError("MissingParameter",
                           "The request must contain the parameter ReservedDBInstancesOfferingId")
        offering = self.offerings_by_id.get(offering_id)
        if offering is None:
            raise RdsError("ReservedDBInstancesOfferingNotFound",
                           f"Specified offering does not exist: {offering_id}")
        count = self._int(params, "DBInstanceCount", 1, 1, 1000)
        tags, n = [], 1
        while f"Tags.Tag.{n}.Key" in params:
            tags.append({"Key": params[f"Tags.Tag.{n}.Key"],
                         "Value": params.get(f"Tags.Tag.{n}.Value", "")})
            n += 1
        with self.lock:
            region_purchases = self.purchases.setdefault(region, {})
            reserved_id = params.get("ReservedDBInstanceId") or f"ri-{uuid.uuid4()}"
            if reserved_id in region_purchases:
                raise RdsError("ReservedDBInstanceAlreadyExists",
                               f"User already has a reservation with the given identifier {reserved_id}.")
            now = datetime.now(timezone.utc)
            reservation = dict(offering)
            reservation.update({
                "ReservedDBInstanceId": reserved_id,
                "StartTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
                "DBInstanceCount": count,
                "State": "active",
                "ReservedDBInstanceArn": f"arn:aws:rds:{region}:{RDS_ACCOUNT_ID}:ri:{reserved_id}",
                "LeaseId": str(uuid.uuid4()),
                "Tags": tags,  # stored; not part of the ReservedDBInstance shape
            })
            region_purchases[reserved_id] = reservation
        return f"<ReservedDBInstance>{_xml_fields(reservation, RESERVED_FIELDS)}</ReservedDBInstance>"

    def _DescribeReservedDBInstances(self, params: dict, region: str) -> str:
        with self.lock:
            records = list(self.purchases.get(region, {}).values())
        reserved_id = params.get("ReservedDBInstanceId")
        if reserved_id is not None:
            records = [r for r in records if r["ReservedDBInstanceId"] == reserved_id]
            if not records:
                raise RdsError("ReservedDBInstanceNotFound",
                               f"Reserved DB instance {reserved_id} not found.")
        page, marker = self._page(self._filter(records, params), params)
        items = "".join(f"<ReservedDBInstance>{_xml_fields(r, RESERVED_FIELDS)}</ReservedDBInstance>"
                        for r in page)
        marker_xml = f"<Marker>{marker}</Marker>" if marker else ""
        return f"{marker_xml}<ReservedDBInstances>{items}</ReservedDBInstances>"


def patch_rds_reserved_instances(ctx: PatchContext) -> None:
    app = RdsReservedInstancesApp()
    ctx.add_route(app.matches, app)


# ---- Patch: X-Ray sampling rules and groups ---------------------------------
#
# moto gap: moto 5.2.5's xray backend only has trace segments (PutTraceSegments,
# BatchGetTraces, GetTraceSummaries, ...). This serves, in X-Ray's restJson1
# protocol (every operation is a POST of a JSON body to a fixed path):
#   CreateSamplingRule, GetSamplingRules, UpdateSamplingRule, DeleteSamplingRule,
#   CreateGroup, GetGroup, GetGroups (path /Groups), UpdateGroup, DeleteGroup,
#   TagResource, UntagResource, ListTagsForResource (for sampling rules and groups).
# State is kept in memory per (account, region): region from the SigV4 credential
# scope, account resolved as moto does (MOTO_ACCOUNT_ID, x-moto-account-id header,
# the access key of a moto IAM/STS credential, else 123456789012).
#
# AWS behaviour followed:
# * every (account, region) has the built-in `Default` rule (priority 10000,
#   reservoir 1, rate 0.05, everything else "*", CreatedAt/ModifiedAt 0 until
#   changed); it cannot be deleted and only FixedRate, ReservoirSize and
#   SamplingRateBoost can be changed on it. At most 25 other rules
#   (RuleLimitExceededException).
# * rule names are unique ("SamplingRule already exists"); Version must be 1,
#   Priority 1..9999, FixedRate 0..1, ReservoirSize >= 0, string lengths and
#   the Attributes map (<= 5 entries) as in the API model.
# * Update/Delete/Get identify a rule or group by name or ARN; both may be given
#   only if they name the same resource. UpdateSamplingRule changes only the
#   fields present. DeleteSamplingRule returns the deleted SamplingRuleRecord.
# * the group name `Default` is reserved; GetGroups lists only created groups.
#   InsightsConfiguration defaults to both flags false; notifications need insights.
# * at most 50 tags per resource, keys 1..128 and values 0..256 characters,
#   no `aws:` key prefix. TagResource/UntagResource/ListTagsForResource on an
#   unknown ARN: 404 ResourceNotFoundException (with ResourceName).
# * ARNs: arn:<partition>:xray:<region>:<account>:sampling-rule/<name> and
#   ...:group/<name>/<52-character id>; CreatedAt/ModifiedAt are epoch seconds.
# * errors: HTTP 400 (404 for ResourceNotFoundException) with header
#   `X-Amzn-ErrorType: <code>` (what the Rust SDK reads first) and body
#   {"message": "..."} (plus "ResourceName" where the model has it). Unknown
#   rules and groups are InvalidRequestException, as on AWS.

XRAY_MAX_RULES = 25  # per account and region, not counting Default
XRAY_MAX_TAGS = 50  # per resource
XRAY_PAGE_SIZE = 100
# Strings of a SamplingRule / SamplingRuleUpdate: name -> (min length, max length).
XRAY_RULE_STRINGS = {
    "ResourceARN": (0, 500), "ServiceName": (0, 64), "ServiceType": (0, 64),
    "Host": (0, 64), "HTTPMethod": (0, 10), "URLPath": (0, 128),
}
XRAY_RULE_FIELDS = ("RuleName", "RuleARN", "ResourceARN", "Priority", "FixedRate", "ReservoirSize",
                    "ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath", "Version",
                    "Attributes", "SamplingRateBoost")
XRAY_DEFAULT_RULE_MUTABLE = ("FixedRate", "ReservoirSize", "SamplingRateBoost")


class XRayError(Exception):
    def __init__(self, message: str, code: str = "InvalidRequestException", status: int = 400,
                 resource_name: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.resource_name = resource_name


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


def _xray_now() -> float:
    return round(time.time(), 3)


def _xray_str(obj: dict, name: str, low: int, high: int, required: bool) -> Optional[str]:
    value = obj.get(name)
    if value is None:
        if required:
            raise XRayError(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise XRayError(f"{name} must be a string.")
    if not low <= len(value) <= high:
        raise XRayError(f"{name} must be between {low} and {high} characters long.")
    return value


def _xray_int(obj: dict, name: str, low: int, high: Optional[int], required: bool) -> Optional[int]:
    value = obj.get(name)
    if value is None:
        if required:
            raise XRayError(f"{name} is required.")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise XRayError(f"{name} must be an integer.")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise XRayError(f"{name} must be {bound}, got {value}.")
    return value


def _xray_rate(obj: dict, name: str, required: bool) -> Optional[float]:
    value = obj.get(name)
    if value is None:
        if required:
            raise XRayError(f"{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise XRayError(f"{name} must be a number.")
    if not 0 <= value <= 1:
        raise XRayError(f"{name} must be between 0 and 1, got {value}.")
    return float(value)


def _xray_attributes(value: Any) -> dict:
    if not isinstance(value, dict):
        raise XRayError("Attributes must be a map of strings.")
    if len(value) > 5:
        raise XRayError("Attributes can have at most 5 entries.")
    for k, v in value.items():
        if not (isinstance(v, str) and 1 <= len(k) <= 32 and 1 <= len(v) <= 32):
            raise XRayError("Attribute keys and values must be strings of 1 to 32 characters.")
    return dict(value)


def _xray_boost(value: Any) -> dict:
    if not isinstance(value, dict):
        raise XRayError("SamplingRateBoost must be an object.")
    return {"MaxRate": _xray_rate(value, "MaxRate", True),
            "CooldownWindowMinutes": _xray_int(value, "CooldownWindowMinutes", 0, None, True)}


def _xray_rule_fields(obj: dict, create: bool) -> dict:
    """The SamplingRule fields present in `obj`, validated (all required when `create`)."""
    fields: dict[str, Any] = {}
    for name, (low, high) in XRAY_RULE_STRINGS.items():
        value = _xray_str(obj, name, low, high, create)
        if value is not None:
            fields[name] = value
    numbers = {
        "Priority": _xray_int(obj, "Priority", 1, 9999, create),
        "FixedRate": _xray_rate(obj, "FixedRate", create),
        "ReservoirSize": _xray_int(obj, "ReservoirSize", 0, 2**31 - 1, create),
    }
    fields.update({k: v for k, v in numbers.items() if v is not None})
    if create:
        version = _xray_int(obj, "Version", 1, None, True)
        if version != 1:
            raise XRayError(f"Version must be 1, got {version}.")
        fields["Version"] = 1
    if obj.get("Attributes") is not None:
        fields["Attributes"] = _xray_attributes(obj["Attributes"])
    if obj.get("SamplingRateBoost") is not None:
        fields["SamplingRateBoost"] = _xray_boost(obj["SamplingRateBoost"])
    return fields


def _xray_tags(value: Any, existing: Optional[dict] = None, resource: Optional[str] = None) -> dict:
    """Tag list [{Key, Value}] merged into `existing` (a key -> value dict)."""
    tags = dict(existing or {})
    if value is None:
        return tags
    if not isinstance(value, list):
        raise XRayError("Tags must be a list of {Key, Value}.")
    for tag in value:
        if not isinstance(tag, dict):
            raise XRayError("Tags must be a list of {Key, Value}.")
        key = _xray_str(tag, "Key", 1, 128, True)
        val = _xray_str(tag, "Value", 0, 256, True)
        if key.lower().startswith("aws:"):  # type: ignore[union-attr]
            raise XRayError(f"Tag keys cannot start with 'aws:': {key}")
        tags[key] = val
    if len(tags) > XRAY_MAX_TAGS:
        if resource is not None:
            raise XRayError(f"Too many tags: a resource can have at most {XRAY_MAX_TAGS} tags.",
                            code="TooManyTagsException", resource_name=resource)
        raise XRayError(f"Too many tags: a resource can have at most {XRAY_MAX_TAGS} tags.")
    return tags


def _xray_tag_list(tags: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _xray_page(items: list, body: dict) -> tuple[list, Optional[str]]:
    token = body.get("NextToken")
    start = 0
    if token is not None:
        if not (isinstance(token, str) and token.isdigit() and int(token) <= len(items)):
            raise XRayError("Invalid NextToken.")
        start = int(token)
    end = start + XRAY_PAGE_SIZE
    return items[start:end], (str(end) if end < len(items) else None)


@dataclass
class _XRayRule:
    fields: dict  # the SamplingRule, RuleName and RuleARN included
    created: float
    modified: float
    tags: dict = field(default_factory=dict)

    def record(self) -> dict:
        rule = {name: self.fields[name] for name in XRAY_RULE_FIELDS if name in self.fields}
        rule.setdefault("Attributes", {})
        return {"SamplingRule": rule, "CreatedAt": self.created, "ModifiedAt": self.modified}


@dataclass
class _XRayGroup:
    name: str
    arn: str
    filter_expression: Optional[str]
    insights: dict
    tags: dict = field(default_factory=dict)

    def record(self) -> dict:
        group: dict[str, Any] = {"GroupName": self.name, "GroupARN": self.arn}
        if self.filter_expression:
            group["FilterExpression"] = self.filter_expression
        group["InsightsConfiguration"] = dict(self.insights)
        return group


class _XRayState:
    """Sampling rules and groups of one account in one region."""

    def __init__(self, account: str, region: str):
        from moto.utilities.utils import get_partition

        self.prefix = f"arn:{get_partition(region)}:xray:{region}:{account}"
        self.rules: dict[str, _XRayRule] = {}
        self.groups: dict[str, _XRayGroup] = {}
        default = {
            "RuleName": "Default", "RuleARN": self.rule_arn("Default"), "ResourceARN": "*",
            "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*",
            "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
            "Attributes": {},
        }
        self.rules["Default"] = _XRayRule(default, 0.0, 0.0)

    def rule_arn(self, name: str) -> str:
        return f"{self.prefix}:sampling-rule/{name}"

    def find_rule(self, obj: dict) -> _XRayRule:
        name, arn = obj.get("RuleName"), obj.get("RuleARN")
        if name is None and arn is None:
            raise XRayError("Specify the sampling rule by RuleName or RuleARN.")
        for value, what in ((name, "RuleName"), (arn, "RuleARN")):
            if value is not None and not isinstance(value, str):
                raise XRayError(f"{what} must be a string.")
        rule = self.rules.get(name) if name is not None else None
        if arn is not None:
            by_arn = next((r for r in self.rules.values() if r.fields["RuleARN"] == arn), None)
            if name is not None and by_arn is not rule:
                raise XRayError("RuleName and RuleARN do not name the same sampling rule.")
            rule = by_arn
        if rule is None:
            raise XRayError("SamplingRule does not exist")
        return rule

    def find_group(self, obj: dict) -> _XRayGroup:
        name, arn = obj.get("GroupName"), obj.get("GroupARN")
        if name is None and arn is None:
            raise XRayError("Specify the group by GroupName or GroupARN.")
        for value, what in ((name, "GroupName"), (arn, "GroupARN")):
            if value is not None and not isinstance(value, str):
                raise XRayError(f"{what} must be a string.")
        group = self.groups.get(name) if name is not None else None
        if arn is not None:
            by_arn = next((g for g in self.groups.values() if g.arn == arn), None)
            if name is not None and by_arn is not group:
                raise XRayError("GroupName and GroupARN do not name the same group.")
            group = by_arn
        if group is None:
            raise XRayError("Group does not exist")
        return group

    def find_tagged(self, body: dict) -> tuple[str, Any]:
        arn = _xray_str(body, "ResourceARN", 1, 1011, True)
        for rule in self.rules.values():
            if rule.fields["RuleARN"] == arn:
                return arn, rule  # type: ignore[return-value]
        for group in self.groups.values():
            if group.arn == arn:
                return arn, group  # type: ignore[return-value]
        raise XRayError(f"Resource not found: {arn}", code="ResourceNotFoundException",
                        status=404, resource_name=arn)


def _xray_insights(value: Any, current: Optional[dict] = None) -> dict:
    insights = dict(current or {"InsightsEnabled": False, "NotificationsEnabled": False})
    if value is None:
        return insights
    if not isinstance(value, dict):
        raise XRayError("InsightsConfiguration must be an object.")
    for name in ("InsightsEnabled", "NotificationsEnabled"):
        flag = value.get(name)
        if flag is not None and not isinstance(flag, bool):
            raise XRayError(f"{name} must be a boolean.")
    if value.get("InsightsEnabled") is False and value.get("NotificationsEnabled") is None:
        insights["NotificationsEnabled"] = False  # turning insights off turns notifications off
    insights.update({k: v for k, v in value.items() if k in insights and v is not None})
    if insights["NotificationsEnabled"] and not insights["InsightsEnabled"]:
        raise XRayError("Notifications can only be enabled on a group with InsightsEnabled set to true.")
    return insights


def _xray_filter_expression(body: dict) -> Optional[str]:
    value = body.get("FilterExpression")
    if value is not None and not isinstance(value, str):
        raise XRayError("FilterExpression must be a string.")
    return value


class XRaySamplingApp:
    """WSGI app for X-Ray sampling rules, groups and their tags."""

    OPERATIONS = (
        "CreateSamplingRule", "GetSamplingRules", "UpdateSamplingRule", "DeleteSamplingRule",
        "CreateGroup", "GetGroup", "GetGroups", "UpdateGroup", "DeleteGroup",
        "TagResource", "UntagResource", "ListTagsForResource",
    )

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], _XRayState] = {}
        self.lock = threading.Lock()

    def matches(self, environ: dict) -> bool:
        return (service_of(environ) == "xray" and environ.get("REQUEST_METHOD") == "POST"
                and operation_of(environ) in self.OPERATIONS)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        try:
            raw = _read_body(environ)
            try:
                body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            except ValueError as exc:
                raise XRayError(f"Could not parse the request body as JSON: {exc}") from None
            if not isinstance(body, dict):
                raise XRayError("The request body must be a JSON object.")
            handler = getattr(self, "_" + operation_of(environ))
            key = (account_of(environ), region_of(environ))
            with self.lock:
                state = self.states.get(key)
                if state is None:
                    state = self.states[key] = _XRayState(*key)
                result = handler(state, body)
            status = "200 OK"
        except XRayError as err:
            status = f"{err.status} {'Not Found' if err.status == 404 else 'Bad Request'}"
            result = {"message": err.message}
            if err.resource_name is not None:
                result["ResourceName"] = err.resource_name
            headers.append(("X-Amzn-ErrorType", err.code))
        data = json.dumps(result).encode("utf-8")
        headers.append(("Content-Length", str(len(data))))
        start_response(status, headers)
        return [data]

    # -- sampling rules (all called with self.lock held) --------------------

    def _CreateSamplingRule(self, state: _XRayState, body: dict) -> dict:
        spec = body.get("SamplingRule")
        if not isinstance(spec, dict):
            raise XRayError("SamplingRule is required.")
        name = _xray_str(spec, "RuleName", 1, 32, True)
        fields = _xray_rule_fields(spec, create=True)
        tags = _xray_tags(body.get("Tags"))
        if name in state.rules:
            raise XRayError("SamplingRule already exists")
        if len(state.rules) - 1 >= XRAY_MAX_RULES:
            raise XRayError(f"You have reached the maximum number of sampling rules ({XRAY_MAX_RULES}).",
                            code="RuleLimitExceededException")
        fields.update({"RuleName": name, "RuleARN": state.rule_arn(name)})  # type: ignore[arg-type]
        now = _xray_now()
        rule = state.rules[name] = _XRayRule(fields, now, now, tags)  # type: ignore[index]
        return {"SamplingRuleRecord": rule.record()}

    def _GetSamplingRules(self, state: _XRayState, body: dict) -> dict:
        rules = sorted(state.rules.values(),
                       key=lambda r: (r.fields["Priority"], r.fields["RuleName"]))
        page, token = _xray_page([r.record() for r in rules], body)
        out: dict[str, Any] = {"SamplingRuleRecords": page}
        if token:
            out["NextToken"] = token
        return out

    def _UpdateSamplingRule(self, state: _XRayState, body: dict) -> dict:
        update = body.get("SamplingRuleUpdate")
        if not isinstance(update, dict):
            raise XRayError("SamplingRuleUpdate is required.")
        rule = state.find_rule(update)
        changes = _xray_rule_fields(update, create=False)
        if rule.fields["RuleName"] == "Default":
            fixed = sorted(k for k, v in changes.items()
                           if k not in XRAY_DEFAULT_RULE_MUTABLE and rule.fields.get(k) != v)
            if fixed:
                raise XRayError("Only FixedRate, ReservoirSize and SamplingRateBoost can be changed "
                                f"on the Default sampling rule, not {', '.join(fixed)}.")
        rule.fields.update(changes)
        rule.modified = _xray_now()
        return {"SamplingRuleRecord": rule.record()}

    def _DeleteSamplingRule(self, state: _XRayState, body: dict) -> dict:
        rule = state.find_rule(body)
        if rule.fields["RuleName"] == "Default":
            raise XRayError("The Default sampling rule cannot be deleted.")
        del state.rules[rule.fields["RuleName"]]
        return {"SamplingRuleRecord": rule.record()}

    # -- groups -------------------------------------------------------------

    def _CreateGroup(self, state: _XRayState, body: dict) -> dict:
        name = _xray_str(body, "GroupName", 1, 32, True)
        filter_expression = _xray_filter_expression(body)
        insights = _xray_insights(body.get("InsightsConfiguration"))
        tags = _xray_tags(body.get("Tags"))
        if name == "Default":
            raise XRayError("Default is a reserved group name.")
        if name in state.groups:
            raise XRayError("Group already exists")
        group_id = base64.b32encode(os.urandom(32)).decode("ascii").rstrip("=")
        group = _XRayGroup(name, f"{state.prefix}:group/{name}/{group_id}",  # type: ignore[arg-type]
                           filter_expression, insights, tags)
        state.groups[name] = group  # type: ignore[index]
        return {"Group": group.record()}

    def _GetGroup(self, state: _XRayState, body: dict) -> dict:
        return {"Group": state.find_group(body).record()}

    def _GetGroups(self, state: _XRayState, body: dict) -> dict:
        page, token = _xray_page([g.record() for g in state.groups.values()], body)
        out: dict[str, Any] = {"Groups": page}
        if token:
            out["NextToken"] = token
        return out

    def _UpdateGroup(self, state: _XRayState, body: dict) -> dict:
        group = state.find_group(body)
        filter_expression = _xray_filter_expression(body)
        insights = _xray_insights(body.get("InsightsConfiguration"), group.insights)
        if filter_expression is not None:
            group.filter_expression = filter_expression
        group.insights = insights
        return {"Group": group.record()}

    def _DeleteGroup(self, state: _XRayState, body: dict) -> dict:
        group = state.find_group(body)
        del state.groups[group.name]
        return {}

    # -- tags ---------------------------------------------------------------

    def _TagResource(self, state: _XRayState, body: dict) -> dict:
        arn, resource = state.find_tagged(body)
        if body.get("Tags") is None:
            raise XRayError("Tags is required.")
        resource.tags = _xray_tags(body["Tags"], resource.tags, resource=arn)
        return {}

    def _UntagResource(self, state: _XRayState, body: dict) -> dict:
        _, resource = state.find_tagged(body)
        keys = body.get("TagKeys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise XRayError("TagKeys is required and must be a list of strings.")
        for key in keys:
            if key.lower().startswith("aws:"):
                raise XRayError(f"Tag keys cannot start with 'aws:': {key}")
        resource.tags = {k: v for k, v in resource.tags.items() if k not in keys}
        return {}

    def _ListTagsForResource(self, state: _XRayState, body: dict) -> dict:
        _, resource = state.find_tagged(body)
        page, token = _xray_page(_xray_tag_list(resource.tags), body)
        out: dict[str, Any] = {"Tags": page}
        if token:
            out["NextToken"] = token
        return out


def patch_xray_sampling_rules_and_groups(ctx: PatchContext) -> None:
    app = XRaySamplingApp()
    ctx.add_route(app.matches, app)


def patch_rds_performance_insights(ctx: PatchContext) -> None:
    """moto gap: CreateDBInstance/ModifyDBInstance ignore EnablePerformanceInsights, and DescribeDBInstances
    always reports PerformanceInsightsEnabled false. Keep the flag and report it."""
    import moto.rds.models as rds_models

    cls = rds_models.DBInstance
    if getattr(cls, "hms_pi_patched", False):
        return
    original_init = cls.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        self.enable_performance_insights = bool(kwargs.get("enable_performance_insights") or False)

    def performance_insights_enabled(self):  # type: ignore[no-untyped-def]
        # ModifyDBInstance sets `enable_performance_insights` through moto's generic setattr.
        return bool(getattr(self, "enable_performance_insights", False))

    cls.__init__ = __init__
    cls.performance_insights_enabled = property(performance_insights_enabled)
    cls.hms_pi_patched = True


def patch_ecs_deployment_configuration(ctx: PatchContext) -> None:
    """moto gap: CreateService/UpdateService drop deploymentConfiguration (circuit breaker, minimum healthy and
    maximum percent), so DescribeServices never reports it. Keep what was sent and report it."""
    from moto.ecs.responses import EC2ContainerServiceResponse as R

    if getattr(R, "hms_deploy_patched", False):
        return

    def wrap(original):  # type: ignore[no-untyped-def]
        def method(self):  # type: ignore[no-untyped-def]
            result = original(self)
            cfg = self._get_param("deploymentConfiguration")
            if cfg:
                cluster = self._get_param("cluster", "default")
                name = (self._get_param("serviceName") or self._get_param("service") or "").split("/")[-1]
                try:
                    service = self.ecs_backend._get_service(cluster, name)
                except Exception:  # noqa: BLE001 - the original call already answered
                    return result
                service.deployment_configuration = cfg
            return result

        return method

    R.create_service = wrap(R.create_service)
    R.update_service = wrap(R.update_service)
    R.hms_deploy_patched = True


def patch_s3_versioning_root(ctx: PatchContext) -> None:
    """moto gap: GetBucketVersioning answers with a <GetBucketVersioningResponse> root where S3 (and every
    strict XML client, e.g. the AWS SDK for Rust) has <VersioningConfiguration>. Rename the root."""
    from moto.s3.responses import S3Response as R

    if getattr(R, "hms_versioning_patched", False):
        return
    original = R.get_bucket_versioning

    def get_bucket_versioning(self):  # type: ignore[no-untyped-def]
        status, headers, body = original(self)
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if isinstance(body, str):
            body = body.replace("<GetBucketVersioningResponse", "<VersioningConfiguration").replace(
                "</GetBucketVersioningResponse>", "</VersioningConfiguration>"
            )
        return status, headers, body

    R.get_bucket_versioning = get_bucket_versioning
    R.hms_versioning_patched = True


# ---- Patch: Smithy RPC v2 CBOR bridge ---------------------------------------
#
# moto gap: moto 5.2.5 serves CloudWatch (and the other services below) only at
# `/` with the query or awsJson protocol, while the AWS SDK for Rust (e.g.
# aws-sdk-cloudwatch 1.140) speaks Smithy RPC v2 CBOR to them: `POST
# /service/<Service>/operation/<Operation>` with `smithy-protocol: rpc-v2-cbor`,
# `Content-Type: application/cbor`, `Accept: application/cbor` and a CBOR body.
# moto answers those with a 404 HTML page.
#
# This bridge translates such a request into the awsJson request moto handles
# (same environ, so the same SigV4/account headers; path `/`, `X-Amz-Target:
# <targetPrefix>.<Operation>`, `Content-Type: application/x-amz-json-<1.0|1.1>`,
# a JSON body: CBOR tag-1 timestamps become epoch-second numbers, byte strings
# base64 strings, non-finite floats "NaN"/"Infinity"/"-Infinity"; a
# `Content-Encoding: gzip` body, as the SDKs send for PutMetricData, is
# gunzipped), calls moto's WSGI app directly (so the call log records the
# request once, as service `monitoring` and the operation from the path, like
# query-protocol CloudWatch), and turns moto's JSON answer back into an
# rpcv2Cbor response, walking the operation's output (or error) shape from
# botocore's service model as the spec requires:
# * structures are CBOR maps keyed by member name, null members left out and
#   members the model does not have dropped; timestamps are tag 1 + epoch
#   seconds (an integer if whole, else a double); blobs byte strings; `double`
#   a 64-bit float, `float` a 32-bit float (the Rust SDK reads float members
#   with minicbor's f32(), which refuses 64-bit floats); integers the shortest
#   CBOR integer.
# * success: status 200, `smithy-protocol: rpc-v2-cbor`, `Content-Type:
#   application/cbor`, the encoded output (an output structure with nothing
#   set is the empty map 0xa0). Operations without an output shape (Unit, e.g.
#   PutMetricAlarm) get an empty body and no Content-Type, per the spec's
#   `no_output` protocol test; SDKs ignore the body of those.
# * errors: moto's status; body {"__type": "<namespace>#<ErrorShape>", members of
#   the error shape, "message"/"Message"}; no X-Amzn-ErrorType header. For an
#   awsQueryCompatible service (CloudWatch) also `x-amzn-query-error:
#   <awsQueryError code>;<Sender|Receiver>`, which is what the Rust SDK (it lets
#   the header override the sanitized `__type`) and botocore match modeled
#   errors on. moto picks its error shape by exception class, so if that shape
#   is not among the operation's errors but one of them has the same query
#   code, that one is named (moto's GetDashboard `ResourceNotFound` becomes
#   `com.amazonaws.cloudwatch#DashboardNotFoundError`, query code
#   `ResourceNotFound`, 404, as on AWS).
# * an operation moto does not implement: 501 `NotImplemented` (moto itself
#   answers 500 with an HTML page, which the SDKs would retry); an undecodable
#   body: 400 `SerializationException`; an operation the model lacks: 404
#   `UnknownOperationException`.
# The namespace is "com.amazonaws." + the model's serviceId lowercased without
# spaces (com.amazonaws.cloudwatch); clients strip it, it only makes `__type`
# an absolute shape id as the spec asks. Only CloudWatch has been exercised; the
# other table entries rely on the same generic model walk.
#
# Note: botocore 1.44 itself still prefers `json` over `smithy-rpc-v2-cbor`
# (botocore.utils.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS), so plain boto3 keeps
# talking awsJson to moto directly; emulator_selftest.py forces CBOR to test this.

# smithy service shape name (the path segment; botocore's targetPrefix) -> botocore service name.
# Services whose botocore model lists smithy-rpc-v2-cbor and which moto serves with awsJson.
RPC_V2_CBOR_SERVICES = {
    "GraniteServiceVersion20100801": "cloudwatch",
    "BaldrApiService": "cloudhsmv2",
    "CodeBuild_20161006": "codebuild",
    "CodeDeploy_20141006": "codedeploy",
    "CodePipeline_20150709": "codepipeline",
    "Comprehend_20171127": "comprehend",
    "FmrsService": "datasync",
    "OvertureService": "directconnect",
    "DirectoryService_20150416": "ds",
    "AmazonMemoryDB": "memorydb",
    "ResourceGroupsTaggingAPI_20170126": "resourcegroupstaggingapi",
    "Route53Domains_v20140515": "route53domains",
    "AWS242ServiceCatalogService": "servicecatalog",
    "Route53AutoNaming_v20170314": "servicediscovery",
    "AWSShield_20160616": "shield",
    "Textract": "textract",
    "Transcribe": "transcribe",
    "WorkspacesService": "workspaces",
}
_RPC_V2_TARGET_RE = re.compile(r"^/service/([^/]+)/operation/([^/?]+)$")


class CborError(ValueError):
    pass


@dataclass(frozen=True)
class CborTag:
    """A tagged CBOR data item (major type 6), e.g. CborTag(1, 1700000000.5) for a timestamp."""

    tag: int
    value: Any


@dataclass(frozen=True)
class CborFloat32:
    """Encode this number as a single-precision float (Smithy `float` members)."""

    value: float


class _CborUndefined:
    def __repr__(self) -> str:
        return "undefined"


CBOR_UNDEFINED = _CborUndefined()  # simple value 23; rpcv2Cbor reads it as null
_CBOR_MAX_DEPTH = 200


def cbor_decode(data: bytes) -> Any:
    """Decode one CBOR data item (RFC 8949), all of `data`.

    Integers -> int, byte/text strings (definite or indefinite) -> bytes/str,
    arrays -> list, maps -> dict, tags -> CborTag, false/true/null -> bool/None,
    undefined -> CBOR_UNDEFINED, half/single/double floats -> float.
    """
    value, pos = _cbor_item(data, 0, 0)
    if pos != len(data):
        raise CborError(f"{len(data) - pos} trailing byte(s) after the CBOR data item")
    return value


def _cbor_head(data: bytes, pos: int) -> tuple[int, int, Optional[int], int]:
    """(major type, additional info, argument or None if indefinite, next position)."""
    if pos >= len(data):
        raise CborError("unexpected end of CBOR data")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        return major, info, info, pos
    if info <= 27:
        size = 1 << (info - 24)
        if pos + size > len(data):
            raise CborError("unexpected end of CBOR data")
        return major, info, int.from_bytes(data[pos:pos + size], "big"), pos + size
    if info == 31 and major in (2, 3, 4, 5, 7):
        return major, info, None, pos
    raise CborError(f"invalid additional information {info} for major type {major}")


def _cbor_at_break(data: bytes, pos: int) -> bool:
    if pos >= len(data):
        raise CborError("unexpected end of CBOR data (missing break)")
    return data[pos] == 0xFF


def _cbor_item(data: bytes, pos: int, depth: int) -> tuple[Any, int]:
    if depth > _CBOR_MAX_DEPTH:
        raise CborError("CBOR data nested too deeply")
    start = pos
    major, info, arg, pos = _cbor_head(data, pos)
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos  # type: ignore[operator]
    if major in (2, 3):
        if arg is None:  # indefinite: definite-length chunks of the same major type, then break
            chunks = []
            while not _cbor_at_break(data, pos):
                chunk_major, _, size, pos = _cbor_head(data, pos)
                if chunk_major != major or size is None:
                    raise CborError("invalid chunk in an indefinite-length string")
                if pos + size > len(data):
                    raise CborError("unexpected end of CBOR data")
                chunks.append(data[pos:pos + size])
                pos += size
            raw, pos = b"".join(chunks), pos + 1
        else:
            if pos + arg > len(data):
                raise CborError("unexpected end of CBOR data")
            raw, pos = data[pos:pos + arg], pos + arg
        if major == 2:
            return bytes(raw), pos
        try:
            return raw.decode("utf-8"), pos
        except UnicodeDecodeError as exc:
            raise CborError(f"invalid UTF-8 in a text string: {exc}") from None
    if major == 4:
        items = []
        if arg is None:
            while not _cbor_at_break(data, pos):
                item, pos = _cbor_item(data, pos, depth + 1)
                items.append(item)
            return items, pos + 1
        for _ in range(arg):
            item, pos = _cbor_item(data, pos, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        out: dict = {}
        count = 0
        while (not _cbor_at_break(data, pos)) if arg is None else count < arg:
            key, pos = _cbor_item(data, pos, depth + 1)
            value, pos = _cbor_item(data, pos, depth + 1)
            try:
                out[key] = value
            except TypeError:
                raise CborError(f"unsupported CBOR map key {key!r}") from None
            count += 1
        return out, (pos + 1 if arg is None else pos)
    if major == 6:
        value, pos = _cbor_item(data, pos, depth + 1)
        return CborTag(arg, value), pos  # type: ignore[arg-type]
    # major 7: simple values and floats
    if info == 20:
        return False, pos
    if info == 21:
        return True, pos
    if info == 22:
        return None, pos
    if info == 23:
        return CBOR_UNDEFINED, pos
    if info == 25:
        return struct.unpack(">e", data[start + 1:pos])[0], pos
    if info == 26:
        return struct.unpack(">f", data[start + 1:pos])[0], pos
    if info == 27:
        return struct.unpack(">d", data[start + 1:pos])[0], pos
    if info == 31:
        raise CborError("unexpected CBOR break")
    raise CborError(f"unsupported CBOR simple value {arg}")


def _cbor_encode_head(out: bytearray, major: int, n: int) -> None:
    if n < 24:
        out.append(major << 5 | n)
    elif n < 0x100:
        out += bytes((major << 5 | 24, n))
    elif n < 0x10000:
        out.append(major << 5 | 25)
        out += n.to_bytes(2, "big")
    elif n < 0x100000000:
        out.append(major << 5 | 26)
        out += n.to_bytes(4, "big")
    elif n < 0x10000000000000000:
        out.append(major << 5 | 27)
        out += n.to_bytes(8, "big")
    else:
        raise CborError(f"integer {n} does not fit in 64 bits")


def _cbor_encode_into(out: bytearray, value: Any, depth: int = 0) -> None:
    if depth > _CBOR_MAX_DEPTH:
        raise CborError("value nested too deeply")
    if value is None:
        out.append(0xF6)
    elif value is CBOR_UNDEFINED:
        out.append(0xF7)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if value >= 0:
            _cbor_encode_head(out, 0, value)
        else:
            _cbor_encode_head(out, 1, -1 - value)
    elif isinstance(value, CborFloat32):
        out.append(0xFA)
        out += struct.pack(">f", value.value)
    elif isinstance(value, (float, Decimal)):
        out.append(0xFB)
        out += struct.pack(">d", float(value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        _cbor_encode_head(out, 3, len(raw))
        out += raw
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        _cbor_encode_head(out, 2, len(raw))
        out += raw
    elif isinstance(value, (list, tuple)):
        _cbor_encode_head(out, 4, len(value))
        for item in value:
            _cbor_encode_into(out, item, depth + 1)
    elif isinstance(value, dict):
        _cbor_encode_head(out, 5, len(value))
        for key, item in value.items():
            _cbor_encode_into(out, key, depth + 1)
            _cbor_encode_into(out, item, depth + 1)
    elif isinstance(value, CborTag):
        _cbor_encode_head(out, 6, value.tag)
        _cbor_encode_into(out, value.value, depth + 1)
    else:
        raise CborError(f"cannot CBOR-encode {type(value).__name__}")


def cbor_encode(value: Any) -> bytes:
    """Encode with definite lengths and the shortest integer heads; float -> 64-bit
    double, CborFloat32 -> 32-bit float, CborTag -> tag."""
    out = bytearray()
    _cbor_encode_into(out, value)
    return bytes(out)


def _cbor_to_json(value: Any) -> Any:
    """A decoded rpcv2Cbor input -> the equivalent awsJson document."""
    if isinstance(value, CborTag):
        inner = value.value
        if value.tag == 1:  # epoch-seconds timestamp: awsJson sends the same number
            return _cbor_to_json(inner)
        if value.tag in (2, 3) and isinstance(inner, bytes):  # bignum
            n = int.from_bytes(inner, "big")
            return n if value.tag == 2 else -1 - n
        if value.tag == 4 and isinstance(inner, list) and len(inner) == 2:  # decimal fraction
            exponent, mantissa = (_cbor_to_json(v) for v in inner)
            return float(Decimal(mantissa).scaleb(exponent))
        return _cbor_to_json(inner)
    if isinstance(value, dict):
        return {str(k): _cbor_to_json(v) for k, v in value.items() if v is not None and v is not CBOR_UNDEFINED}
    if isinstance(value, list):
        return [_cbor_to_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if value is CBOR_UNDEFINED:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _json_number(value: Any) -> float:
    if isinstance(value, str):
        return float(value)  # "NaN", "Infinity", "-Infinity", or a numeric string
    return float(value)


def _json_timestamp(value: Any) -> CborTag:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            value = parsed.timestamp()
    seconds = float(value)
    if seconds.is_integer():
        return CborTag(1, int(seconds))
    return CborTag(1, round(seconds, 3))  # millisecond resolution, as the protocol has


def _json_to_cbor_value(value: Any, shape: Any) -> Any:
    """moto's awsJson value for botocore `shape` -> what rpcv2Cbor puts on the wire."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if getattr(shape, "is_document_type", False) or not isinstance(value, dict):
            return value
        out = {}
        for name, member in shape.members.items():
            raw = value.get(name)
            if raw is None:
                raw = value.get(member.serialization.get("name", name))
            converted = _json_to_cbor_value(raw, member)
            if converted is not None:
                out[name] = converted
        return out
    if kind == "list":
        return [_json_to_cbor_value(v, shape.member) for v in value]
    if kind == "map":
        return {str(k): _json_to_cbor_value(v, shape.value) for k, v in value.items() if v is not None}
    if kind == "timestamp":
        return _json_timestamp(value)
    if kind == "blob":
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                return value.encode("utf-8")
        return bytes(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "float":
        return CborFloat32(_json_number(value))
    if kind == "double":
        return _json_number(value)
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    return value  # bigInteger, bigDecimal: as moto gave them


def _error_code(shape: Any) -> str:
    """The error's awsQueryError code (botocore: metadata.error.code), else its shape name."""
    return (shape.metadata.get("error") or {}).get("code") or shape.name


def _sanitize_error_code(code: str) -> str:
    """As the SDKs do: drop a trailing ":<url>" and a leading "<namespace>#"."""
    return code.split(":", 1)[0].rsplit("#", 1)[-1]


class RpcV2CborBridge:
    """WSGI app: rpcv2Cbor requests for RPC_V2_CBOR_SERVICES, answered by moto's awsJson handlers."""

    def __init__(self, moto_app: WSGIApp):
        self.moto_app = moto_app
        self._lock = threading.Lock()
        self._session: Any = None
        self._models: dict[str, Any] = {}

    def matches(self, environ: dict) -> bool:
        if environ.get("REQUEST_METHOD") != "POST":
            return False
        m = _RPC_V2_TARGET_RE.match(environ.get("PATH_INFO") or "")
        if not m:
            return False
        protocol = (environ.get("HTTP_SMITHY_PROTOCOL") or "rpc-v2-cbor").strip().lower()
        return protocol == "rpc-v2-cbor" and self._service_key(m.group(1)) in RPC_V2_CBOR_SERVICES

    @staticmethod
    def _service_key(segment: str) -> str:
        # The spec lets servers accept "com.example.TheService" for "TheService".
        return segment.rsplit(".", 1)[-1]

    def _model(self, name: str) -> Any:
        with self._lock:
            model = self._models.get(name)
            if model is None:
                import botocore.session

                if self._session is None:
                    self._session = botocore.session.get_session()
                model = self._models[name] = self._session.get_service_model(name)
            return model

    @staticmethod
    def _namespace(model: Any) -> str:
        service_id = str(model.metadata.get("serviceId") or model.service_name)
        return "com.amazonaws." + re.sub(r"[^a-z0-9]", "", service_id.lower())

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        m = _RPC_V2_TARGET_RE.match(environ.get("PATH_INFO") or "")
        assert m is not None
        operation = m.group(2)
        model = self._model(RPC_V2_CBOR_SERVICES[self._service_key(m.group(1))])
        namespace = self._namespace(model)
        query_compatible = "awsQueryCompatible" in model.metadata
        request_id = str(uuid.uuid4())

        def fail(status: int, code: str, message: str) -> Iterable[bytes]:
            body = {"__type": f"{namespace}#{code}", "message": message}
            headers = [("x-amzn-RequestId", request_id)]
            if query_compatible:
                headers.append(("x-amzn-query-error", f"{code};{'Receiver' if status >= 500 else 'Sender'}"))
            return self._respond(start_response, status, headers, cbor_encode(body))

        if operation not in model.operation_names:
            return fail(404, "UnknownOperationException", f"Unknown operation {operation}")
        op_model = model.operation_model(operation)
        raw = _read_body(environ)
        try:
            if (environ.get("HTTP_CONTENT_ENCODING") or "").strip().lower() == "gzip":
                raw = gzip.decompress(raw)
            payload = cbor_decode(raw) if raw else {}
        except (CborError, OSError, EOFError) as exc:
            return fail(400, "SerializationException", f"Could not read the CBOR request body: {exc}")
        if not isinstance(payload, dict):
            return fail(400, "SerializationException", "The CBOR request body must be a map.")
        json_body = json.dumps(_cbor_to_json(payload)).encode("utf-8")

        json_version = model.metadata.get("jsonVersion") or "1.0"
        inner = dict(environ)
        for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_CONTENT_ENCODING", "werkzeug.request"):
            inner.pop(key, None)
        inner.update({
            "PATH_INFO": "/", "RAW_URI": "/", "REQUEST_URI": "/", "QUERY_STRING": "",
            "CONTENT_TYPE": f"application/x-amz-json-{json_version}",
            "CONTENT_LENGTH": str(len(json_body)),
            "HTTP_ACCEPT": "application/json",
            "HTTP_X_AMZ_TARGET": f"{model.metadata['targetPrefix']}.{operation}",
            "wsgi.input": io.BytesIO(json_body),
            "hms.body": json_body,
        })
        try:
            status, moto_headers, body = self._call_moto(inner)
        except NotImplementedError as exc:  # moto: "The <action> action has not been implemented"
            return fail(501, "NotImplemented", f"The emulator (moto) does not implement {operation}: {exc}")
        except Exception as exc:  # noqa: BLE001 - answer in the protocol rather than with an HTML page
            traceback.print_exc()
            return fail(500, "InternalFailure", f"{type(exc).__name__}: {exc}")

        try:
            return self._answer(start_response, model, op_model, request_id, status, moto_headers, body)
        except (ValueError, TypeError, OverflowError, CborError) as exc:  # moto's answer does not fit the model
            traceback.print_exc()
            return fail(500, "InternalFailure", f"Could not convert moto's answer to {operation}: {exc}")

    def _answer(self, start_response: Callable, model: Any, op_model: Any, request_id: str, status: int,
                moto_headers: list, body: bytes) -> Iterable[bytes]:
        """moto's awsJson answer (status, headers, body) -> the rpcv2Cbor response."""
        namespace = self._namespace(model)
        query_compatible = "awsQueryCompatible" in model.metadata
        passed = [(k, v) for k, v in moto_headers if k.lower() not in (
            "content-type", "content-length", "x-amzn-errortype", "x-amzn-query-error", "status",
            "smithy-protocol")]
        if not any(k.lower() == "x-amzn-requestid" for k, _ in passed):
            passed.append(("x-amzn-RequestId", request_id))
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = None

        if 200 <= status < 300 and data is not None:
            shape = op_model.output_shape
            if shape is None:  # Unit output: no body, no Content-Type
                return self._respond(start_response, 200, passed, b"")
            return self._respond(start_response, 200, passed,
                                 cbor_encode(_json_to_cbor_value(data, shape) or {}))

        if data is None:  # not moto's JSON error (e.g. an HTML page): unmodeled error by status
            if status < 400:
                status = 500
            text = body.decode("utf-8", "replace").strip()
            data = {"__type": "InternalFailure" if status >= 500 else "BadRequest", "message": text[:1000]}
        lower = {k.lower(): v for k, v in moto_headers}
        moto_code = _sanitize_error_code(str(data.get("__type") or data.get("code")
                                             or lower.get("x-amzn-errortype") or status))
        moto_query = lower.get("x-amzn-query-error") or ""
        message = data.get("message") or data.get("Message") or data.get("errorMessage") or ""
        shape = self._error_shape(model, op_model, moto_code, moto_query.split(";", 1)[0])
        if shape is None:
            out = {"__type": f"{namespace}#{moto_code}", "message": message}
            query_error = moto_query or f"{moto_code};{'Receiver' if status >= 500 else 'Sender'}"
        else:
            fields = dict(data)
            if "message" in shape.members:
                fields.setdefault("message", message)
            if "Message" in shape.members:
                fields.setdefault("Message", message)
            out = {"__type": f"{namespace}#{shape.name}"}
            out.update(_json_to_cbor_value(fields, shape) or {})
            if "message" not in out and "Message" not in out and message:
                out["message"] = message
            error = shape.metadata.get("error") or {}
            sender = error.get("senderFault") or (
                not shape.metadata.get("fault") and int(error.get("httpStatusCode") or status) < 500)
            query_error = f"{_error_code(shape)};{'Sender' if sender else 'Receiver'}"
        if query_compatible:
            passed.append(("x-amzn-query-error", query_error))
        return self._respond(start_response, status, passed, cbor_encode(out))

    @staticmethod
    def _error_shape(model: Any, op_model: Any, name: str, query_code: str) -> Any:
        """The modeled error for moto's error `name`: the operation's own error of that name, else
        the operation's error with the same query (awsQueryError) code, else the service's shape."""
        op_errors = {s.name: s for s in op_model.error_shapes}
        if name in op_errors:
            return op_errors[name]
        service_shape = None
        if name in model.shape_names:
            candidate = model.shape_for(name)
            if candidate.metadata.get("exception"):
                service_shape = candidate
        code = _error_code(service_shape) if service_shape is not None else (query_code or name)
        for s in op_errors.values():
            if _error_code(s) == code:
                return s
        return service_shape

    def _call_moto(self, environ: dict) -> tuple[int, list, bytes]:
        captured: dict = {}
        chunks: list[bytes] = []

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, list(headers)
            return chunks.append

        result = self.moto_app(environ, capture)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status = int(str(captured.get("status", "500")).split(" ", 1)[0])
        return status, captured.get("headers", []), b"".join(chunks)

    @staticmethod
    def _respond(start_response: Callable, status: int, headers: list, body: bytes) -> Iterable[bytes]:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        out = [("smithy-protocol", "rpc-v2-cbor")]
        if body:
            out.append(("Content-Type", "application/cbor"))
        out += headers
        out.append(("Content-Length", str(len(body))))
        start_response(f"{status} {phrase}", out)
        return [body]


def patch_rpc_v2_cbor_bridge(ctx: PatchContext) -> None:
    app = RpcV2CborBridge(ctx.moto_app)
    ctx.add_route(app.matches, app)


# Patches applied, in order, before serving. Each is `def patch(ctx: PatchContext) -> None`.
PATCHES: list[Callable[[PatchContext], None]] = [
    patch_rds_touching_windows,
    patch_rds_reserved_instances,
    patch_xray_sampling_rules_and_groups,
    patch_rds_performance_insights,
    patch_ecs_deployment_configuration,
    patch_s3_versioning_root,
    patch_rpc_v2_cbor_bridge,
]


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
