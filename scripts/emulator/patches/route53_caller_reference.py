# ---- Patch: Route 53 CallerReference used once --------------------------------
#
# moto gap: moto 5.2.5's CreateHostedZone makes a new zone for every request,
# even one repeating the CallerReference of an earlier request. On AWS a
# CallerReference identifies one CreateHostedZone request, so that a retried
# request never makes a second zone: a repeated one (also of a zone deleted
# since) is HostedZoneAlreadyExists (HTTP 409), "A hosted zone has already been
# created with the specified caller reference.", and nothing is created. This
# keeps the references of every zone created, per account, in memory until
# POST /moto-api/reset.

from __future__ import annotations

import threading
from typing import Any

from ..context import PatchContext
from . import register

_USED: dict[str, set[str]] = {}  # account id -> CallerReferences of zones created
_LOCK = threading.Lock()


@register
def patch_route53_caller_reference(ctx: PatchContext) -> None:
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    original = Route53Backend.create_hosted_zone
    if getattr(original, "hms_patched", False):
        return

    def create_hosted_zone(self, name: str, private_zone: bool, caller_reference: str | None = None,  # type: ignore[no-untyped-def]
                           *args: Any, **kwargs: Any):
        with _LOCK:
            used = _USED.setdefault(self.account_id, set())
            if caller_reference is not None and caller_reference in used:
                raise Route53ClientError(
                    "HostedZoneAlreadyExists",
                    "A hosted zone has already been created with the specified caller reference.")
            zone = original(self, name, private_zone, caller_reference, *args, **kwargs)
            used.add(zone.caller_reference)
            return zone

    create_hosted_zone.hms_patched = True  # type: ignore[attr-defined]
    Route53Backend.create_hosted_zone = create_hosted_zone  # type: ignore[method-assign]

    def reset() -> None:
        with _LOCK:
            _USED.clear()

    ctx.on_reset(reset)
