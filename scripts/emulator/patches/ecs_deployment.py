# ---- Patch: ECS deployment configuration reported -------------------------
#
# moto gap: CreateService/UpdateService drop deploymentConfiguration (circuit
# breaker, minimum healthy and maximum percent), so DescribeServices never reports
# it. This keeps what was sent on moto's service and reports it.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_ecs_deployment_configuration(ctx: PatchContext) -> None:
    """moto gap: CreateService/UpdateService drop deploymentConfiguration (circuit breaker, minimum healthy and
    maximum percent), so DescribeServices never reports it. Keep what was sent and report it."""
    from moto.ecs.responses import EC2ContainerServiceResponse as R

    if getattr(R, "hms_deploy_patched", False):
        return

    def wrap(original):  # type: ignore[no-untyped-def]
        def method(self):  # type: ignore[no-untyped-def]
            result = original(self)
            cfg = self._get_param("deploymentConfiguration")
            if cfg:
                cluster = self._get_param("cluster", "default")
                name = (self._get_param("serviceName") or self._get_param("service") or "").split("/")[-1]
                try:
                    service = self.ecs_backend._get_service(cluster, name)
                except Exception:  # noqa: BLE001 - the original call already answered
                    return result
                service.deployment_configuration = cfg
            return result

        return method

    R.create_service = wrap(R.create_service)
    R.update_service = wrap(R.update_service)
    R.hms_deploy_patched = True
