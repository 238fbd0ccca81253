# ---- Patch: IAM enforcement and the conditions moto cannot evaluate ---------------
#
# moto gap: moto 5 evaluates a policy statement's Condition with the request's
# context values, but it supplies only sts:ExternalId. Every other key
# (aws:RequestTag/…, aws:ResourceTag/…, aws:TagKeys) is then missing, the
# condition fails, and moto answers DENIED for the statement: a failed condition
# on an Allow statement refused the action outright, even when another statement
# allowed it. In AWS a failed condition only makes its statement not apply.
#
# moto also checks a statement's Resource against the resource "*" for every
# service whose resources it does not determine (all but IAM, STS, SQS and S3),
# so a statement scoped to ARNs (arn:aws:ec2:REGION:ACCOUNT:*) never applied to
# them. For such a request (resource "*") a statement's resources are not
# compared: the emulator verifies its actions only.
#
# This keeps moto's evaluation of the keys it knows, skips the tag keys it cannot
# know (the request's tags and the resource's are not given to the policy check:
# such a condition is not verified by the emulator, only its statement's actions
# and resources), and makes an Allow statement whose condition fails not apply
# (neutral) instead of denying.

from __future__ import annotations

from ..context import PatchContext
from . import register

# Context keys the emulator does not supply to the policy check.
NOT_EVALUATED = ("aws:RequestTag/", "aws:ResourceTag/", "aws:TagKeys")


@register
def patch_iam_conditions(ctx: PatchContext) -> None:
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if getattr(IAMPolicyStatement, "hms_conditions", False):
        return
    check = IAMPolicyStatement._check_conditions
    permitted = IAMPolicyStatement.is_action_permitted

    def check_conditions(self, incoming):  # type: ignore[no-untyped-def]
        conditions = self._statement.get("Condition")
        if not conditions:
            return True
        kept = {}
        for operator, keys in conditions.items():
            rest = {k: v for k, v in keys.items() if not k.startswith(NOT_EVALUATED)}
            if rest:
                kept[operator] = rest
        if not kept:
            return True
        statement = self._statement
        self._statement = dict(statement, Condition=kept)
        try:
            return check(self, incoming)
        finally:
            self._statement = statement

    def is_action_permitted(self, action, resource="*", principal=None,  # type: ignore[no-untyped-def]
                            incoming_condition_values=None):
        if self._statement.get("Effect") == "Allow" and self._statement.get("Condition") \
                and not check_conditions(self, incoming_condition_values):
            return PermissionResult.NEUTRAL
        statement = self._statement
        if resource == "*" and statement.get("Resource") not in (None, "*"):
            # Not determined for this request: the resources are not compared.
            self._statement = dict(statement, Resource="*")
        try:
            return permitted(self, action, resource, principal, incoming_condition_values)
        finally:
            self._statement = statement

    IAMPolicyStatement._check_conditions = check_conditions
    IAMPolicyStatement.is_action_permitted = is_action_permitted
    IAMPolicyStatement.hms_conditions = True
