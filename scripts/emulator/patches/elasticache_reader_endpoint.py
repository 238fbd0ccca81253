# ---- Patch: ElastiCache ReaderEndpoint reported ------------------------------
#
# moto gap: a replication group with cluster mode disabled keeps its reader
# endpoint as node_group["reader_endpoint_address"], which the serializer never
# reads, so DescribeReplicationGroups has no NodeGroups[].ReaderEndpoint. AWS
# reports it (`replica.<id>.<hash>.<region>.cache.amazonaws.com`, the group's
# port) next to PrimaryEndpoint. This adds it after the group is made.

from __future__ import annotations

from ..context import PatchContext
from . import register


def add_reader_endpoint(rg) -> None:  # type: ignore[no-untyped-def]
    for node_group in getattr(rg, "node_groups", []):
        address = node_group.get("reader_endpoint_address")
        if address and "reader_endpoint" not in node_group:
            node_group["reader_endpoint"] = {"address": address, "port": rg.port}


@register
def patch_elasticache_reader_endpoint(ctx: PatchContext) -> None:
    from moto.elasticache import models

    if getattr(models.ReplicationGroup, "hms_reader_endpoint", False):
        return
    original_init = models.ReplicationGroup.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        add_reader_endpoint(self)

    models.ReplicationGroup.__init__ = __init__
    models.ReplicationGroup.hms_reader_endpoint = True
