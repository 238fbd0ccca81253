# ---- Patch: X-Ray sampling rules and groups ---------------------------------
#
# moto gap: moto 5.2.5's xray backend only has trace segments (PutTraceSegments,
# BatchGetTraces, GetTraceSummaries, ...). This serves, in X-Ray's restJson1
# protocol (every operation is a POST of a JSON body to a fixed path):
#   CreateSamplingRule, GetSamplingRules, UpdateSamplingRule, DeleteSamplingRule,
#   CreateGroup, GetGroup, GetGroups (path /Groups), UpdateGroup, DeleteGroup,
#   TagResource, UntagResource, ListTagsForResource (for sampling rules and groups).
# State is kept in memory per (account, region): region from the SigV4 credential
# scope, account resolved as moto does (MOTO_ACCOUNT_ID, x-moto-account-id header,
# the access key of a moto IAM/STS credential, else 123456789012). POST
# /moto-api/reset clears it (back to only the Default rule everywhere).
#
# AWS behaviour followed:
# * every (account, region) has the built-in `Default` rule (priority 10000,
#   reservoir 1, rate 0.05, everything else "*", CreatedAt/ModifiedAt 0 until
#   changed); it cannot be deleted and only FixedRate, ReservoirSize and
#   SamplingRateBoost can be changed on it. At most 25 other rules
#   (RuleLimitExceededException).
# * rule names are unique ("SamplingRule already exists"); Version must be 1,
#   Priority 1..9999, FixedRate 0..1, ReservoirSize >= 0, string lengths and
#   the Attributes map (<= 5 entries) as in the API model.
# * Update/Delete/Get identify a rule or group by name or ARN; both may be given
#   only if they name the same resource. UpdateSamplingRule changes only the
#   fields present. DeleteSamplingRule returns the deleted SamplingRuleRecord.
# * the group name `Default` is reserved; GetGroups lists only created groups.
#   InsightsConfiguration defaults to both flags false; notifications need insights.
# * at most 50 tags per resource, keys 1..128 and values 0..256 characters,
#   no `aws:` key prefix. TagResource/UntagResource/ListTagsForResource on an
#   unknown ARN: 404 ResourceNotFoundException (with ResourceName).
# * ARNs: arn:<partition>:xray:<region>:<account>:sampling-rule/<name> and
#   ...:group/<name>/<52-character id>; CreatedAt/ModifiedAt are epoch seconds.
# * errors: HTTP 400 (404 for ResourceNotFoundException) with header
#   `X-Amzn-ErrorType: <code>` (what the Rust SDK reads first) and body
#   {"message": "..."} (plus "ResourceName" where the model has it). Unknown
#   rules and groups are InvalidRequestException, as on AWS.

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from ..calllog import account_of, operation_of, read_body, region_of, service_of
from ..context import PatchContext
from . import register


XRAY_MAX_RULES = 25  # per account and region, not counting Default
XRAY_MAX_TAGS = 50  # per resource
XRAY_PAGE_SIZE = 100
# Strings of a SamplingRule / SamplingRuleUpdate: name -> (min length, max length).
XRAY_RULE_STRINGS = {
    "ResourceARN": (0, 500), "ServiceName": (0, 64), "ServiceType": (0, 64),
    "Host": (0, 64), "HTTPMethod": (0, 10), "URLPath": (0, 128),
}
XRAY_RULE_FIELDS = ("RuleName", "RuleARN", "ResourceARN", "Priority", "FixedRate", "ReservoirSize",
                    "ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath", "Version",
                    "Attributes", "SamplingRateBoost")
XRAY_DEFAULT_RULE_MUTABLE = ("FixedRate", "ReservoirSize", "SamplingRateBoost")


