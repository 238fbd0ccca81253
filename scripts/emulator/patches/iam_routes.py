# ---- Patch: IAM enforcement of the launcher's own routes -------------------------
#
# moto gap (of our making): the APIs the launcher serves itself (patches that add a
# route: the CBOR bridge, X-Ray sampling rules and groups, RDS reserved instances,
# Application Auto Scaling tags) never reach moto's authorization, so with IAM
# enforcement on (POST /moto-api/reset-auth) they answered every caller, and the
# CBOR bridge's translated request reached moto with a signature over the original
# path and body, which moto then refused as SignatureDoesNotMatch.
#
# Every added route is now checked as moto checks its own requests, on the request
# as the client signed it: the signature (moto's IAM users' keys), then the action
# `<IAM prefix>:<operation>` (resource "*", as moto does for these services)
# against the caller's policies; a refusal is answered in the route's protocol
# (CBOR for the bridge, JSON for X-Ray and Application Auto Scaling, XML for RDS)
# with AWS's AccessDenied message, which names the action. The request then runs
# with moto's own check skipped (it was made), and counts as one request against
# the free-request count as moto's requests do.

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Iterable

from ..calllog import account_of, operation_of, read_body
from ..context import PatchContext, WSGIApp
from . import register

_local = threading.local()


def _headers(environ: dict) -> dict:
    out = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        out["Content-Type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        out["Content-Length"] = environ["CONTENT_LENGTH"]
    return out


def _refusal(environ: dict, start_response: Callable, err: Any) -> Iterable[bytes]:
    status = int(getattr(err, "code", 403) or 403)
    code = getattr(err, "error_type", None) or type(err).__name__
    message = getattr(err, "message", None) or str(err)
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
    if (environ.get("HTTP_SMITHY_PROTOCOL") or "").lower() == "rpc-v2-cbor":
        from .cbor import cbor_encode

        body = cbor_encode({"__type": code, "message": message})
        headers = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor"),
                   ("x-amzn-query-error", f"{code};Sender")]
    elif (environ.get("CONTENT_TYPE") or "").startswith("application/x-www-form-urlencoded"):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
                f"<Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>hms-iam</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
    else:
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
    start_response(f"{status} {reason}", headers + [("Content-Length", str(len(body)))])
    return [body]


class _Unsigned(Exception):
    """An unsigned request under enforcement (AWS's answer)."""

    code = 403
    error_type = "MissingAuthenticationToken"
    message = "Request is missing Authentication Token"


def authorize(environ: dict) -> Any:
    """None when the request may run; else the moto error refusing it."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import _RESTError as RESTError
    from moto.iam.access_control import IAMRequest

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return None
    path = environ.get("PATH_INFO") or "/"
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    headers = _headers(environ)
    if "Authorization" not in headers:
        return _Unsigned()
    try:
        req = IAMRequest(account_id=account_of(environ), method=environ.get("REQUEST_METHOD", "GET"),
                         path=path, data={}, body=read_body(environ), headers=headers,
                         action=operation_of(environ))
        req.check_signature()
        req.check_action_permitted("*")
    except RESTError as e:
        return e
    return None


def checked(app: WSGIApp) -> WSGIApp:
    """`app` behind the IAM check (see above)."""

    def run(environ: dict, start_response: Callable) -> Iterable[bytes]:
        refused = authorize(environ)
        if refused is not None:
            return _refusal(environ, start_response, refused)
        _local.authorized = True
        try:
            return list(app(environ, start_response))
        finally:
            _local.authorized = False

    return run


@register
def patch_iam_routes(ctx: PatchContext) -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    if getattr(ActionAuthenticatorMixin, "hms_routes", False):
        return
    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if getattr(_local, "authorized", False):
            return None
        return original(self, *args, **kwargs)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate
    ActionAuthenticatorMixin.hms_routes = True
