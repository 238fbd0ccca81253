# ---- Patch: S3 requests checked as AWS's IAM actions -----------------------------
#
# moto gap: with IAM enforcement on, moto names an S3 bucket request's action from
# its own ACTION_MAP, which differs from the actions AWS checks: HEAD bucket is
# `HeadBucket` (AWS: s3:ListBucket), and the sub-resources it does not list fall
# to the method's default, so PUT ?encryption, ?ownershipControls, ?replication,
# ?object-lock and ?publicAccessBlock were all `CreateBucket`, their GETs
# `ListBucket` and their DELETEs `DeleteBucket` (its own entry says
# `public_access_block`, a query key no client sends). A policy that grants what
# AWS checks was refused, and one granting CreateBucket allowed everything. This
# sets the map to AWS's actions (Service Authorization Reference, Amazon S3).
# And its refusal says only "Access Denied", where AWS names the caller and the
# action ("User: arn:… is not authorized to perform: s3:PutBucketPolicy on
# resource: … because no identity-based policy allows the s3:PutBucketPolicy
# action"): the refusal names them, as AWS's does.

from __future__ import annotations

from ..context import PatchContext
from . import register

# (method, query key) → IAM action, for bucket requests.
BUCKET_ACTIONS = {
    ("HEAD", "DEFAULT"): "ListBucket",
    ("GET", "encryption"): "GetEncryptionConfiguration",
    ("GET", "ownershipControls"): "GetBucketOwnershipControls",
    ("GET", "publicAccessBlock"): "GetBucketPublicAccessBlock",
    ("GET", "replication"): "GetReplicationConfiguration",
    ("GET", "object-lock"): "GetBucketObjectLockConfiguration",
    ("PUT", "encryption"): "PutEncryptionConfiguration",
    ("PUT", "ownershipControls"): "PutBucketOwnershipControls",
    ("PUT", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("PUT", "replication"): "PutReplicationConfiguration",
    ("PUT", "object-lock"): "PutBucketObjectLockConfiguration",
    ("DELETE", "encryption"): "PutEncryptionConfiguration",
    ("DELETE", "ownershipControls"): "PutBucketOwnershipControls",
    ("DELETE", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("DELETE", "replication"): "PutReplicationConfiguration",
}


@register
def patch_s3_iam_actions(ctx: PatchContext) -> None:
    from moto.iam.access_control import S3IAMRequest
    from moto.s3 import responses
    from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError, S3ClientError

    if getattr(S3IAMRequest, "hms_actions", False):
        return

    def refuse(self):  # type: ignore[no-untyped-def]
        if "BucketName" in self._data:
            err = BucketAccessDeniedError(bucket=self._data["BucketName"])
        else:
            err = S3AccessDeniedError()
        S3ClientError.__init__(
            err, "AccessDenied",
            f"User: {self._access_key.arn} is not authorized to perform: {self._action} "
            f"because no identity-based policy allows the {self._action} action")
        raise err

    S3IAMRequest._raise_access_denied = refuse
    S3IAMRequest.hms_actions = True

    bucket = responses.ACTION_MAP["BUCKET"]
    for method in ("GET", "PUT", "DELETE"):
        bucket[method].pop("public_access_block", None)
    for (method, key), action in BUCKET_ACTIONS.items():
        bucket[method][key] = action
