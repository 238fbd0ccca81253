# ---- Patch: ElastiCache NumCacheClusters honoured ---------------------------
#
# moto gap: CreateReplicationGroup (cluster mode disabled) ignores
# NumCacheClusters: ReplicationGroup._set_node_members_clusters_disabled makes
# 1 + ReplicasPerNodeGroup members, so NumCacheClusters=2 gives one primary and
# no replica. This makes NumCacheClusters members (primary + replicas, placed in
# PreferredCacheClusterAZs in order) when ReplicasPerNodeGroup is not given, and
# refuses what AWS refuses: automatic failover with fewer than 2 clusters,
# Multi-AZ without automatic failover, NumCacheClusters outside 1-6.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_elasticache_num_cache_clusters(ctx: PatchContext) -> None:
    from moto.elasticache import models
    from moto.elasticache.exceptions import (
        InvalidParameterCombinationException,
        InvalidParameterValueException,
    )

    if getattr(models.ReplicationGroup, "hms_num_cache_clusters", False):
        return
    original_set = models.ReplicationGroup._set_node_members_clusters_disabled

    def _set_node_members_clusters_disabled(self, member_clusters, replication_group_id,  # type: ignore[no-untyped-def]
                                            replication_group_domain, node_group,
                                            preferred_cache_cluster_azs, num_cache_clusters,
                                            replicas_per_node_group):
        if not replicas_per_node_group:
            # moto derives the member count from ReplicasPerNodeGroup alone; say it with the count asked for.
            replicas_per_node_group = max((num_cache_clusters or 1) - 1, 0)
        return original_set(self, member_clusters, replication_group_id, replication_group_domain,
                            node_group, preferred_cache_cluster_azs, num_cache_clusters,
                            replicas_per_node_group)

    models.ReplicationGroup._set_node_members_clusters_disabled = _set_node_members_clusters_disabled
    original_create = models.ElastiCacheBackend.create_replication_group

    def create_replication_group(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        n = kwargs.get("num_cache_clusters")
        replicas = kwargs.get("replicas_per_node_group")
        clusters = n if n is not None else (replicas or 0) + 1
        if (kwargs.get("cluster_mode") or "disabled") == "disabled" and not kwargs.get("num_node_groups"):
            if n is not None and not 1 <= n <= 6:
                raise InvalidParameterValueException(
                    f"NumCacheClusters must be between 1 and 6 (got {n}).")
            if kwargs.get("automatic_failover_enabled") and clusters < 2:
                raise InvalidParameterCombinationException(
                    "Automatic failover requires at least 2 cache clusters: a primary and one replica.")
        if kwargs.get("multi_az_enabled") and not kwargs.get("automatic_failover_enabled"):
            raise InvalidParameterCombinationException(
                "Multi-AZ can only be enabled with automatic failover.")
        return original_create(self, *args, **kwargs)

    models.ElastiCacheBackend.create_replication_group = create_replication_group
    models.ReplicationGroup.hms_num_cache_clusters = True
