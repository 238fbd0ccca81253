# ---- Patch: ACM idempotency token of a deleted certificate --------------------
#
# moto gap: moto 5.2.5's RequestCertificate remembers each IdempotencyToken for
# an hour, but when the certificate it made has been deleted since, a request
# repeating the token fails with HTTP 500 (a KeyError looking the deleted
# certificate up). On AWS a token repeated within the hour is the same request:
# it answers with the ARN of the certificate that request made, and makes
# nothing new. This answers so (the ARN then describes as
# ResourceNotFoundException, as that of any deleted certificate), and makes a new
# certificate only once the token has expired, as before. Keeps no state of its
# own (the tokens are moto's, reset with its ACM backend).

from __future__ import annotations

from typing import Any

from ..context import PatchContext
from . import register


@register
def patch_acm_idempotency(ctx: PatchContext) -> None:
    from moto.acm.models import AWSCertificateManagerBackend

    original = AWSCertificateManagerBackend.request_certificate
    if getattr(original, "hms_patched", False):
        return

    def request_certificate(self, domain_name: str, idempotency_token: str, *args: Any, **kwargs: Any) -> str:  # type: ignore[no-untyped-def]
        if idempotency_token is not None:
            arn = self._get_arn_from_idempotency_token(idempotency_token)
            if arn is not None and arn not in self._certificates:
                return arn
        return original(self, domain_name, idempotency_token, *args, **kwargs)

    request_certificate.hms_patched = True  # type: ignore[attr-defined]
    AWSCertificateManagerBackend.request_certificate = request_certificate  # type: ignore[method-assign]
