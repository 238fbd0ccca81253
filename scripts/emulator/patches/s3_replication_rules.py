# ---- Patch: S3 GetBucketReplication returns the rules as they were put ---------
#
# moto gap: GetBucketReplication answers every rule with DeleteMarkerReplication
# Disabled and Filter Prefix "", whatever PutBucketReplication said, and leaves out
# SourceSelectionCriteria (SseKmsEncryptedObjects): S3 returns the rule as written.
# hms-backup's rule replicates delete markers and SSE-KMS objects, so under moto the
# next plan always saw drift. This answers each rule's own fields.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_s3_replication_rules(ctx: PatchContext) -> None:
    from moto.core.responses import ActionResult
    from moto.s3.exceptions import ReplicationConfigurationNotFoundError
    from moto.s3.responses import S3Response

    if getattr(S3Response, "hms_replication_rules", False):
        return

    def get_bucket_replication(self):  # type: ignore[no-untyped-def]
        self.data["Action"] = "GetBucketReplication"
        replication = self.backend.get_bucket_replication(self.bucket_name)
        if not replication:
            raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
        rules = []
        for rule in replication["Rule"]:
            out = {
                "ID": rule["ID"],
                "Priority": rule["Priority"],
                "Status": rule["Status"],
                "DeleteMarkerReplication": rule.get("DeleteMarkerReplication") or {"Status": "Disabled"},
                "Filter": rule.get("Filter") or {"Prefix": rule.get("Prefix") or ""},
                "Destination": rule["Destination"],
            }
            if rule.get("SourceSelectionCriteria"):
                out["SourceSelectionCriteria"] = rule["SourceSelectionCriteria"]
            rules.append(out)
        return self.serialized(ActionResult({
            "ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}}))

    S3Response.get_bucket_replication = get_bucket_replication
    S3Response.hms_replication_rules = True
