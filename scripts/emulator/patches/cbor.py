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

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import re
import struct
import threading
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Callable, Iterable, Optional

from ..calllog import read_body
from ..context import PatchContext, WSGIApp
from . import register


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
        raw = read_body(environ)
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


@register
def patch_rpc_v2_cbor_bridge(ctx: PatchContext) -> None:
    app = RpcV2CborBridge(ctx.moto_app)
    ctx.add_route(app.matches, app)
