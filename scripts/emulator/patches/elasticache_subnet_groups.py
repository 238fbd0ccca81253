# ---- Patch: ElastiCache ModifyCacheSubnetGroup / DeleteCacheSubnetGroup ------
#
# moto gap: moto 5.2.5 can create and describe cache subnet groups but not
# modify or delete them, and it reports no subnet's availability zone
# (SubnetAvailabilityZone is empty). This serves ModifyCacheSubnetGroup (new
# SubnetIds, all in one VPC, and not another VPC than the one a replication
# group using it lives in; a new description) and DeleteCacheSubnetGroup
# (CacheSubnetGroupInUse while a replication group uses it; its tags go with
# it), and fills SubnetAvailabilityZone.Name from EC2.

from __future__ import annotations

from ..context import PatchContext
from . import register


def _fix_azs(group) -> None:  # type: ignore[no-untyped-def]
    for subnet in group.subnets:
        az = subnet.get("subnet_availability_zone")
        if isinstance(az, str):
            subnet["subnet_availability_zone"] = {"name": az}


@register
def patch_elasticache_subnet_groups(ctx: PatchContext) -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.elasticache import models
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound, ElastiCacheException
    from moto.elasticache.responses import ElastiCacheResponse as R

    if getattr(R, "hms_subnet_groups", False):
        return
    original_init = models.CacheSubnetGroup.__init__

    def group_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        _fix_azs(self)

    models.CacheSubnetGroup.__init__ = group_init

    def users(backend, name: str) -> list[str]:  # type: ignore[no-untyped-def]
        return [i for i, rg in backend.replication_groups.items() if rg.cache_subnet_group_name == name]

    def modify_cache_subnet_group(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        name = self._get_param("CacheSubnetGroupName") or ""
        if name not in backend.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(name)
        old = backend.cache_subnet_groups[name]
        description = self._get_param("CacheSubnetGroupDescription")
        subnet_ids = self._get_param("SubnetIds")
        if subnet_ids:
            new = models.CacheSubnetGroup(
                account_id=backend.account_id, region_name=backend.region_name,
                cache_subnet_group_name=name,
                cache_subnet_group_description=description or old.cache_subnet_group_description,
                subnet_ids=subnet_ids, tags=old.tags)
            if new.vpc_id != old.vpc_id and users(backend, name):
                raise ElastiCacheException(
                    "InvalidParameterValue",
                    f"The subnets of {name} cannot move to another VPC ({new.vpc_id}, not {old.vpc_id}) "
                    f"while replication group {users(backend, name)[0]} uses it.")
            backend.cache_subnet_groups[name] = new
            old = new
        elif description is not None:
            old.cache_subnet_group_description = description
        return ActionResult({"CacheSubnetGroup": old})

    def delete_cache_subnet_group(self):  # type: ignore[no-untyped-def]
        backend = self.elasticache_backend
        name = self._get_param("CacheSubnetGroupName") or ""
        if name not in backend.cache_subnet_groups:
            raise CacheSubnetGroupNotFound(name)
        if users(backend, name):
            raise ElastiCacheException(
                "CacheSubnetGroupInUse",
                f"Cache subnet group {name} is currently in use by replication group {users(backend, name)[0]}.")
        group = backend.cache_subnet_groups.pop(name)
        backend.tagging_service.delete_all_tags_for_resource(group.arn)
        return EmptyResult()

    R.modify_cache_subnet_group = modify_cache_subnet_group
    R.delete_cache_subnet_group = delete_cache_subnet_group
    R.hms_subnet_groups = True
