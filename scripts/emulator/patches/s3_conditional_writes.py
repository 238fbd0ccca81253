# ---- Patch: S3 conditional writes are atomic --------------------------------
#
# moto gap: moto 5.2.5 honours If-None-Match: * and If-Match on PutObject and
# If-Match on DeleteObject (412 PreconditionFailed), but checks the condition and
# writes without a lock on a threaded server, so two racing writers can both
# pass the check: two runs would both "win" a lock object. S3 checks and writes
# atomically. This serialises every conditional PutObject and DeleteObject (the
# unconditional ones keep moto's concurrency), so the tests about racing locks
# and stale state writes are truthful.

from __future__ import annotations

import threading

from ..context import PatchContext
from . import register

_LOCK = threading.Lock()


@register
def patch_s3_conditional_writes(ctx: PatchContext) -> None:
    from moto.s3.responses import S3Response as R

    if getattr(R, "hms_conditional_patched", False):
        return

    def serialised(original):  # type: ignore[no-untyped-def]
        def method(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            headers = self.headers or {}
            if headers.get("If-Match") or headers.get("If-None-Match"):
                with _LOCK:
                    return original(self, *args, **kwargs)
            return original(self, *args, **kwargs)

        return method

    R.put_object = serialised(R.put_object)
    R.delete_object = serialised(R.delete_object)
    R.hms_conditional_patched = True
