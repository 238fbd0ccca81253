# ---- Patch: S3 PutBucketLogging accepts the target bucket's policy as AWS reads it ----
#
# moto gap: PutBucketLogging to a target bucket with ACLs off (BucketOwnerEnforced, as
# AWS recommends) needs a bucket policy statement letting logging.s3.amazonaws.com
# s3:PutObject; moto accepts only a statement whose Resource is exactly
# `<bucket>/<target prefix>*`, `<bucket>/*` or the bucket, one string, with Action a
# list and Principal.Service one string. S3 honours any Allow statement whose Resource
# (a string or a list, with wildcards) covers the objects under the target prefix:
# hms-ecs lets the service write `<log bucket>/s3/*` and hms-backup logs under
# `s3/<backup bucket>/`, which moto refused. This reads the statement as S3 does.

from __future__ import annotations

from ..context import PatchContext
from . import register

LOGGING_SERVICE = "logging.s3.amazonaws.com"


def _as_list(v):  # type: ignore[no-untyped-def]
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def allows_logging(policy: dict, partition: str, bucket: str, prefix: str | None) -> bool:
    """Whether a bucket policy lets S3 server access logging put objects under `prefix`."""
    from fnmatch import fnmatchcase

    sample = f"arn:{partition}:s3:::{bucket}/{prefix or ''}hms-log-object"
    for stmt in _as_list(policy.get("Statement")):
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        principal = stmt.get("Principal") or {}
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if LOGGING_SERVICE not in services:
            continue
        actions = [a.lower() for a in _as_list(stmt.get("Action"))]
        if not any(a in ("s3:putobject", "s3:*", "*") for a in actions):
            continue
        if any(fnmatchcase(sample, r) for r in _as_list(stmt.get("Resource")) if isinstance(r, str)):
            return True
    return False


@register
def patch_s3_logging_policy(ctx: PatchContext) -> None:
    import json

    from moto.s3.models import FakeBucket

    if getattr(FakeBucket, "hms_logging_policy", False):
        return

    def _log_permissions_enabled_policy(target_bucket, target_prefix):  # type: ignore[no-untyped-def]
        raw = target_bucket.policy
        if not raw:
            return False
        try:
            policy = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        except ValueError:
            return False
        return allows_logging(policy, target_bucket.partition, target_bucket.name, target_prefix)

    FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)
    FakeBucket.hms_logging_policy = True
