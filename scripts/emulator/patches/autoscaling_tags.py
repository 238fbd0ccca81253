# ---- Patch: Application Auto Scaling tags -----------------------------------
#
# moto gap: moto 5.2.5's application-autoscaling backend has no TagResource,
# UntagResource or ListTagsForResource, and RegisterScalableTarget ignores its
# `Tags`. moto does give every scalable target an ARN,
# arn:<partition>:application-autoscaling:<region>:<account>:scalable-target/<36
# characters>, returned as ScalableTargetARN by RegisterScalableTarget and
# DescribeScalableTargets (as on AWS), kept when a target is registered again and
# new after DeregisterScalableTarget + RegisterScalableTarget. This keeps tags per
# target ARN, in memory until POST /moto-api/reset, and serves in the awsJson 1.1
# protocol (X-Amz-Target `AnyScaleFrontendService.<Operation>`):
#   TagResource, UntagResource, ListTagsForResource;
#   RegisterScalableTarget: moto registers; `Tags` are kept for a target it
#     creates (AWS: "to tag an existing scalable target, use TagResource"; on an
#     update they are validated, then ignored);
#   DeregisterScalableTarget: moto deregisters; the target's tags go with it.
#
# AWS behaviour followed (botocore's application-autoscaling 2016-02-06 model):
# * Tags is a map of key -> value; keys 1..128 and values 0..256 characters, no
#   `aws:` key prefix, at most 50 tags per target (TooManyTagsException, with
#   ResourceName, from TagResource; ValidationException from
#   RegisterScalableTarget). UntagResource takes at most 200 keys; unknown keys
#   are ignored. TagResource overwrites the value of a key it is given.
# * ResourceARN must match the model's pattern
#   ^arn:.+:application-autoscaling:.+:[0-9]+:scalable-target\/[a-zA-Z0-9-]+$
#   (ValidationException); a well-formed ARN that is not a scalable target of
#   the request's account and region (account resolved as moto does) is
#   ResourceNotFoundException (with ResourceName).
# * errors: HTTP 400, header `X-Amzn-ErrorType: <code>` and body
#   {"__type": "<code>", "message": "..."} (plus "ResourceName"), as moto's own
#   application-autoscaling errors; a body that is not a JSON object, or members
#   of the wrong type: SerializationException.

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Any, Callable, Iterable, Optional

from ..calllog import account_of, operation_of, read_body, region_of, service_of
from ..context import PatchContext, WSGIApp
from . import register

AAS_TARGET_PREFIX = "AnyScaleFrontendService."
AAS_MAX_TAGS = 50  # per scalable target
AAS_MAX_UNTAG_KEYS = 200  # TagKeyList max
AAS_ARN_PATTERN = r"^arn:.+:application-autoscaling:.+:[0-9]+:scalable-target\/[a-zA-Z0-9-]+$"
_AAS_ARN_RE = re.compile(AAS_ARN_PATTERN)


class AutoScalingError(Exception):
    def __init__(self, code: str, message: str, resource_name: Optional[str] = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.resource_name = resource_name


def _constraint(value: Any, member: str, constraint: str) -> AutoScalingError:
    return AutoScalingError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}")


def _aas_arn(body: dict) -> str:
    arn = body.get("ResourceARN")
    if arn is None:
        raise _constraint(None, "resourceARN", "Member must not be null")
    if not isinstance(arn, str):
        raise AutoScalingError("SerializationException", "ResourceARN must be a string.")
    if not 1 <= len(arn) <= 1011:
        raise _constraint(arn, "resourceARN", "Member must have length between 1 and 1011")
    if not _AAS_ARN_RE.match(arn):
        raise _constraint(arn, "resourceARN", f"Member must satisfy regular expression pattern: {AAS_ARN_PATTERN}")
    return arn


def _aas_key(key: Any, member: str, constraint: str) -> str:
    if not isinstance(key, str):
        raise AutoScalingError("SerializationException", "Tag keys must be strings.")
    if not 1 <= len(key) <= 128:
        raise _constraint(key, member, f"{constraint}: [Member must have length between 1 and 128]")
    if key.lower().startswith("aws:"):
        raise AutoScalingError("ValidationException", f"Tag keys starting with 'aws:' are reserved for AWS use: {key}")
    return key


def _aas_tags(value: Any) -> dict:
    """A TagMap (key -> value), validated."""
    if value is None:
        raise _constraint(None, "tags", "Member must not be null")
    if not isinstance(value, dict):
        raise AutoScalingError("SerializationException", "Tags must be a map of tag keys to tag values.")
    for key, val in value.items():
        _aas_key(key, "tags", "Map keys must satisfy constraint")
        if not isinstance(val, str):
            raise AutoScalingError("SerializationException", "Tag values must be strings.")
        if len(val) > 256:
            raise _constraint(val, "tags", "Map value must satisfy constraint: "
                                           "[Member must have length less than or equal to 256]")
    return dict(value)


