"""Extra routes / patches: the place to add APIs moto lacks.

One module per moto gap, each starting with a comment that says which gap it
fills. A patch is ``def patch(ctx: PatchContext) -> None`` decorated with
``@register``; the server applies them in PATCHES order before serving (the
order routes are tried in). To fill a new gap: add a module here and import it
at the end of the list below. A patch that keeps state of its own must clear it
in a ``ctx.on_reset`` hook, so that ``POST /moto-api/reset`` empties it.
"""

from __future__ import annotations

from typing import Callable

from ..context import PatchContext

# Patches applied, in order, before serving. Each is `def patch(ctx: PatchContext) -> None`.
PATCHES: list[Callable[[PatchContext], None]] = []


def register(patch: Callable[[PatchContext], None]) -> Callable[[PatchContext], None]:
    """Decorator: adds `patch` to PATCHES (in the order the modules are imported below)."""
    if patch not in PATCHES:
        PATCHES.append(patch)
    return patch


# The order of PATCHES. Each module registers its patch when imported.
from . import rds_windows  # noqa: E402,F401
from . import rds_reserved  # noqa: E402,F401
from . import xray  # noqa: E402,F401
from . import rds_performance_insights  # noqa: E402,F401
from . import ecs_deployment  # noqa: E402,F401
from . import s3_versioning  # noqa: E402,F401
from . import cbor  # noqa: E402,F401
from . import autoscaling_tags  # noqa: E402,F401
from . import s3_secure_transport  # noqa: E402,F401
from . import s3_conditional_writes  # noqa: E402,F401
from . import elasticache_num_cache_clusters  # noqa: E402,F401
from . import elasticache_reader_endpoint  # noqa: E402,F401
from . import elasticache_parameter_groups  # noqa: E402,F401
from . import elasticache_subnet_groups  # noqa: E402,F401
from . import elasticache_member_clusters  # noqa: E402,F401
from . import elasticache_modify_replication_group  # noqa: E402,F401
from . import elasticache_replica_count  # noqa: E402,F401
from . import elasticache_deletion  # noqa: E402,F401
from . import route53_change_batch  # noqa: E402,F401
from . import route53_caller_reference  # noqa: E402,F401
from . import acm_in_use  # noqa: E402,F401
from . import acm_idempotency  # noqa: E402,F401
from . import acm_key_algorithm  # noqa: E402,F401
from . import secretsmanager_version_stage  # noqa: E402,F401
from . import cloudfront_config  # noqa: E402,F401
from . import cloudfront_etag  # noqa: E402,F401
from . import cloudfront_policies  # noqa: E402,F401
from . import logs_kms_key  # noqa: E402,F401
from . import ec2_network_acls  # noqa: E402,F401
from . import s3_object_lock  # noqa: E402,F401
from . import s3_create_bucket_tags  # noqa: E402,F401
from . import s3_notification_empty  # noqa: E402,F401
from . import s3_logging_policy  # noqa: E402,F401
from . import s3_replication_rules  # noqa: E402,F401
from . import ecs_update_cluster_settings  # noqa: E402,F401
from . import iam_signing_names  # noqa: E402,F401
from . import iam_routes  # noqa: E402,F401
from . import iam_errors  # noqa: E402,F401
from . import s3_iam_actions  # noqa: E402,F401
from . import iam_role_resource  # noqa: E402,F401
from . import iam_conditions  # noqa: E402,F401
from . import iam_signature_body  # noqa: E402,F401
# Last: it wraps what the patches above made (ElastiCache's modify and delete, CloudFront's update).
from . import latency  # noqa: E402,F401
