# ---- Patch: ElastiCache cache parameter groups ------------------------------
#
# moto gap: moto 5.2.5 has no cache parameter group API at all. This serves
# CreateCacheParameterGroup, DescribeCacheParameterGroups,
# DescribeCacheParameters (Source user / system / engine-default),
# ModifyCacheParameterGroup, ResetCacheParameterGroup and
# DeleteCacheParameterGroup on moto's ElastiCache backend, for the families
# redis6.x, redis7, valkey7 and valkey8 (each with its read-only default group
# `default.<family>`), with the parameters of ENGINE_PARAMETERS: an unknown name,
# a value outside a parameter's allowed values, a read-only parameter or a
# change to a default group is refused as AWS refuses it. Tags work on the
# `parametergroup` ARNs (ListTagsForResource, Add/RemoveTagsFromResource and the
# Resource Groups Tagging API). CreateReplicationGroup and ModifyReplicationGroup
# refuse a CacheParameterGroupName that does not exist or whose family is not the
# engine version's (one made without either gets the engine's current version,
# redis 7.1 or valkey 8.0, and `default.<family>`, as on AWS); a group in use by a
# replication group cannot be deleted.
#
# The groups live on moto's backend object (`hms_parameter_groups`), so moto's
# own reset (which rebuilds its backends) empties them.

from __future__ import annotations

from typing import Any

from ..context import PatchContext
from . import register

# name -> (default value, data type, allowed values, modifiable, change type)
ENGINE_PARAMETERS: dict[str, tuple[str, str, str, bool, str]] = {
    "maxmemory-policy": ("volatile-lru", "string",
                         "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,"
                         "allkeys-random,volatile-ttl,noeviction", True, "immediate"),
    "maxmemory-samples": ("3", "integer", "1-", True, "immediate"),
    "timeout": ("0", "integer", "0,20-", True, "immediate"),
    "tcp-keepalive": ("300", "integer", "0-", True, "immediate"),
    "notify-keyspace-events": ("", "string", "", True, "immediate"),
    "slowlog-log-slower-than": ("10000", "integer", "-", True, "immediate"),
    "slowlog-max-len": ("128", "integer", "0-", True, "immediate"),
    "lua-time-limit": ("5000", "integer", "5000", False, "immediate"),
    "reserved-memory-percent": ("25", "integer", "0-100", True, "immediate"),
    "activedefrag": ("no", "string", "yes,no", True, "immediate"),
    "lazyfree-lazy-eviction": ("no", "string", "yes,no", True, "immediate"),
    "appendonly": ("no", "string", "yes,no", False, "immediate"),
    "cluster-enabled": ("no", "string", "yes,no", True, "requires-reboot"),
    "databases": ("16", "integer", "1-1200000", True, "requires-reboot"),
    "maxclients": ("65000", "integer", "1-65000", False, "immediate"),
}
FAMILIES = ("redis6.x", "redis7", "valkey7", "valkey8")
# The version a replication group made without EngineVersion runs, as on AWS.
DEFAULT_VERSIONS = {"redis": "7.1", "valkey": "8.0"}


def family_of(engine: str | None, version: str | None) -> str | None:
    """The parameter group family of an engine version (`redis` 7.1 → `redis7`), or None."""
    engine = (engine or "redis").lower()
    major = (version or "").split(".")[0]
    if engine == "redis":
        return {"6": "redis6.x", "7": "redis7"}.get(major)
    if engine == "valkey":
        return {"7": "valkey7", "8": "valkey8"}.get(major)
    return None


def _error(code: str, message: str) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException

    return ElastiCacheException(code, message)


def _allowed(value: str, data_type: str, allowed: str) -> bool:
    if data_type == "integer":
        try:
            n = int(value)
        except ValueError:
            return False
        for part in allowed.split(","):
            low, sep, high = part.partition("-")
            if not sep:
                if part and n == int(part):
                    return True
                continue
            if (not low or n >= int(low)) and (not high or n <= int(high)):
                return True
        return not allowed
    return not allowed or value in allowed.split(",")


