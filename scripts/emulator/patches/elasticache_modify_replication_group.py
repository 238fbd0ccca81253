# ---- Patch: ElastiCache ModifyReplicationGroup, all of it ----------------------
#
# moto gap: ModifyReplicationGroup only reads the description, engine, node
# type, automatic failover, Multi-AZ and snapshot retention; everything else
# (maintenance and snapshot windows, security groups, the parameter group, the
# AUTH token and its update strategy, transit encryption and its mode, the engine
# version, log delivery, auto minor version upgrade, ApplyImmediately) is
# silently dropped, and CreateReplicationGroup keeps no AUTH token. This serves
# the whole operation on moto's group, and checks what AWS checks:
#
# * CacheNodeType, Engine and EngineVersion wait for the maintenance window
#   unless ApplyImmediately: they show as the members' PendingModifiedValues
#   (see elasticache_member_clusters) until a call with ApplyImmediately=true
#   applies them with whatever it changes. A version lower than the current one,
#   or valkey back to redis, is refused; a parameter group must exist and be of
#   the target version's family (see elasticache_parameter_groups).
# * AuthToken needs transit encryption and 16-128 printable characters without
#   `@`, `"` or `/`; AuthTokenUpdateStrategy ROTATE keeps the current token and
#   adds the new one, SET (the default) keeps only the new one, DELETE removes
#   AUTH (ROTATE with a token already accepted changes nothing). Each change sets
#   AuthTokenLastModifiedDate. The accepted tokens are kept
#   as `rg.hms_auth_tokens` (never reported).
# * Transit encryption on a group without it must be turned on with
#   TransitEncryptionMode=preferred first; `required` follows in a later call.
# * Multi-AZ needs automatic failover, and automatic failover 2 or more clusters.
# * LogDeliveryConfigurations with Enabled=false remove that log type, others add
#   or replace it.
#
# Members are kept in sync after every change (sync_members).

from __future__ import annotations

import re
from typing import Any

from ..context import PatchContext
from . import register
from .elasticache_member_clusters import sync_members
from .elasticache_parameter_groups import check_group_for

TOKEN = re.compile(r'[\x21-\x7e]{16,128}')