class AutoScalingTagsApp:
    """WSGI app for the tags of Application Auto Scaling scalable targets."""

    OPERATIONS = ("TagResource", "UntagResource", "ListTagsForResource",
                  "RegisterScalableTarget", "DeregisterScalableTarget")

    def __init__(self, moto_app: WSGIApp) -> None:
        self.moto_app = moto_app
        self.tags: dict[str, dict[str, str]] = {}  # scalable target ARN -> key -> value
        self.lock = threading.Lock()

    def reset(self) -> None:
        """Forget every target's tags (on POST /moto-api/reset)."""
        with self.lock:
            self.tags.clear()

    def matches(self, environ: dict) -> bool:
        target = environ.get("HTTP_X_AMZ_TARGET") or ""
        return (service_of(environ) == "application-autoscaling" and environ.get("REQUEST_METHOD") == "POST"
                and target.startswith(AAS_TARGET_PREFIX) and operation_of(environ) in self.OPERATIONS)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        operation = operation_of(environ)
        try:
            raw = read_body(environ)
            try:
                body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            except ValueError as exc:
                raise AutoScalingError("SerializationException",
                                       f"Could not parse the request body as JSON: {exc}") from None
            if not isinstance(body, dict):
                raise AutoScalingError("SerializationException", "The request body must be a JSON object.")
            if operation == "RegisterScalableTarget":
                return self._register(environ, start_response, body)
            if operation == "DeregisterScalableTarget":
                return self._deregister(environ, start_response, body)
            handler = getattr(self, "_" + operation)
            arns = self._target_arns(environ)
            with self.lock:
                result = handler(body, arns)
            status = "200 OK"
        except AutoScalingError as err:
            status = "400 Bad Request"
            result = {"__type": err.code, "message": err.message}
            if err.resource_name is not None:
                result["ResourceName"] = err.resource_name
        data = json.dumps(result).encode("utf-8")
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id),
                   ("Content-Length", str(len(data)))]
        if not status.startswith("200"):
            headers.append(("X-Amzn-ErrorType", result["__type"]))
        start_response(status, headers)
        return [data]

    # -- moto's scalable targets ---------------------------------------------

    @staticmethod
    def _backend(environ: dict) -> Any:
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        try:
            return applicationautoscaling_backends[account_of(environ)][region_of(environ)]
        except KeyError:  # a region moto does not know: it has no targets there
            return None

    def _target_arns(self, environ: dict) -> set[str]:
        """The ARNs of the scalable targets moto has in the request's account and region."""
        backend = self._backend(environ)
        if backend is None:
            return set()
        return {t.arn for by_id in list(backend.targets.values()) for t in list(by_id.values())}

    def _call_moto(self, environ: dict) -> tuple[str, list, bytes]:
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
        return str(captured.get("status", "500 Internal Server Error")), captured.get("headers", []), b"".join(chunks)

    @staticmethod
    def _pass_on(start_response: Callable, status: str, headers: list, data: bytes) -> Iterable[bytes]:
        start_response(status, headers)
        return [data]

    def _register(self, environ: dict, start_response: Callable, body: dict) -> Iterable[bytes]:
        tags = None
        if body.get("Tags") is not None:
            tags = _aas_tags(body["Tags"])
            if len(tags) > AAS_MAX_TAGS:
                raise AutoScalingError("ValidationException",
                                       f"A scalable target can have at most {AAS_MAX_TAGS} tags.")
        if tags is None:
            return self.moto_app(environ, start_response)
        with self.lock:
            before = self._target_arns(environ)
            status, headers, data = self._call_moto(environ)
            if status.startswith("200"):
                try:
                    arn = json.loads(data.decode("utf-8")).get("ScalableTargetARN")
                except (ValueError, AttributeError):
                    arn = None
                if isinstance(arn, str) and arn not in before:  # created, not updated
                    self.tags[arn] = tags
        return self._pass_on(start_response, status, headers, data)

    def _deregister(self, environ: dict, start_response: Callable, body: dict) -> Iterable[bytes]:
        with self.lock:
            backend = self._backend(environ)
            target = None
            if backend is not None and isinstance(body.get("ScalableDimension"), str):
                target = backend.targets.get(body["ScalableDimension"], {}).get(body.get("ResourceId"))
            status, headers, data = self._call_moto(environ)
            if status.startswith("200") and target is not None:
                self.tags.pop(target.arn, None)
        return self._pass_on(start_response, status, headers, data)

    # -- tags (called with self.lock held) -------------------------------------

    def _find(self, body: dict, arns: set[str]) -> str:
        arn = _aas_arn(body)
        if arn not in arns:
            self.tags.pop(arn, None)
            raise AutoScalingError("ResourceNotFoundException", f"Scalable target not found: {arn}",
                                   resource_name=arn)
        return arn

    def _TagResource(self, body: dict, arns: set[str]) -> dict:
        arn = self._find(body, arns)
        merged = dict(self.tags.get(arn, {}))
        merged.update(_aas_tags(body.get("Tags")))
        if len(merged) > AAS_MAX_TAGS:
            raise AutoScalingError("TooManyTagsException",
                                   f"A scalable target can have at most {AAS_MAX_TAGS} tags.", resource_name=arn)
        self.tags[arn] = merged
        return {}

    def _UntagResource(self, body: dict, arns: set[str]) -> dict:
        arn = self._find(body, arns)
        keys = body.get("TagKeys")
        if keys is None:
            raise _constraint(None, "tagKeys", "Member must not be null")
        if not isinstance(keys, list):
            raise AutoScalingError("SerializationException", "TagKeys must be a list of tag keys.")
        if len(keys) > AAS_MAX_UNTAG_KEYS:
            raise _constraint(keys, "tagKeys", f"Member must have length less than or equal to {AAS_MAX_UNTAG_KEYS}")
        for key in keys:
            _aas_key(key, "tagKeys", "Member must satisfy constraint")
        self.tags[arn] = {k: v for k, v in self.tags.get(arn, {}).items() if k not in keys}
        return {}

    def _ListTagsForResource(self, body: dict, arns: set[str]) -> dict:
        arn = self._find(body, arns)
        return {"Tags": dict(self.tags.get(arn, {}))}


@register
def patch_autoscaling_tags(ctx: PatchContext) -> None:
    app = AutoScalingTagsApp(ctx.moto_app)
    ctx.add_route(app.matches, app)
    ctx.on_reset(app.reset)
