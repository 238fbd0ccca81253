# ---- Patch: ElastiCache member cache clusters ---------------------------------
#
# moto gap: CreateReplicationGroup lists MemberClusters but makes no cache
# cluster for them, so DescribeCacheClusters knows none of them, and what AWS
# reports only on the members (engine version, parameter group and its apply
# status, subnet group, security groups, maintenance window, availability zone,
# the node and its endpoint, pending node type / engine version) is nowhere.
# Several settings are not kept on the group either. This makes one cache
# cluster per member (`<group>-001`, `-002`, …, each in its NodeGroupMembers
# availability zone) from the group's settings, and `sync_members(backend, rg)`
# (used by the other ElastiCache patches after every change to a group) keeps
# them equal to the group: members are added, updated and removed with it.
#
# Pending changes live on the group as `rg.hms_pending` ({"CacheNodeType": …,
# "EngineVersion": …}) and show as the members' PendingModifiedValues.

from __future__ import annotations

from typing import Any

from ..context import PatchContext
from . import register

class MemberCluster:
    """A cache cluster that is a member of a replication group, as DescribeCacheClusters reports it."""

    def __init__(self, backend, rg, cluster_id: str) -> None:  # type: ignore[no-untyped-def]
        from moto.core.utils import utcnow

        self.cache_cluster_id = cluster_id
        self.replication_group_id = rg.replication_group_id
        self.arn = f"arn:aws:elasticache:{backend.region_name}:{backend.account_id}:cluster:{cluster_id}"
        self.cache_cluster_create_time = utcnow()
        self.cache_cluster_status = "available"
        self.status = "available"
        self.num_cache_nodes = 1
        self.cache_security_groups: list = []
        self.tags: list = []
        self.notification_topic_arn = None
        self.preferred_availability_zone = None
        self.snapshot_arns: list = []
        self.snapshot_name = None

    def update(self, rg, node: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        self.engine = rg.engine
        self.engine_version = rg.engine_version
        self.cache_node_type = rg.cache_node_type
        self.preferred_availability_zone = node.get("preferred_availability_zone")
        self.preferred_maintenance_window = rg.preferred_maintenance_window
        self.cache_parameter_group_name = rg.cache_parameter_group_name
        self.cache_parameter_group = {
            "cache_parameter_group_name": rg.cache_parameter_group_name,
            "parameter_apply_status": "in-sync",
            "cache_node_ids_to_reboot": [],
        }
        self.cache_subnet_group_name = rg.cache_subnet_group_name
        self.security_group_ids = list(rg.security_group_ids or [])
        self.security_groups = [{"security_group_id": g, "status": "active"} for g in self.security_group_ids]
        self.auto_minor_version_upgrade = rg.auto_minor_version_upgrade
        self.snapshot_retention_limit = rg.snapshot_retention_limit
        self.snapshot_window = rg.snapshot_window
        self.auth_token_enabled = rg.auth_token_enabled
        self.auth_token_last_modified_date = rg.auth_token_last_modified_date
        self.transit_encryption_enabled = rg.transit_encryption_enabled
        self.transit_encryption_mode = rg.transit_encryption_mode
        self.at_rest_encryption_enabled = rg.at_rest_encryption_enabled
        self.replication_group_log_delivery_enabled = bool(rg.log_delivery_configurations)
        self.log_delivery_configurations = rg.log_delivery_configurations
        self.network_type = rg.network_type
        self.ip_discovery = rg.ip_discovery
        self.port = rg.port
        pending = getattr(rg, "hms_pending", {}) or {}
        self.pending_modified_values = {
            "cache_node_type": pending.get("CacheNodeType"),
            "engine_version": pending.get("EngineVersion"),
        } if pending else None
        endpoint = node.get("read_endpoint") or {}
        self.cache_nodes = [{
            "cache_node_id": "0001",
            "cache_node_status": "available",
            "cache_node_create_time": self.cache_cluster_create_time,
            "endpoint": endpoint,
            "parameter_group_status": "in-sync",
            "customer_availability_zone": self.preferred_availability_zone,
        }]


def members_of(rg) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [m for ng in getattr(rg, "node_groups", []) for m in ng.get("node_group_members", [])]


def sync_members(backend, rg) -> None:  # type: ignore[no-untyped-def]
    """Makes the group's member cache clusters match the group (after a create or any change)."""
    wanted = {m["cache_cluster_id"]: m for m in members_of(rg)}
    for cid, cluster in list(backend.cache_clusters.items()):
        if getattr(cluster, "replication_group_id", None) == rg.replication_group_id and cid not in wanted:
            backend.cache_clusters.pop(cid)
    for cid, node in wanted.items():
        cluster = backend.cache_clusters.get(cid)
        if not isinstance(cluster, MemberCluster):
            cluster = MemberCluster(backend, rg, cid)
            backend.cache_clusters[cid] = cluster
        cluster.update(rg, node)


def remove_members(backend, rg) -> None:  # type: ignore[no-untyped-def]
    for cid, cluster in list(backend.cache_clusters.items()):
        if getattr(cluster, "replication_group_id", None) == rg.replication_group_id:
            backend.cache_clusters.pop(cid)


@register
def patch_elasticache_member_clusters(ctx: PatchContext) -> None:
    from moto.elasticache import models

    if getattr(models.ElastiCacheBackend, "hms_member_clusters", False):
        return
    original_create = models.ElastiCacheBackend.create_replication_group

    def create_replication_group(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        rg = original_create(self, *args, **kwargs)
        rg.security_group_ids = list(rg.security_group_ids or [])
        rg.hms_pending = {}
        sync_members(self, rg)
        return rg

    models.ElastiCacheBackend.create_replication_group = create_replication_group
    models.ElastiCacheBackend.hms_member_clusters = True
