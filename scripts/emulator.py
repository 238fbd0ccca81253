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
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
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


# Patches applied, in order, before serving. Each is `def patch(ctx: PatchContext) -> None`.
# Planned (not implemented yet):
#   - X-Ray sampling rules (GetSamplingRules / CreateSamplingRule / ...), e.g.
#       ctx.add_route(lambda env: service_of(env) == "xray"
#                     and operation_of(env) == "POST /GetSamplingRules", xray_app)
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


PATCHES: list[Callable[[PatchContext], None]] = [
    patch_rds_touching_windows,
    patch_rds_reserved_instances,
    patch_rds_performance_insights,
    patch_ecs_deployment_configuration,
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