class XRayError(Exception):
    def __init__(self, message: str, code: str = "InvalidRequestException", status: int = 400,
                 resource_name: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.resource_name = resource_name


def _xray_now() -> float:
    return round(time.time(), 3)


def _xray_str(obj: dict, name: str, low: int, high: int, required: bool) -> Optional[str]:
    value = obj.get(name)
    if value is None:
        if required:
            raise XRayError(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise XRayError(f"{name} must be a string.")
    if not low <= len(value) <= high:
        raise XRayError(f"{name} must be between {low} and {high} characters long.")
    return value


def _xray_int(obj: dict, name: str, low: int, high: Optional[int], required: bool) -> Optional[int]:
    value = obj.get(name)
    if value is None:
        if required:
            raise XRayError(f"{name} is required.")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise XRayError(f"{name} must be an integer.")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise XRayError(f"{name} must be {bound}, got {value}.")
    return value


def _xray_rate(obj: dict, name: str, required: bool) -> Optional[float]:
    value = obj.get(name)
    if value is None:
        if required:
            raise XRayError(f"{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise XRayError(f"{name} must be a number.")
    if not 0 <= value <= 1:
        raise XRayError(f"{name} must be between 0 and 1, got {value}.")
    return float(value)


def _xray_attributes(value: Any) -> dict:
    if not isinstance(value, dict):
        raise XRayError("Attributes must be a map of strings.")
    if len(value) > 5:
        raise XRayError("Attributes can have at most 5 entries.")
    for k, v in value.items():
        if not (isinstance(v, str) and 1 <= len(k) <= 32 and 1 <= len(v) <= 32):
            raise XRayError("Attribute keys and values must be strings of 1 to 32 characters.")
    return dict(value)


def _xray_boost(value: Any) -> dict:
    if not isinstance(value, dict):
        raise XRayError("SamplingRateBoost must be an object.")
    return {"MaxRate": _xray_rate(value, "MaxRate", True),
            "CooldownWindowMinutes": _xray_int(value, "CooldownWindowMinutes", 0, None, True)}


def _xray_rule_fields(obj: dict, create: bool) -> dict:
    """The SamplingRule fields present in `obj`, validated (all required when `create`)."""
    fields: dict[str, Any] = {}
    for name, (low, high) in XRAY_RULE_STRINGS.items():
        value = _xray_str(obj, name, low, high, create)
        if value is not None:
            fields[name] = value
    numbers = {
        "Priority": _xray_int(obj, "Priority", 1, 9999, create),
        "FixedRate": _xray_rate(obj, "FixedRate", create),
        "ReservoirSize": _xray_int(obj, "ReservoirSize", 0, 2**31 - 1, create),
    }
    fields.update({k: v for k, v in numbers.items() if v is not None})
    if create:
        version = _xray_int(obj, "Version", 1, None, True)
        if version != 1:
            raise XRayError(f"Version must be 1, got {version}.")
        fields["Version"] = 1
    if obj.get("Attributes") is not None:
        fields["Attributes"] = _xray_attributes(obj["Attributes"])
    if obj.get("SamplingRateBoost") is not None:
        fields["SamplingRateBoost"] = _xray_boost(obj["SamplingRateBoost"])
    return fields


def _xray_tags(value: Any, existing: Optional[dict] = None, resource: Optional[str] = None) -> dict:
    """Tag list [{Key, Value}] merged into `existing` (a key -> value dict)."""
    tags = dict(existing or {})
    if value is None:
        return tags
    if not isinstance(value, list):
        raise XRayError("Tags must be a list of {Key, Value}.")
    for tag in value:
        if not isinstance(tag, dict):
            raise XRayError("Tags must be a list of {Key, Value}.")
        key = _xray_str(tag, "Key", 1, 128, True)
        val = _xray_str(tag, "Value", 0, 256, True)
        if key.lower().startswith("aws:"):  # type: ignore[union-attr]
            raise XRayError(f"Tag keys cannot start with 'aws:': {key}")
        tags[key] = val
    if len(tags) > XRAY_MAX_TAGS:
        if resource is not None:
            raise XRayError(f"Too many tags: a resource can have at most {XRAY_MAX_TAGS} tags.",
                            code="TooManyTagsException", resource_name=resource)
        raise XRayError(f"Too many tags: a resource can have at most {XRAY_MAX_TAGS} tags.")
    return tags


def _xray_tag_list(tags: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _xray_page(items: list, body: dict) -> tuple[list, Optional[str]]:
    token = body.get("NextToken")
    start = 0
    if token is not None:
        if not (isinstance(token, str) and token.isdigit() and int(token) <= len(items)):
            raise XRayError("Invalid NextToken.")
        start = int(token)
    end = start + XRAY_PAGE_SIZE
    return items[start:end], (str(end) if end < len(items) else None)


@dataclass
class _XRayRule:
    fields: dict  # the SamplingRule, RuleName and RuleARN included
    created: float
    modified: float
    tags: dict = field(default_factory=dict)

    def record(self) -> dict:
        rule = {name: self.fields[name] for name in XRAY_RULE_FIELDS if name in self.fields}
        rule.setdefault("Attributes", {})
        return {"SamplingRule": rule, "CreatedAt": self.created, "ModifiedAt": self.modified}


@dataclass
class _XRayGroup:
    name: str
    arn: str
    filter_expression: Optional[str]
    insights: dict
    tags: dict = field(default_factory=dict)

    def record(self) -> dict:
        group: dict[str, Any] = {"GroupName": self.name, "GroupARN": self.arn}
        if self.filter_expression:
            group["FilterExpression"] = self.filter_expression
        group["InsightsConfiguration"] = dict(self.insights)
        return group


class _XRayState:
    """Sampling rules and groups of one account in one region."""

    def __init__(self, account: str, region: str):
        from moto.utilities.utils import get_partition

        self.prefix = f"arn:{get_partition(region)}:xray:{region}:{account}"
        self.rules: dict[str, _XRayRule] = {}
        self.groups: dict[str, _XRayGroup] = {}
        default = {
            "RuleName": "Default", "RuleARN": self.rule_arn("Default"), "ResourceARN": "*",
            "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1, "ServiceName": "*",
            "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1,
            "Attributes": {},
        }
        self.rules["Default"] = _XRayRule(default, 0.0, 0.0)

    def rule_arn(self, name: str) -> str:
        return f"{self.prefix}:sampling-rule/{name}"

    def find_rule(self, obj: dict) -> _XRayRule:
        name, arn = obj.get("RuleName"), obj.get("RuleARN")
        if name is None and arn is None:
            raise XRayError("Specify the sampling rule by RuleName or RuleARN.")
        for value, what in ((name, "RuleName"), (arn, "RuleARN")):
            if value is not None and not isinstance(value, str):
                raise XRayError(f"{what} must be a string.")
        rule = self.rules.get(name) if name is not None else None
        if arn is not None:
            by_arn = next((r for r in self.rules.values() if r.fields["RuleARN"] == arn), None)
            if name is not None and by_arn is not rule:
                raise XRayError("RuleName and RuleARN do not name the same sampling rule.")
            rule = by_arn
        if rule is None:
            raise XRayError("SamplingRule does not exist")
        return rule

    def find_group(self, obj: dict) -> _XRayGroup:
        name, arn = obj.get("GroupName"), obj.get("GroupARN")
        if name is None and arn is None:
            raise XRayError("Specify the group by GroupName or GroupARN.")
        for value, what in ((name, "GroupName"), (arn, "GroupARN")):
            if value is not None and not isinstance(value, str):
                raise XRayError(f"{what} must be a string.")
        group = self.groups.get(name) if name is not None else None
        if arn is not None:
            by_arn = next((g for g in self.groups.values() if g.arn == arn), None)
            if name is not None and by_arn is not group:
                raise XRayError("GroupName and GroupARN do not name the same group.")
            group = by_arn
        if group is None:
            raise XRayError("Group does not exist")
        return group

    def find_tagged(self, body: dict) -> tuple[str, Any]:
        arn = _xray_str(body, "ResourceARN", 1, 1011, True)
        for rule in self.rules.values():
            if rule.fields["RuleARN"] == arn:
                return arn, rule  # type: ignore[return-value]
        for group in self.groups.values():
            if group.arn == arn:
                return arn, group  # type: ignore[return-value]
        raise XRayError(f"Resource not found: {arn}", code="ResourceNotFoundException",
                        status=404, resource_name=arn)


def _xray_insights(value: Any, current: Optional[dict] = None) -> dict:
    insights = dict(current or {"InsightsEnabled": False, "NotificationsEnabled": False})
    if value is None:
        return insights
    if not isinstance(value, dict):
        raise XRayError("InsightsConfiguration must be an object.")
    for name in ("InsightsEnabled", "NotificationsEnabled"):
        flag = value.get(name)
        if flag is not None and not isinstance(flag, bool):
            raise XRayError(f"{name} must be a boolean.")
    if value.get("InsightsEnabled") is False and value.get("NotificationsEnabled") is None:
        insights["NotificationsEnabled"] = False  # turning insights off turns notifications off
    insights.update({k: v for k, v in value.items() if k in insights and v is not None})
    if insights["NotificationsEnabled"] and not insights["InsightsEnabled"]:
        raise XRayError("Notifications can only be enabled on a group with InsightsEnabled set to true.")
    return insights


def _xray_filter_expression(body: dict) -> Optional[str]:
    value = body.get("FilterExpression")
    if value is not None and not isinstance(value, str):
        raise XRayError("FilterExpression must be a string.")
    return value


class XRaySamplingApp:
    """WSGI app for X-Ray sampling rules, groups and their tags."""

    OPERATIONS = (
        "CreateSamplingRule", "GetSamplingRules", "UpdateSamplingRule", "DeleteSamplingRule",
        "CreateGroup", "GetGroup", "GetGroups", "UpdateGroup", "DeleteGroup",
        "TagResource", "UntagResource", "ListTagsForResource",
    )

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], _XRayState] = {}
        self.lock = threading.Lock()

    def reset(self) -> None:
        """Forget every account's rules and groups (on POST /moto-api/reset)."""
        with self.lock:
            self.states.clear()

    def matches(self, environ: dict) -> bool:
        return (service_of(environ) == "xray" and environ.get("REQUEST_METHOD") == "POST"
                and operation_of(environ) in self.OPERATIONS)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        try:
            raw = read_body(environ)
            try:
                body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            except ValueError as exc:
                raise XRayError(f"Could not parse the request body as JSON: {exc}") from None
            if not isinstance(body, dict):
                raise XRayError("The request body must be a JSON object.")
            handler = getattr(self, "_" + operation_of(environ))
            key = (account_of(environ), region_of(environ))
            with self.lock:
                state = self.states.get(key)
                if state is None:
                    state = self.states[key] = _XRayState(*key)
                result = handler(state, body)
            status = "200 OK"
        except XRayError as err:
            status = f"{err.status} {'Not Found' if err.status == 404 else 'Bad Request'}"
            result = {"message": err.message}
            if err.resource_name is not None:
                result["ResourceName"] = err.resource_name
            headers.append(("X-Amzn-ErrorType", err.code))
        data = json.dumps(result).encode("utf-8")
        headers.append(("Content-Length", str(len(data))))
        start_response(status, headers)
        return [data]

    # -- sampling rules (all called with self.lock held) --------------------

    def _CreateSamplingRule(self, state: _XRayState, body: dict) -> dict:
        spec = body.get("SamplingRule")
        if not isinstance(spec, dict):
            raise XRayError("SamplingRule is required.")
        name = _xray_str(spec, "RuleName", 1, 32, True)
        fields = _xray_rule_fields(spec, create=True)
        tags = _xray_tags(body.get("Tags"))
        if name in state.rules:
            raise XRayError("SamplingRule already exists")
        if len(state.rules) - 1 >= XRAY_MAX_RULES:
            raise XRayError(f"You have reached the maximum number of sampling rules ({XRAY_MAX_RULES}).",
                            code="RuleLimitExceededException")
        fields.update({"RuleName": name, "RuleARN": state.rule_arn(name)})  # type: ignore[arg-type]
        now = _xray_now()
        rule = state.rules[name] = _XRayRule(fields, now, now, tags)  # type: ignore[index]
        return {"SamplingRuleRecord": rule.record()}

    def _GetSamplingRules(self, state: _XRayState, body: dict) -> dict:
        rules = sorted(state.rules.values(),
                       key=lambda r: (r.fields["Priority"], r.fields["RuleName"]))
        page, token = _xray_page([r.record() for r in rules], body)
        out: dict[str, Any] = {"SamplingRuleRecords": page}
        if token:
            out["NextToken"] = token
        return out

    def _UpdateSamplingRule(self, state: _XRayState, body: dict) -> dict:
        update = body.get("SamplingRuleUpdate")
        if not isinstance(update, dict):
            raise XRayError("SamplingRuleUpdate is required.")
        rule = state.find_rule(update)
        changes = _xray_rule_fields(update, create=False)
        if rule.fields["RuleName"] == "Default":
            fixed = sorted(k for k, v in changes.items()
                           if k not in XRAY_DEFAULT_RULE_MUTABLE and rule.fields.get(k) != v)
            if fixed:
                raise XRayError("Only FixedRate, ReservoirSize and SamplingRateBoost can be changed "
                                f"on the Default sampling rule, not {', '.join(fixed)}.")
        rule.fields.update(changes)
        rule.modified = _xray_now()
        return {"SamplingRuleRecord": rule.record()}

    def _DeleteSamplingRule(self, state: _XRayState, body: dict) -> dict:
        rule = state.find_rule(body)
        if rule.fields["RuleName"] == "Default":
            raise XRayError("The Default sampling rule cannot be deleted.")
        del state.rules[rule.fields["RuleName"]]
        return {"SamplingRuleRecord": rule.record()}

    # -- groups -------------------------------------------------------------

    def _CreateGroup(self, state: _XRayState, body: dict) -> dict:
        name = _xray_str(body, "GroupName", 1, 32, True)
        filter_expression = _xray_filter_expression(body)
        insights = _xray_insights(body.get("InsightsConfiguration"))
        tags = _xray_tags(body.get("Tags"))
        if name == "Default":
            raise XRayError("Default is a reserved group name.")
        if name in state.groups:
            raise XRayError("Group already exists")
        group_id = base64.b32encode(os.urandom(32)).decode("ascii").rstrip("=")
        group = _XRayGroup(name, f"{state.prefix}:group/{name}/{group_id}",  # type: ignore[arg-type]
                           filter_expression, insights, tags)
        state.groups[name] = group  # type: ignore[index]
        return {"Group": group.record()}

    def _GetGroup(self, state: _XRayState, body: dict) -> dict:
        return {"Group": state.find_group(body).record()}

    def _GetGroups(self, state: _XRayState, body: dict) -> dict:
        page, token = _xray_page([g.record() for g in state.groups.values()], body)
        out: dict[str, Any] = {"Groups": page}
        if token:
            out["NextToken"] = token
        return out

    def _UpdateGroup(self, state: _XRayState, body: dict) -> dict:
        group = state.find_group(body)
        filter_expression = _xray_filter_expression(body)
        insights = _xray_insights(body.get("InsightsConfiguration"), group.insights)
        if filter_expression is not None:
            group.filter_expression = filter_expression
        group.insights = insights
        return {"Group": group.record()}

    def _DeleteGroup(self, state: _XRayState, body: dict) -> dict:
        group = state.find_group(body)
        del state.groups[group.name]
        return {}

    # -- tags ---------------------------------------------------------------

    def _TagResource(self, state: _XRayState, body: dict) -> dict:
        arn, resource = state.find_tagged(body)
        if body.get("Tags") is None:
            raise XRayError("Tags is required.")
        resource.tags = _xray_tags(body["Tags"], resource.tags, resource=arn)
        return {}

    def _UntagResource(self, state: _XRayState, body: dict) -> dict:
        _, resource = state.find_tagged(body)
        keys = body.get("TagKeys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise XRayError("TagKeys is required and must be a list of strings.")
        for key in keys:
            if key.lower().startswith("aws:"):
                raise XRayError(f"Tag keys cannot start with 'aws:': {key}")
        resource.tags = {k: v for k, v in resource.tags.items() if k not in keys}
        return {}

    def _ListTagsForResource(self, state: _XRayState, body: dict) -> dict:
        _, resource = state.find_tagged(body)
        page, token = _xray_page(_xray_tag_list(resource.tags), body)
        out: dict[str, Any] = {"Tags": page}
        if token:
            out["NextToken"] = token
        return out


@register
def patch_xray_sampling_rules_and_groups(ctx: PatchContext) -> None:
    app = XRaySamplingApp()
    ctx.add_route(app.matches, app)
    ctx.on_reset(app.reset)
