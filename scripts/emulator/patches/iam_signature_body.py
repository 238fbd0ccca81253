# ---- Patch: IAM enforcement checks a form-encoded request's signature over its body
#
# moto gap: with IAM enforcement on, moto recomputes each request's SigV4
# signature. For a form-encoded body (the query protocol: IAM, EC2, RDS, STS, …)
# werkzeug has already parsed the form, so moto's raw body is empty and it signs
# the parsed parameters re-encoded by Python's urlencode instead. The AWS SDK for
# Rust encodes differently (%20 for a space, its own order and safe characters),
# so every such request with a policy document or a tag value in it (CreateRole,
# PutRolePolicy) was refused as SignatureDoesNotMatch, in an error shape the SDK
# cannot read. This gives moto's check the body as the client sent it (kept by
# the call log's reader, calllog.read_body).
#
# And a request without a body (a REST GET such as Route 53's
# ListHostedZonesByName?dnsname=…) had its query parameters signed as if they
# were a form body: moto hands the parsed parameters to the signer when the body
# is empty. Such a request is now signed over its empty body, as the client did.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_iam_signature_body(ctx: PatchContext) -> None:
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequestBase

    if getattr(ActionAuthenticatorMixin, "hms_signature_body", False):
        return
    authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def with_body(self, iam_request_cls, resource="*"):  # type: ignore[no-untyped-def]
        request = getattr(self, "normalized_request", None)
        environ = getattr(request, "environ", None)
        if not getattr(self, "raw_body", None) and environ is not None:
            # Kept by the call log for every form-encoded request (the only ones that lose it).
            raw = environ.get("hms.body")
            if raw:
                self.raw_body = raw
        return authorize(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = with_body

    create_request = IAMRequestBase._create_aws_request

    def signed_request(self):  # type: ignore[no-untyped-def]
        content_type = next((v for k, v in self._headers.items() if k.lower() == "content-type"), "")
        if self._body or content_type.startswith("application/x-www-form-urlencoded"):
            return create_request(self)
        data = self._data
        self._data = {}
        try:
            return create_request(self)
        finally:
            self._data = data

    IAMRequestBase._create_aws_request = signed_request
    ActionAuthenticatorMixin.hms_signature_body = True
