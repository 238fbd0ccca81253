# ---- Patch: IAM enforcement checks a role that does not exist yet by its ARN -----
#
# moto gap: with IAM enforcement on, moto checks an IAM request that names a role
# (RoleName) against the role's ARN only when the role exists already; for any
# other role it checks the resource "*". So CreateRole, and every call on a role
# not made yet (GetRole before the create, TagRole racing it), was refused to a
# policy that grants the actions on the stack's roles only
# (arn:aws:iam::ACCOUNT:role/NAME*), which AWS allows. This checks such a request
# against the ARN AWS gives the role: arn:aws:iam::ACCOUNT:role{Path}{RoleName},
# the path the request gives (CreateRole) or "/".

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_iam_role_resource(ctx: PatchContext) -> None:
    from moto.iam.exceptions import NotFoundException
    from moto.iam.responses import IamResponse

    if getattr(IamResponse, "hms_role_resource", False):
        return

    def resolve(self, role_name: str) -> str:  # type: ignore[no-untyped-def]
        try:
            return self.backend.get_role(role_name).arn
        except NotFoundException:
            path = (self.data.get("Path") or ["/"])[0] or "/"
            if not path.startswith("/"):
                path = "/" + path
            if not path.endswith("/"):
                path += "/"
            partition = getattr(self, "partition", None) or "aws"
            return f"arn:{partition}:iam::{self.current_account}:role{path}{role_name}"

    IamResponse._resolve_resource_arn = resolve
    IamResponse.hms_role_resource = True
