# ---- Patch: RDS Performance Insights reported ----------------------------
#
# moto gap: CreateDBInstance/ModifyDBInstance ignore EnablePerformanceInsights, and
# DescribeDBInstances always reports PerformanceInsightsEnabled false. This keeps
# the flag on moto's DBInstance and reports it.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_rds_performance_insights(ctx: PatchContext) -> None:
    """moto gap: CreateDBInstance/ModifyDBInstance ignore EnablePerformanceInsights, and DescribeDBInstances
    always reports PerformanceInsightsEnabled false. Keep the flag and report it."""
    import moto.rds.models as rds_models

    cls = rds_models.DBInstance
    if getattr(cls, "hms_pi_patched", False):
        return
    original_init = cls.__init__

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_init(self, *args, **kwargs)
        self.enable_performance_insights = bool(kwargs.get("enable_performance_insights") or False)

    def performance_insights_enabled(self):  # type: ignore[no-untyped-def]
        # ModifyDBInstance sets `enable_performance_insights` through moto's generic setattr.
        return bool(getattr(self, "enable_performance_insights", False))

    cls.__init__ = __init__
    cls.performance_insights_enabled = property(performance_insights_enabled)
    cls.hms_pi_patched = True
