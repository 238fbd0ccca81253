# ---- Patch: S3 Object Lock on a bucket that already holds objects ----------------
#
# moto gap: PutObjectLockConfiguration on a versioned bucket that holds any object
# fails with InvalidBucketState ("Object Lock configuration cannot be enabled on
# existing buckets"), which was S3's rule before November 2023; S3 now enables
# Object Lock on any versioned bucket (existing objects keep no retention, new
# versions get the default). hms-backup turns it on for a backup bucket that
# may already hold backups. This drops that one check; the versioning check and
# everything else stay moto's.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_s3_object_lock(ctx: PatchContext) -> None:
    from moto.s3.exceptions import InvalidBucketState
    from moto.s3.models import S3Backend

    if getattr(S3Backend, "hms_object_lock", False):
        return

    def put_object_lock_configuration(self, bucket_name, lock_enabled, mode=None, days=None,  # type: ignore[no-untyped-def]
                                      years=None):
        bucket = self.get_bucket(bucket_name)
        if not bucket.is_versioned:
            raise InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            )
        if lock_enabled:
            bucket.object_lock_enabled = True
            bucket.versioning_status = "Enabled"
        bucket.default_lock_mode = mode
        bucket.default_lock_days = days
        bucket.default_lock_years = years

    S3Backend.put_object_lock_configuration = put_object_lock_configuration
    S3Backend.hms_object_lock = True