def _version(v: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", v or ""))


def _error(code: str, message: str) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException

    return ElastiCacheException(code, message)


def check_token(token: str) -> None:
    if not TOKEN.fullmatch(token) or any(c in token for c in '@"/'):
        raise _error("InvalidParameterValue",
                     "The AuthToken must be 16 to 128 printable characters, without '@', '\"' or '/'.")


def apply_log_delivery(rg, requests: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    by_type = {c.get("LogType"): c for c in rg.log_delivery_configurations}
    for req in requests:
        log_type = req.get("LogType")
        if req.get("Enabled") is False or str(req.get("Enabled")).lower() == "false":
            by_type.pop(log_type, None)
            continue
        config = {k: v for k, v in req.items() if k != "Enabled"}
        config["Status"] = "active"
        config["Message"] = "Log delivery configuration is active."
        by_type[log_type] = config
    rg.log_delivery_configurations = list(by_type.values())


@register
def patch_elasticache_modify_replication_group(ctx: PatchContext) -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.elasticache import models
    from moto.elasticache.exceptions import ReplicationGroupNotFound
    from moto.elasticache.responses import ElastiCacheResponse as R

    if getattr(R, "hms_modify_replication_group", False):
        return
    original_create = models.ElastiCacheBackend.create_replication_group

    def create_replication_group(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        token = kwargs.get("auth_token")
        if token:
            check_token(token)
            if not kwargs.get("transit_encryption_enabled"):
                raise _error("InvalidParameterValue",
                             "AuthToken can be specified only when TransitEncryptionEnabled is true.")
        rg = original_create(self, *args, **kwargs)
        rg.hms_auth_tokens = [token] if token else []
        if rg.preferred_maintenance_window:
            rg.preferred_maintenance_window = rg.preferred_maintenance_window.lower()
        return rg

    models.ElastiCacheBackend.create_replication_group = create_replication_group

    def modify_replication_group(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        rg_id = self._get_param("ReplicationGroupId")
        if rg_id not in backend.replication_groups:
            raise ReplicationGroupNotFound(rg_id)
        rg = backend.replication_groups[rg_id]
        param, flag = self._get_param, self._get_bool_param
        now = flag("ApplyImmediately", False)
        pending: dict[str, Any] = dict(getattr(rg, "hms_pending", {}) or {})

        # Everything is checked before anything changes: a refused call changes nothing.
        failover, multi_az = flag("AutomaticFailoverEnabled"), flag("MultiAZEnabled")
        will_failover = failover if failover is not None else rg.automatic_failover == "enabled"
        will_multi_az = multi_az if multi_az is not None else rg.multi_az == "enabled"
        if will_multi_az and not will_failover:
            raise _error("InvalidParameterCombination", "Multi-AZ can only be enabled with automatic failover.")
        if will_failover and len(rg.member_clusters) < 2:
            raise _error("InvalidParameterCombination",
                         "Automatic failover requires at least 2 cache clusters: a primary and one replica.")
        engine = (param("Engine") or "").lower() or None
        version = param("EngineVersion")
        current_engine = pending.get("Engine") or rg.engine
        current_version = pending.get("EngineVersion") or rg.engine_version
        target_engine, target_version = engine or current_engine, version or current_version
        if current_engine == "valkey" and target_engine == "redis":
            raise _error("InvalidParameterCombination", "A valkey replication group cannot go back to redis.")
        if target_engine == current_engine and _version(target_version) < _version(current_version):
            raise _error("InvalidParameterCombination",
                         f"Cannot downgrade {current_engine} {current_version} to {target_version}.")
        group = param("CacheParameterGroupName")
        if group or engine or version:
            check_group_for(backend, group or rg.cache_parameter_group_name, target_engine, target_version)
        token, strategy = param("AuthToken"), (param("AuthTokenUpdateStrategy") or "").upper() or None
        transit, mode = flag("TransitEncryptionEnabled"), param("TransitEncryptionMode")
        will_transit = transit if transit is not None else rg.transit_encryption_enabled
        if token:
            check_token(token)
            if not will_transit:
                raise _error("InvalidParameterCombination",
                             "AuthToken can be set only on a group with transit encryption.")
            if strategy not in (None, "ROTATE", "SET"):
                raise _error("InvalidParameterCombination", f"AuthTokenUpdateStrategy {strategy} takes no AuthToken.")
        elif strategy in ("ROTATE", "SET"):
            raise _error("InvalidParameterCombination", f"AuthTokenUpdateStrategy {strategy} needs an AuthToken.")
        if transit and not rg.transit_encryption_enabled and (mode or "").lower() != "preferred":
            raise _error("InvalidParameterCombination",
                         "To turn transit encryption on for an existing replication group, set "
                         "TransitEncryptionMode to preferred first, then to required.")
        if mode and not will_transit:
            raise _error("InvalidParameterCombination",
                         "TransitEncryptionMode can be set only with transit encryption enabled.")
        if transit is False and (rg.transit_encryption_mode or "required") != "preferred":
            raise _error("InvalidParameterCombination",
                         "Transit encryption can be turned off only from TransitEncryptionMode preferred.")

        description = param("ReplicationGroupDescription")
        if description is not None:
            rg.description = description
        if failover is not None:
            rg.automatic_failover = "enabled" if failover else "disabled"
        if multi_az is not None:
            rg.multi_az = "enabled" if multi_az else "disabled"
        node_type = param("CacheNodeType")
        if node_type and node_type != rg.cache_node_type:
            pending["CacheNodeType"] = node_type
        elif node_type:
            pending.pop("CacheNodeType", None)
        if engine and engine != rg.engine:
            pending["Engine"] = engine
        if version and version != rg.engine_version:
            pending["EngineVersion"] = version
        if now:
            rg.cache_node_type = pending.pop("CacheNodeType", rg.cache_node_type)
            rg.engine = pending.pop("Engine", rg.engine)
            rg.engine_version = pending.pop("EngineVersion", rg.engine_version)
        rg.hms_pending = pending
        if group:
            rg.cache_parameter_group_name = group
        if self._get_param("SecurityGroupIds") is not None:
            rg.security_group_ids = list(self._get_param("SecurityGroupIds"))
        window = param("PreferredMaintenanceWindow")
        if window:
            rg.preferred_maintenance_window = window.lower()
        if param("SnapshotWindow"):
            rg.snapshot_window = param("SnapshotWindow")
        retention = self._get_int_param("SnapshotRetentionLimit")
        if retention is not None:
            rg.snapshot_retention_limit = retention
            rg.snapshotting_cluster_id = (rg.member_clusters[-1] if retention and rg.member_clusters else None)
        if flag("AutoMinorVersionUpgrade") is not None:
            rg.auto_minor_version_upgrade = flag("AutoMinorVersionUpgrade")
        tokens = list(getattr(rg, "hms_auth_tokens", []))
        if token and strategy == "ROTATE":
            rg.hms_auth_tokens = tokens if token in tokens else tokens[-1:] + [token]
        elif token:
            rg.hms_auth_tokens = [token]
        elif strategy == "DELETE":
            rg.hms_auth_tokens = []
        if token or strategy == "DELETE":
            rg.auth_token_enabled = bool(rg.hms_auth_tokens)
            rg.auth_token_last_modified_date = utcnow()
        if transit is not None:
            rg.transit_encryption_enabled = transit
            if not transit:
                rg.transit_encryption_mode = None
        if mode:
            rg.transit_encryption_mode = mode.lower()
        logs = self._get_params().get("LogDeliveryConfigurations")
        if logs:
            apply_log_delivery(rg, logs)
        sync_members(backend, rg)
        return ActionResult({"ReplicationGroup": rg})

    R.modify_replication_group = modify_replication_group
    R.hms_modify_replication_group = True
