# ---- Patch: S3 GetBucketVersioning root element ---------------------------
#
# moto gap: GetBucketVersioning answers with a <GetBucketVersioningResponse> root
# where S3 (and every strict XML client, e.g. the AWS SDK for Rust) has
# <VersioningConfiguration>. This renames the root.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
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
