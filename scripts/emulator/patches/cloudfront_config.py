# ---- Patch: CloudFront keeps the distribution config it is given ---------
#
# moto gap: moto 5.2.5 rebuilds a distribution's config from a few fields and
# drops the rest: an origin's S3OriginConfig and OriginAccessControlId, the
# behaviours' cache / origin request / response headers policy ids, HttpVersion
# http2and3; with an ACM certificate it still reports
# CloudFrontDefaultCertificate = true and MinimumProtocolVersion TLSv1.
# On AWS, GetDistribution / GetDistributionConfig give back the config as set.
# This keeps the parsed request's Aliases, Origins, DefaultCacheBehavior,
# CacheBehaviors, HttpVersion, IsIPV6Enabled, PriceClass and WebACLId as given,
# and the viewer certificate's ACM fields (moto's object stays, so ACM's InUseBy
# patch still reads it). Keeps no state of its own.

from __future__ import annotations

import copy
from typing import Any

from ..context import PatchContext
from . import register

KEPT = ("Aliases", "Origins", "DefaultCacheBehavior", "CacheBehaviors", "HttpVersion",
        "IsIPV6Enabled", "PriceClass", "WebACLId")


@register
def patch_cloudfront_config(ctx: PatchContext) -> None:
    from moto.cloudfront import models

    original = models.DistributionConfig.__init__
    if getattr(original, "hms_patched", False):
        return

    def init(self, config: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        raw = copy.deepcopy(config)
        original(self, config)
        for key in KEPT:
            if key in raw and raw[key] is not None:
                self.__dict__[key] = raw[key]
        viewer = raw.get("ViewerCertificate") or {}
        cert = self.__dict__.get("ViewerCertificate")
        if cert is not None and viewer.get("ACMCertificateArn"):
            cert.cloud_front_default_certificate = bool(viewer.get("CloudFrontDefaultCertificate", False))
            cert.minimum_protocol_version = viewer.get("MinimumProtocolVersion") or "TLSv1.2_2021"
            cert.certificate_source = "acm"

    init.hms_patched = True  # type: ignore[attr-defined]
    models.DistributionConfig.__init__ = init  # type: ignore[method-assign]