def groups_of(backend) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The custom parameter groups of a backend (region and account)."""
    if not hasattr(backend, "hms_parameter_groups"):
        backend.hms_parameter_groups = {}
    return backend.hms_parameter_groups


def group_arn(backend, name: str) -> str:  # type: ignore[no-untyped-def]
    return f"arn:aws:elasticache:{backend.region_name}:{backend.account_id}:parametergroup:{name}"


def lookup(backend, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A custom or default group; CacheParameterGroupNotFound otherwise."""
    groups = groups_of(backend)
    if name in groups:
        return groups[name]
    if name.startswith("default.") and name[len("default."):] in FAMILIES:
        family = name[len("default."):]
        return {"name": name, "family": family, "description": f"Default parameter group for {family}",
                "values": {}, "default": True}
    raise _error("CacheParameterGroupNotFound", f"CacheParameterGroup {name} not found.")


def check_group_for(backend, name: str | None, engine: str | None, version: str | None) -> None:  # type: ignore[no-untyped-def]
    """Refuses a parameter group that does not exist or is of another family than the engine version's."""
    if not name:
        return
    group = lookup(backend, name)
    family = family_of(engine, version)
    if family and group["family"] != family:
        raise _error(
            "InvalidParameterCombination",
            f"The parameter group {name} is of family {group['family']}, but {engine or 'redis'} "
            f"{version} needs a {family} parameter group.")


def _describe(backend, group: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "CacheParameterGroupName": group["name"],
        "CacheParameterGroupFamily": group["family"],
        "Description": group["description"],
        "IsGlobal": False,
        "ARN": group_arn(backend, group["name"]),
    }


