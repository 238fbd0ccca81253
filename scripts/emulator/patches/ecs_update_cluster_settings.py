# ---- Patch: ECS UpdateClusterSettings -----------------------------------
#
# moto gap: UpdateClusterSettings is not implemented (moto answers an HTML error
# page, which the SDK cannot parse). AWS sets the cluster's settings
# (containerInsights) and answers the cluster. hms-ecs calls it for a cluster it
# did not create (taken over from Terraform without Container Insights).

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_ecs_update_cluster_settings(ctx: PatchContext) -> None:
    """moto gap: UpdateClusterSettings is missing. Set the cluster's settings, answer the cluster."""
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse as R

    if getattr(R, "hms_cluster_settings_patched", False):
        return

    def update_cluster_settings(self):  # type: ignore[no-untyped-def]
        cluster = self.ecs_backend.update_cluster(
            cluster_name=self._get_param("cluster"),
            cluster_settings=self._get_param("settings"),
            configuration=None,
            service_connect_defaults=None,
        )
        return ActionResult({"cluster": cluster})

    R.update_cluster_settings = update_cluster_settings
    R.hms_cluster_settings_patched = True
