# ---- Patch: Secrets Manager AWSCURRENT moved by UpdateSecretVersionStage -------
#
# moto gap: UpdateSecretVersionStage moves the AWSCURRENT label between versions
# (and AWSPREVIOUS to the version it left) but not moto's default version, which
# GetSecretValue without VersionId or VersionStage returns: after the move such a
# read still gets the old value, where AWS returns the version labelled
# AWSCURRENT. This makes the version AWSCURRENT moves to the default one. (A
# rotation that stages a value as AWSPENDING and then promotes it, as
# `hms-cache rotate-auth` does, depends on it.)

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_secretsmanager_version_stage(ctx: PatchContext) -> None:
    from moto.secretsmanager.models import SecretsManagerBackend

    if getattr(SecretsManagerBackend, "hms_version_stage", False):
        return
    original = SecretsManagerBackend.update_secret_version_stage

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id,  # type: ignore[no-untyped-def]
                                    move_to_version_id):
        result = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return result

    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage
    SecretsManagerBackend.hms_version_stage = True
