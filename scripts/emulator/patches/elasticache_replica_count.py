# ---- Patch: ElastiCache IncreaseReplicaCount / DecreaseReplicaCount -----------
#
# moto gap: moto 5.2.5 has neither operation. This serves both for replication
# groups with cluster mode disabled: NewReplicaCount replicas (0-5) next to the
# primary, new replicas named on from the highest member (`<group>-003`, …) and
# placed in the subnet group's availability zone that has the fewest members,
# ReplicasToRemove honoured on a decrease (never the primary), the highest
# replicas removed otherwise. As on AWS, ApplyImmediately must be true, an
# increase must add and a decrease must remove replicas, and a group with
# automatic failover keeps at least one replica. Member cache clusters follow
# (sync_members).

from __future__ import annotations

from collections import Counter

from ..context import PatchContext
from . import register
from .elasticache_member_clusters import members_of, sync_members


def _error(code: str, message: str) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException

    return ElastiCacheException(code, message)


def _subnet_azs(backend, rg) -> list[str]:  # type: ignore[no-untyped-def]
    group = backend.cache_subnet_groups.get(rg.cache_subnet_group_name or "")
    azs = []
    for subnet in getattr(group, "subnets", []):
        az = subnet.get("subnet_availability_zone") or subnet.get("Subnet_availability_zone") or {}
        name = az.get("name") or az.get("Name") if isinstance(az, dict) else az
        if name and name not in azs:
            azs.append(name)
    return azs or ["us-east-1a", "us-east-1b"]


def _resize(backend, rg, replicas: int, remove: list[str]) -> None:  # type: ignore[no-untyped-def]
    node_group = rg.node_groups[0]
    members = node_group["node_group_members"]
    primary = [m for m in members if m.get("current_role") == "primary"][:1]
    current = [m for m in members if m not in primary]
    if len(current) > replicas:
        chosen = [m for m in current if m["cache_cluster_id"] in remove]
        rest = sorted((m for m in current if m not in chosen), key=lambda m: m["cache_cluster_id"])
        keep_out = (chosen + rest[::-1])[: len(current) - replicas]
        current = [m for m in current if m not in keep_out]
    domain = node_group["primary_endpoint"]["address"].split(".", 1)[1]
    used = Counter(m.get("preferred_availability_zone") for m in primary + current)
    taken = {m["cache_cluster_id"] for m in members}
    n = max(int(i.rsplit("-", 1)[1]) for i in taken)
    while len(current) < replicas:
        n += 1
        cid = f"{rg.replication_group_id}-{n:03d}"
        az = min(_subnet_azs(backend, rg), key=lambda a: used[a])
        used[az] += 1
        current.append({
            "cache_cluster_id": cid, "cache_node_id": node_group["node_group_id"],
            "read_endpoint": {"address": f"{cid}.{domain}", "port": rg.port},
            "preferred_availability_zone": az, "current_role": "replica",
        })
    node_group["node_group_members"] = primary + current
    rg.member_clusters = [m["cache_cluster_id"] for m in node_group["node_group_members"]]
    if rg.snapshotting_cluster_id and rg.snapshotting_cluster_id not in rg.member_clusters:
        rg.snapshotting_cluster_id = rg.member_clusters[-1]
    sync_members(backend, rg)


@register
def patch_elasticache_replica_count(ctx: PatchContext) -> None:
    from moto.core.responses import ActionResult
    from moto.elasticache.exceptions import ReplicationGroupNotFound
    from moto.elasticache.responses import ElastiCacheResponse as R

    if getattr(R, "hms_replica_count", False):
        return

    def _group(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        rg_id = self._get_param("ReplicationGroupId")
        if rg_id not in backend.replication_groups:
            raise ReplicationGroupNotFound(rg_id)
        rg = backend.replication_groups[rg_id]
        if rg.cluster_mode == "enabled":
            raise _error("InvalidParameterValue",
                         "Use ReplicaConfiguration per node group for a group with cluster mode enabled.")
        if not self._get_bool_param("ApplyImmediately", False):
            raise _error("InvalidParameterValue", "ApplyImmediately must be true for a replica count change.")
        count = self._get_int_param("NewReplicaCount")
        if count is None:
            raise _error("InvalidParameterValue", "NewReplicaCount is required.")
        return backend, rg, count, len(members_of(rg)) - 1

    def increase_replica_count(self):  # type: ignore[no-untyped-def]
        backend, rg, count, now = _group(self)
        if count <= now or count > 5:
            raise _error("InvalidParameterValue",
                         f"NewReplicaCount {count} must be more than the current {now} and at most 5.")
        _resize(backend, rg, count, [])
        return ActionResult({"ReplicationGroup": rg})

    def decrease_replica_count(self):  # type: ignore[no-untyped-def]
        backend, rg, count, now = _group(self)
        remove = list(self._get_param("ReplicasToRemove") or [])
        if count >= now or count < 0:
            raise _error("InvalidParameterValue",
                         f"NewReplicaCount {count} must be less than the current {now} and at least 0.")
        if count < 1 and rg.automatic_failover == "enabled":
            raise _error("InvalidParameterCombination",
                         "A replication group with automatic failover needs at least one replica.")
        if rg.primary_cluster_id and rg.primary_cluster_id in remove or any(
                m.get("current_role") == "primary" and m["cache_cluster_id"] in remove for m in members_of(rg)):
            raise _error("InvalidParameterValue", "ReplicasToRemove cannot name the primary.")
        _resize(backend, rg, count, remove)
        return ActionResult({"ReplicationGroup": rg})

    R.increase_replica_count = increase_replica_count
    R.decrease_replica_count = decrease_replica_count
    R.hms_replica_count = True
