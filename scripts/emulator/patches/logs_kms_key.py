# ---- Patch: CloudWatch Logs AssociateKmsKey / DisassociateKmsKey ---------------
#
# moto gap: moto's Logs API has no AssociateKmsKey and no DisassociateKmsKey (it
# answers them with an HTML 404, which the SDK reports as an unparsable body),
# although CreateLogGroup takes a kmsKeyId and DescribeLogGroups returns it. The
# tools associate the stack's `logs` key with a log group whose key is missing or
# different (drift, a group made before the key, a run stopped in between). This
# sets or clears the group's key, as AWS does, with AWS's
# ResourceNotFoundException for an unknown group.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_logs_kms_key(ctx: PatchContext) -> None:
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    if getattr(LogsResponse, "hms_kms_key", False):
        return

    def group(self):  # type: ignore[no-untyped-def]
        name = self._get_param("logGroupName")
        g = self.logs_backend.groups.get(name)
        if g is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        return g

    def associate_kms_key(self) -> str:  # type: ignore[no-untyped-def]
        group(self).kms_key_id = self._get_param("kmsKeyId")
        return ""

    def disassociate_kms_key(self) -> str:  # type: ignore[no-untyped-def]
        group(self).kms_key_id = None
        return ""

    LogsResponse.associate_kms_key = associate_kms_key
    LogsResponse.disassociate_kms_key = disassociate_kms_key
    LogsResponse.hms_kms_key = True
