# ---- Patch: RDS backup/maintenance windows that only touch -----------------
#
# moto gap: moto/rds/utils.py::valid_preferred_maintenance_window rejects a
# PreferredBackupWindow that merely *touches* the PreferredMaintenanceWindow
# (backup "03:00-04:00" + maintenance "sun:04:00-sun:05:00") with "The backup
# window and maintenance window must not overlap.", because it treats an overlap
# of 0 seconds as an overlap (`get_overlap_between_two_date_ranges(...) >= 0`).
# AWS accepts adjacent windows. The validator looks the overlap helper up in
# moto.rds.utils' globals at call time (models.py imports only the validator,
# `from .utils import valid_preferred_maintenance_window`), so replacing the
# helper in moto.rds.utils fixes both CreateDBInstance and ModifyDBInstance.
# Only ranges that meet end-to-start are affected; real overlaps still fail.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_rds_touching_windows(ctx: PatchContext) -> None:
    import moto.rds.models as rds_models
    import moto.rds.utils as rds_utils

    original = rds_utils.get_overlap_between_two_date_ranges
    if getattr(original, "hms_patched", False):
        return

    def get_overlap_between_two_date_ranges(start_1, end_1, start_2, end_2):  # type: ignore[no-untyped-def]
        overlap = original(start_1, end_1, start_2, end_2)
        non_empty = start_1 < end_1 and start_2 < end_2
        if overlap == 0 and non_empty and (end_1 == start_2 or end_2 == start_1):
            return -1  # adjacent ranges (one ends where the other starts): no overlap
        return overlap

    get_overlap_between_two_date_ranges.hms_patched = True  # type: ignore[attr-defined]
    rds_utils.get_overlap_between_two_date_ranges = get_overlap_between_two_date_ranges
    # The validator models.py calls must be the one that reads utils' globals.
    validator = rds_models.valid_preferred_maintenance_window
    if validator.__globals__ is not vars(rds_utils):
        raise RuntimeError("moto.rds.models.valid_preferred_maintenance_window is not "
                           "moto.rds.utils' function; the window patch would not apply")
