# ---- Patch: ACM InUseBy for ALB listeners and CloudFront; in-use deletes ----
#
# moto gap: moto 5.2.5 fills a certificate's InUseBy only when a listener is
# created with it (CreateListener appends the listener's ARN, classic ELBs their
# name) and never takes it out again: a certificate moved off a listener by
# ModifyListener, or whose listener or load balancer is deleted, stays "in use"
# forever, one moved onto a listener by ModifyListener or AddListenerCertificates
# never is, and CloudFront distributions are never counted. DeleteCertificate
# deletes a certificate whatever uses it.
# On AWS, InUseBy (DescribeCertificate) and InUse (ListCertificates) say what
# uses the certificate now — for an ALB/NLB the load balancer's ARN, for a
# distribution its ARN — and DeleteCertificate of a certificate in use is
# ResourceInUseException ("Certificate <arn> is in use."), deleting nothing.
# This computes InUseBy at each call from moto's own stores: the ELBv2 load
# balancers (of the certificate's account and region) with a listener that
# holds the certificate (default or in its certificate list), the CloudFront
# distributions (of the account; CloudFront takes only us-east-1 certificates)
# whose ViewerCertificate names it, plus what moto recorded for classic ELBs.
# Keeps no state of its own.

from __future__ import annotations

from typing import Any

from ..context import PatchContext
from . import register


def _users(cert: Any) -> list[str]:
    from moto.cloudfront.models import cloudfront_backends
    from moto.elbv2.models import elbv2_backends

    arn = cert.arn
    parts = arn.split(":")
    partition, region, account = parts[1], parts[3], parts[4]
    users: list[str] = [u for u in cert.in_use_by if ":listener/" not in u]
    try:
        balancers = list(elbv2_backends[account][region].load_balancers.values())
    except KeyError:  # a region moto does not know: nothing there
        balancers = []
    for lb in balancers:
        for listener in list(lb.listeners.values()):
            held = set(getattr(listener, "certificates", None) or [])
            if getattr(listener, "certificate", None):
                held.add(listener.certificate)
            if arn in held and lb.arn not in users:
                users.append(lb.arn)
    if region == "us-east-1":
        try:
            distributions = list(cloudfront_backends[account][partition].distributions.values())
        except KeyError:
            distributions = []
        for dist in distributions:
            viewer = getattr(dist.distribution_config, "ViewerCertificate", None)
            if viewer is not None and getattr(viewer, "acm_certificate_arn", "") == arn and dist.arn not in users:
                users.append(dist.arn)
    return users


@register
def patch_acm_in_use(ctx: PatchContext) -> None:
    from moto.acm.models import AWSCertificateManagerBackend, CertBundle, CertificateNotFound
    from moto.core.exceptions import AWSError

    class ResourceInUseException(AWSError):
        TYPE = "ResourceInUseException"

    original_describe = CertBundle.describe
    if getattr(original_describe, "hms_patched", False):
        return

    def describe(self) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        result = original_describe(self)
        result["Certificate"]["InUseBy"] = _users(self)
        return result

    describe.hms_patched = True  # type: ignore[attr-defined]
    CertBundle.describe = describe  # type: ignore[method-assign]

    original_delete = AWSCertificateManagerBackend.delete_certificate

    def delete_certificate(self, arn: str) -> None:  # type: ignore[no-untyped-def]
        if arn not in self._certificates:
            raise CertificateNotFound(arn=arn, account_id=self.account_id)
        if _users(self._certificates[arn]):
            raise ResourceInUseException(f"Certificate {arn} is in use.")
        return original_delete(self, arn)

    AWSCertificateManagerBackend.delete_certificate = delete_certificate  # type: ignore[method-assign]