@register
def patch_elasticache_parameter_groups(ctx: PatchContext) -> None:
    import re

    from moto.core.resource_tagging import TaggedResource
    from moto.core.responses import ActionResult, EmptyResult
    from moto.elasticache import models
    from moto.elasticache.responses import ElastiCacheResponse as R

    if getattr(R, "hms_parameter_groups", False):
        return

    def create_cache_parameter_group(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        name = self._get_param("CacheParameterGroupName") or ""
        family = self._get_param("CacheParameterGroupFamily") or ""
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,254}", name) or name.endswith("-") or "--" in name:
            raise _error("InvalidParameterValue",
                         "The parameter CacheParameterGroupName must begin with a letter, contain only ASCII "
                         "letters, digits, and hyphens, and must not end with a hyphen or contain two "
                         "consecutive hyphens.")
        if family not in FAMILIES:
            raise _error("InvalidParameterValue",
                         f"The parameter CacheParameterGroupFamily {family!r} is not a valid family "
                         f"(one of {', '.join(FAMILIES)}).")
        groups = groups_of(backend)
        if name in groups or name.startswith("default."):
            raise _error("CacheParameterGroupAlreadyExists", f"Parameter group {name} already exists.")
        group = {"name": name, "family": family, "description": self._get_param("Description") or "",
                 "values": {}, "default": False}
        groups[name] = group
        tags = self._get_param("Tags", [])
        if tags:
            backend.tagging_service.tag_resource(group_arn(backend, name), tags)
        return ActionResult({"CacheParameterGroup": _describe(backend, group)})

    def describe_cache_parameter_groups(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        name = self._get_param("CacheParameterGroupName")
        if name:
            found = [lookup(backend, name)]
        else:
            found = [lookup(backend, f"default.{f}") for f in FAMILIES] + list(groups_of(backend).values())
        return ActionResult({"CacheParameterGroups": [_describe(backend, g) for g in found]})

    def describe_cache_parameters(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        group = lookup(backend, self._get_param("CacheParameterGroupName") or "")
        source = self._get_param("Source")
        out = []
        for pname, (default, data_type, allowed, modifiable, change) in sorted(ENGINE_PARAMETERS.items()):
            user = pname in group["values"]
            psource = "user" if user else "system"
            if source and source != psource and not (source == "engine-default" and not user):
                continue
            out.append({
                "ParameterName": pname,
                "ParameterValue": group["values"].get(pname, default),
                "Description": f"{pname} ({group['family']})",
                "Source": psource,
                "DataType": data_type,
                "AllowedValues": allowed,
                "IsModifiable": modifiable,
                "MinimumEngineVersion": "6.0.0" if group["family"].startswith("redis") else "7.2.0",
                "ChangeType": change,
            })
        return ActionResult({"Parameters": out})

    def _modifiable(backend, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        group = lookup(backend, name)
        if group["default"]:
            raise _error("InvalidParameterValue",
                         f"The default parameter group {name} cannot be modified; create one of your own.")
        return group

    def modify_cache_parameter_group(self):  # type: ignore[no-untyped-def]
        name = self._get_param("CacheParameterGroupName") or ""
        group = _modifiable(self.elasticache_backend, name)
        changes = self._get_param("ParameterNameValues", []) or []
        if not changes:
            raise _error("InvalidParameterValue", "ParameterNameValues must name at least one parameter.")
        new = dict(group["values"])
        for item in changes:
            pname, value = item.get("ParameterName", ""), item.get("ParameterValue", "")
            if pname not in ENGINE_PARAMETERS:
                raise _error("InvalidParameterValue", f"Unknown parameter {pname!r} for family {group['family']}.")
            _, data_type, allowed, modifiable, _ = ENGINE_PARAMETERS[pname]
            if not modifiable:
                raise _error("InvalidParameterValue", f"Parameter {pname} is not modifiable.")
            if not _allowed(str(value), data_type, allowed):
                raise _error("InvalidParameterValue",
                             f"Invalid value {value!r} for parameter {pname}; allowed: {allowed}.")
            new[pname] = str(value)
        group["values"] = new
        return ActionResult({"CacheParameterGroupName": name})

    def reset_cache_parameter_group(self):  # type: ignore[no-untyped-def]
        name = self._get_param("CacheParameterGroupName") or ""
        group = _modifiable(self.elasticache_backend, name)
        if self._get_bool_param("ResetAllParameters"):
            group["values"] = {}
        else:
            names = [p.get("ParameterName") for p in self._get_param("ParameterNameValues", []) or []]
            if not names:
                raise _error("InvalidParameterCombination",
                             "Either ResetAllParameters or ParameterNameValues must be given.")
            for pname in names:
                if pname not in ENGINE_PARAMETERS:
                    raise _error("InvalidParameterValue", f"Unknown parameter {pname!r}.")
                group["values"].pop(pname, None)
        return ActionResult({"CacheParameterGroupName": name})

    def delete_cache_parameter_group(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        name = self._get_param("CacheParameterGroupName") or ""
        group = _modifiable(backend, name)
        users = [rg_id for rg_id, rg in backend.replication_groups.items()
                 if getattr(rg, "cache_parameter_group_name", None) == name]
        if users:
            raise _error("InvalidCacheParameterGroupState",
                         f"Parameter group {name} is in use by replication group {users[0]}.")
        groups_of(backend).pop(group["name"], None)
        backend.tagging_service.delete_all_tags_for_resource(group_arn(backend, name))
        return EmptyResult()

    for method in (create_cache_parameter_group, describe_cache_parameter_groups, describe_cache_parameters,
                   modify_cache_parameter_group, reset_cache_parameter_group, delete_cache_parameter_group):
        setattr(R, method.__name__, method)

    # Tags: moto's ARN check knows no `parametergroup`, and the tagging API lists no parameter groups.
    original_backend_init = models.ElastiCacheBackend.__init__

    def backend_init(self, region_name, account_id):  # type: ignore[no-untyped-def]
        original_backend_init(self, region_name, account_id)
        self.arn_regex = re.compile(
            r"^arn:aws:elasticache:.*:[0-9]*:(cluster|snapshot|subnetgroup|replicationgroup|user|parametergroup):.*$")

    models.ElastiCacheBackend.__init__ = backend_init
    original_iter = models.ElastiCacheBackend.iter_tagged_resources

    def iter_tagged_resources(self):  # type: ignore[no-untyped-def]
        yield from original_iter(self)
        for name in list(groups_of(self)):
            arn = group_arn(self, name)
            yield TaggedResource(arn=arn, tags=self.tagging_service.get_tag_dict_for_resource(arn),
                                 resource_type="elasticache:parametergroup", extra={"include_untagged": True})

    models.ElastiCacheBackend.iter_tagged_resources = iter_tagged_resources

    # The replication group's parameter group must exist and be of its engine version's family.
    original_create = models.ElastiCacheBackend.create_replication_group

    def create_replication_group(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        engine = (kwargs.get("engine") or "redis").lower()
        version = kwargs.get("engine_version") or DEFAULT_VERSIONS.get(engine)
        check_group_for(self, kwargs.get("cache_parameter_group_name"), engine, version)
        rg = original_create(self, *args, **kwargs)
        rg.engine_version = rg.engine_version or version
        if not rg.cache_parameter_group_name:
            family = family_of(rg.engine, rg.engine_version)
            rg.cache_parameter_group_name = f"default.{family}" if family else None
        return rg

    models.ElastiCacheBackend.create_replication_group = create_replication_group
    R.hms_parameter_groups = True
