# ---- Patch: S3 bucket policies see requests as TLS -------------------------
#
# moto gap: moto evaluates a bucket policy's Condition block without any request
# context, skips operators it does not know (it knows only StringEquals), and
# answers DENIED for any statement whose condition fails, whatever its Effect. So
# the standard "Deny s3:* when {Bool: aws:SecureTransport = false}" policy (which
# the stack's buckets carry) denies every object request with an empty 403.
# Against AWS the SDK always speaks TLS; the emulator stands in for those HTTPS
# endpoints on plain loopback HTTP. This evaluates bucket policies statement by
# statement as IAM does: a statement whose condition does not hold does not apply
# (neither allows nor denies), with the request context aws:SecureTransport =
# "true". Operators other than Bool/StringEquals, and keys the request does not
# carry, are skipped as moto skips them (the statement then applies).

from __future__ import annotations

import json

from ..context import PatchContext
from . import register

# What the emulated requests carry.
CONTEXT = {"aws:SecureTransport": "true"}


def _values(v):  # type: ignore[no-untyped-def]
    return [str(x) for x in (v if isinstance(v, list) else [v])]


def conditions_hold(condition: dict) -> bool:
    for operator, keys in condition.items():
        for key, expected in keys.items():
            actual = CONTEXT.get(key)
            if actual is None:
                continue
            if operator == "Bool":
                if actual.lower() not in [e.lower() for e in _values(expected)]:
                    return False
            elif operator == "StringEquals":
                if actual not in _values(expected):
                    return False
    return True


@register
def patch_s3_secure_transport(ctx: PatchContext) -> None:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3.models import FakeBucket

    if getattr(FakeBucket, "hms_secure_transport_patched", False):
        return

    def get_permission(self, action: str, resource: str):  # type: ignore[no-untyped-def]
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy.decode()).get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        permitted = False
        for statement in statements:
            condition = statement.get("Condition")
            if condition and not conditions_hold(condition):
                continue
            plain = {k: v for k, v in statement.items() if k != "Condition"}
            result = IAMPolicyStatement(plain).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission
    FakeBucket.hms_secure_transport_patched = True
