# ---- Patch: ElastiCache replication groups really deleted ---------------------
#
# moto gap: DeleteReplicationGroup only marks the group `deleting` and keeps it
# forever (it stays in DescribeReplicationGroups, its subnet and parameter
# groups stay in use), and FinalSnapshotIdentifier is ignored. This takes the
# final snapshot first when one is asked for (SnapshotAlreadyExistsFault if the
# name is taken; the snapshot keeps the group's KMS key), answers with the group
# in status `deleting`, and removes it with its member cache clusters and tags:
# the next DescribeReplicationGroups says ReplicationGroupNotFoundFault.

from __future__ import annotations

from ..context import PatchContext
from . import register
from .elasticache_member_clusters import remove_members


@register
def patch_elasticache_deletion(ctx: PatchContext) -> None:
    from moto.core.responses import ActionResult
    from moto.elasticache.exceptions import ReplicationGroupNotFound
    from moto.elasticache.responses import ElastiCacheResponse as R

    if getattr(R, "hms_deletion", False):
        return

    def delete_replication_group(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        rg_id = self._get_param("ReplicationGroupId")
        if rg_id not in backend.replication_groups:
            raise ReplicationGroupNotFound(rg_id)
        rg = backend.replication_groups[rg_id]
        final = self._get_param("FinalSnapshotIdentifier")
        if final:
            snapshot = backend.create_snapshot(snapshot_name=final, replication_group_id=rg_id,
                                               cache_cluster_id=None, kms_key_id=rg.kms_key_id, tags=None)
            snapshot.engine_version = rg.engine_version
        rg.status = "deleting"
        backend.replication_groups.pop(rg_id)
        remove_members(backend, rg)
        backend.tagging_service.delete_all_tags_for_resource(rg.arn)
        return ActionResult({"ReplicationGroup": rg})

    R.delete_replication_group = delete_replication_group
    R.hms_deletion = True
