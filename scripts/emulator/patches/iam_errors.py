# ---- Patch: IAM refusals in the service's protocol -------------------------------
#
# moto gap: with IAM enforcement on, moto answers a refused request of any service
# with the same XML, <ErrorResponse><Errors><Error>…, which is the error shape of
# no protocol: the SDKs of JSON services (KMS, Logs, ECS, Secrets Manager, ACM,
# WAFv2, Application Auto Scaling, the tagging API) cannot read it at all, EC2's
# expects <Response><Errors><Error>, and the query and REST-XML services
# <ErrorResponse><Error>. A refusal then reached the tools as an unreadable answer
# instead of AccessDenied naming the action. This answers as AWS does: EC2
# `UnauthorizedOperation` ("You are not authorized to perform this operation.
# User: … is not authorized to perform: ec2:…"), JSON services
# `AccessDeniedException` in a JSON body, the others `AccessDenied` in
# <ErrorResponse><Error>.

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from ..context import PatchContext
from . import register


@register
def patch_iam_errors(ctx: PatchContext) -> None:
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.access_control import IAMRequest

    if getattr(IAMRequest, "hms_errors", False):
        return

    class Refused(AccessDeniedError):
        def __init__(self, user_arn: str, action: str, protocol: str):
            super().__init__(user_arn=user_arn, action=action)
            text = f"User: {user_arn} is not authorized to perform: {action}"
            if protocol == "ec2":
                self.error_type = "UnauthorizedOperation"
                self.message = f"You are not authorized to perform this operation. {text}"
                self.description = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                    f"<Code>UnauthorizedOperation</Code><Message>{escape(self.message)}</Message>"
                    "</Error></Errors><RequestID>hms-iam</RequestID></Response>")
            elif protocol == "json":
                self.error_type = "AccessDeniedException"
                self.message = text
                self.description = json.dumps({"__type": "AccessDeniedException", "message": text,
                                               "Message": text})
                self.content_type = "application/x-amz-json-1.1"
            else:
                self.message = text
                self.description = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
                    f"<Code>AccessDenied</Code><Message>{escape(text)}</Message></Error>"
                    "<RequestId>hms-iam</RequestId></ErrorResponse>")

    def refuse(self):  # type: ignore[no-untyped-def]
        headers = {k.lower(): v for k, v in self._headers.items()}
        if self._service == "ec2":
            protocol = "ec2"
        elif "x-amz-target" in headers or "json" in headers.get("content-type", "") \
                or headers.get("smithy-protocol"):
            protocol = "json"
        else:
            protocol = "xml"
        raise Refused(self._access_key.arn, self._action, protocol)

    IAMRequest._raise_access_denied = refuse
    IAMRequest.hms_errors = True
