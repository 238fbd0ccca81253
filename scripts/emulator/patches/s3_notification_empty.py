# ---- Patch: S3 GetBucketNotificationConfiguration of a bucket with none -------------
#
# moto gap: for a bucket with no notification configuration, moto answers
# <GetBucketNotificationResponse/>; S3 answers an empty <NotificationConfiguration/>,
# and the Rust SDK refuses any other root ("expected NotificationConfiguration").
# hms-observe reads the backup bucket's notifications before it adds its own.

from __future__ import annotations

from ..context import PatchContext
from . import register

EMPTY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
)


@register
def patch_s3_notification_empty(ctx: PatchContext) -> None:
    from moto.s3.responses import S3Response

    if getattr(S3Response, "hms_notification_empty", False):
        return
    original = S3Response.get_bucket_notification

    def get_bucket_notification(self):  # type: ignore[no-untyped-def]
        if not self.backend.get_bucket_notification_configuration(self.bucket_name):
            return 200, {"Content-Type": "application/xml"}, EMPTY
        return original(self)

    S3Response.get_bucket_notification = get_bucket_notification
    S3Response.hms_notification_empty = True
