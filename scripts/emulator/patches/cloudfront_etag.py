# ---- Patch: CloudFront ETags, If-Match, disable before delete, InProgress --
#
# moto gap: moto 5.2.5 never changes a distribution's ETag, accepts any If-Match
# value, deletes an enabled distribution, and leaves an updated distribution
# Deployed.
# On AWS, every UpdateDistribution gives a new ETag; UpdateDistribution and
# DeleteDistribution with an If-Match that is not the current ETag are 412
# PreconditionFailed; DeleteDistribution of an enabled distribution is
# DistributionNotDisabled (409); an update puts the distribution InProgress until
# it is deployed again. This does the same (the InProgress → Deployed
# transition is moto's own state model). Keeps no state of its own.

from __future__ import annotations

from typing import Any

from ..context import PatchContext
from . import register


@register
def patch_cloudfront_etag(ctx: PatchContext) -> None:
    from moto.cloudfront import models
    from moto.cloudfront.exceptions import CloudFrontException

    B = models.CloudFrontBackend
    if getattr(B.update_distribution, "hms_patched", False):
        return

    def precondition() -> Exception:
        e = CloudFrontException("PreconditionFailed",
                                "The If-Match version is missing or not valid for the resource.")
        return e

    original_update = B.update_distribution

    def update_distribution(self, dist_config: dict[str, Any], _id: str, if_match: Any):  # type: ignore[no-untyped-def]
        dist = self.distributions.get(_id)
        if dist is not None and if_match and if_match != dist.etag:
            raise precondition()
        dist, location, _ = original_update(self, dist_config, _id, if_match)
        dist.etag = models.random_id()
        dist._status = "InProgress"
        dist._tick = 0
        return dist, location, dist.etag

    update_distribution.hms_patched = True  # type: ignore[attr-defined]
    B.update_distribution = update_distribution  # type: ignore[method-assign]

    original_delete = B.delete_distribution

    def delete_distribution(self, distribution_id: str, if_match: Any) -> None:  # type: ignore[no-untyped-def]
        dist = self.distributions.get(distribution_id)
        if dist is not None and if_match:
            if if_match != dist.etag:
                raise precondition()
            if getattr(dist.distribution_config, "Enabled", False) in (True, "true", "True"):
                e = CloudFrontException("DistributionNotDisabled",
                                        "The distribution you are trying to delete has not been disabled.")
                raise e
        return original_delete(self, distribution_id, if_match)

    B.delete_distribution = delete_distribution  # type: ignore[method-assign]
