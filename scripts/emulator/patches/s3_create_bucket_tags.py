# ---- Patch: S3 CreateBucket with tags ---------------------------------------------
#
# moto gap: CreateBucket ignores the Tags of its CreateBucketConfiguration, which S3
# applies with the bucket in the same call (with s3:TagResource). hms-backup and
# hms-edge tag their buckets at creation, so that a run stopped right after
# CreateBucket leaves a bucket the next run recognises as its own; under moto the
# bucket stayed untagged and the next run refused it as "not made by hms-backup".
# This applies those tags once moto has made the bucket (or found it ours).

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_s3_create_bucket_tags(ctx: PatchContext) -> None:
    import xmltodict
    from moto.s3.responses import S3Response

    if getattr(S3Response, "hms_create_bucket_tags", False):
        return
    original = S3Response._bucket_response_put

    def _bucket_response_put(self, request, bucket_name, querystring):  # type: ignore[no-untyped-def]
        result = original(self, request, bucket_name, querystring)
        if querystring or not self.body:
            return result
        try:
            config = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
        except Exception:  # noqa: BLE001 - not a CreateBucketConfiguration: nothing to add
            return result
        tags = (config.get("Tags") or {}).get("Tag") or []
        if isinstance(tags, dict):
            tags = [tags]
        if tags:
            self.backend.put_bucket_tagging(
                bucket_name, {t["Key"]: t.get("Value") or "" for t in tags})
        return result

    S3Response._bucket_response_put = _bucket_response_put
    S3Response.hms_create_bucket_tags = True
