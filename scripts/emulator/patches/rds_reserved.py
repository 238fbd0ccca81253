# ---- Patch: RDS reserved DB instances ---------------------------------------
#
# moto gap: moto 5.2.5 has no reserved DB instance API at all. This serves, in
# the RDS Query protocol (API version 2014-10-31):
#   DescribeReservedDBInstancesOfferings, PurchaseReservedDBInstancesOffering,
#   DescribeReservedDBInstances
# from a fixed, deterministic offering catalogue; purchases are kept in memory
# per region (region from the SigV4 credential scope) until POST /moto-api/reset.
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

from __future__ import annotations

import threading
import urllib.parse
import uuid
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable, Optional
from xml.sax.saxutils import escape as xml_escape

from ..calllog import operation_of, read_body, region_of, service_of
from ..context import PatchContext
from . import register


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

    def reset(self) -> None:
        """Forget every purchase (on POST /moto-api/reset)."""
        with self.lock:
            self.purchases.clear()

    def matches(self, environ: dict) -> bool:
        return service_of(environ) == "rds" and operation_of(environ) in self.ACTIONS

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        params: dict[str, str] = {}
        for source in (environ.get("QUERY_STRING") or "",
                       read_body(environ).decode("utf-8", "replace")):
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


@register
def patch_rds_reserved_instances(ctx: PatchContext) -> None:
    app = RdsReservedInstancesApp()
    ctx.add_route(app.matches, app)
    ctx.on_reset(app.reset)
