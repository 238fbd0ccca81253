# ---- Patch: IAM enforcement names the action by its IAM prefix ------------------
#
# moto gap: with IAM enforcement on (POST /moto-api/reset-auth), moto names the
# action it checks `<signing name>:<operation>`, the signing name taken from the
# request's SigV4 credential scope. For most services that is the IAM prefix, but
# not for every one: the SDKs sign CloudWatch as `monitoring` and the Resource
# Groups Tagging API as `tagging`, so a policy granting `cloudwatch:PutMetricAlarm`
# or `tag:GetResources` (what AWS checks) was refused and one granting
# `monitoring:…` accepted. This maps signing names to IAM prefixes, as AWS does.

from __future__ import annotations

from ..context import PatchContext
from . import register

# SigV4 signing name → IAM service prefix, where they differ.
IAM_PREFIX = {
    "monitoring": "cloudwatch",
    "tagging": "tag",
}

# Operations whose IAM action is not their name (moto checks `<prefix>:<operation>`): AWS checks
# CloudFront's CreateDistributionWithTags as cloudfront:CreateDistribution (and TagResource).
IAM_ACTION = {
    "cloudfront:CreateDistributionWithTags": "cloudfront:CreateDistribution",
}


@register
def patch_iam_signing_names(ctx: PatchContext) -> None:
    from moto.iam.access_control import IAMRequestBase

    if getattr(IAMRequestBase, "hms_signing_names", False):
        return
    original = IAMRequestBase.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        prefix = IAM_PREFIX.get(self._service)
        if prefix is not None:
            # The signature is still computed with the signing name (`_service`).
            self._action = prefix + self._action[len(self._service):]
        self._action = IAM_ACTION.get(self._action, self._action)

    IAMRequestBase.__init__ = init
    IAMRequestBase.hms_signing_names = True
