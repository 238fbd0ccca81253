#!/usr/bin/env python3
"""Self-test of the APIs the emulator launcher (scripts/emulator/) adds to moto (run with the emulator's venv).

Usage:
    $HMS_VENV/bin/python scripts/emulator_selftest.py --endpoint http://127.0.0.1:PORT [--call-log FILE]
        [--check-reset]

Exercises the X-Ray sampling-rule, group and tagging API, CloudWatch over
Smithy RPC v2 CBOR (the protocol the AWS SDK for Rust uses; served by the
emulator's rpc-v2-cbor bridge) and Application Auto Scaling's tagging API, with
boto3 against a running emulator. All calls go to a fresh random account (the
``x-moto-account-id`` header), so it can run against an emulator that is in use
without touching other state; what it creates it deletes. With ``--call-log``
(the emulator's call log) it also checks that the calls were logged as service
``xray`` / ``monitoring`` / ``application-autoscaling`` with their operation
names. It also checks the latency mode (HMS_EMULATOR_LATENCY), with a scale set
for its own account only through ``POST /hms-api/latency``, so that it slows
nothing else. With ``--check-reset`` it last checks that ``POST /moto-api/reset`` also
empties the launcher's own stores (X-Ray, RDS reservations, autoscaling tags,
the latency scales):
that resets the whole emulator, so use it only on an emulator of your own.
Exits 0 if every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import struct
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Callable

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "eu-west-3"
FAILURES: list[str] = []


def check(cond: bool, what: str) -> None:
    if cond:
        print(f"ok    {what}")
    else:
        print(f"FAIL  {what}")
        FAILURES.append(what)


def expect_error(call: Callable[[], Any], code: str, status: int, what: str,
                 message: str | None = None) -> dict:
    try:
        call()
    except ClientError as err:
        got_code = err.response["Error"]["Code"]
        got_status = err.response["ResponseMetadata"]["HTTPStatusCode"]
        got_message = err.response["Error"].get("Message", "")
        ok = got_code == code and got_status == status and (message is None or got_message == message)
        check(ok, f"{what}: {code} {status}" + ("" if ok else f" (got {got_code} {got_status} {got_message!r})"))
        return err.response
    check(False, f"{what}: expected {code}, the call succeeded")
    return {}


def client(endpoint: str, account: str | None, validate: bool = True):  # type: ignore[no-untyped-def]
    c = boto3.client(
        "xray", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )
    if account is not None:
        def add_account(request, **_):  # type: ignore[no-untyped-def]
            request.headers["x-moto-account-id"] = account
        c.meta.events.register("before-sign.xray.*", add_account)
    return c


RULE = {
    "RuleName": "api", "ResourceARN": "*", "Priority": 100, "FixedRate": 0.1, "ReservoirSize": 2,
    "ServiceName": "hms-api", "ServiceType": "AWS::ECS::Container", "Host": "*", "HTTPMethod": "*",
    "URLPath": "/api/*", "Version": 1, "Attributes": {"env": "test"},
}


def test_sampling_rules(xray, raw, account: str) -> None:  # type: ignore[no-untyped-def]
    arn_prefix = f"arn:aws:xray:{REGION}:{account}"

    records = xray.get_sampling_rules()["SamplingRuleRecords"]
    default = [r for r in records if r["SamplingRule"]["RuleName"] == "Default"]
    check(len(records) == 1 and len(default) == 1, "a fresh account has only the Default rule")
    d = default[0]["SamplingRule"] if default else {}
    check(
        {k: d.get(k) for k in ("RuleARN", "Priority", "FixedRate", "ReservoirSize", "ResourceARN",
                               "ServiceName", "ServiceType", "Host", "HTTPMethod", "URLPath", "Version")}
        == {"RuleARN": f"{arn_prefix}:sampling-rule/Default", "Priority": 10000, "FixedRate": 0.05,
            "ReservoirSize": 1, "ResourceARN": "*", "ServiceName": "*", "ServiceType": "*", "Host": "*",
            "HTTPMethod": "*", "URLPath": "*", "Version": 1},
        "Default rule: ARN, priority 10000, reservoir 1, rate 0.05, wildcards, version 1",
    )

    out = xray.create_sampling_rule(SamplingRule=RULE, Tags=[{"Key": "team", "Value": "hms"}])
    rec = out["SamplingRuleRecord"]
    rule = rec["SamplingRule"]
    check(rule["RuleARN"] == f"{arn_prefix}:sampling-rule/api", "CreateSamplingRule: RuleARN")
    check(all(rule[k] == v for k, v in RULE.items()), "CreateSamplingRule: fields echoed back")
    check(rec["CreatedAt"] == rec["ModifiedAt"] and abs(rec["CreatedAt"].timestamp() - time.time()) < 60,
          "CreateSamplingRule: CreatedAt == ModifiedAt == now")

    expect_error(lambda: xray.create_sampling_rule(SamplingRule=RULE), "InvalidRequestException", 400,
                 "CreateSamplingRule with an existing name", "SamplingRule already exists")
    expect_error(lambda: xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": "Default"}),
                 "InvalidRequestException", 400, "CreateSamplingRule named Default")
    for field, bad in (("Version", 2), ("FixedRate", 1.5), ("FixedRate", -0.1), ("Priority", 0),
                       ("Priority", 10000), ("ReservoirSize", -1), ("RuleName", "x" * 33)):
        expect_error(lambda: raw.create_sampling_rule(SamplingRule={**RULE, "RuleName": "bad", field: bad}),
                     "InvalidRequestException", 400, f"CreateSamplingRule with {field}={bad!r}")
    missing = {k: v for k, v in RULE.items() if k != "Host"}
    expect_error(lambda: raw.create_sampling_rule(SamplingRule={**missing, "RuleName": "bad"}),
                 "InvalidRequestException", 400, "CreateSamplingRule without Host")

    time.sleep(0.01)
    rec2 = xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "api", "FixedRate": 0.5})["SamplingRuleRecord"]
    r2 = rec2["SamplingRule"]
    check(r2["FixedRate"] == 0.5 and all(r2[k] == v for k, v in RULE.items() if k != "FixedRate"),
          "UpdateSamplingRule by RuleName changes only FixedRate")
    check(rec2["CreatedAt"] == rec["CreatedAt"] and rec2["ModifiedAt"] > rec2["CreatedAt"],
          "UpdateSamplingRule: CreatedAt kept, ModifiedAt advanced")
    r3 = xray.update_sampling_rule(SamplingRuleUpdate={
        "RuleARN": f"{arn_prefix}:sampling-rule/api", "Priority": 5, "Attributes": {"tier": "web"},
    })["SamplingRuleRecord"]["SamplingRule"]
    check(r3["Priority"] == 5 and r3["Attributes"] == {"tier": "web"} and r3["FixedRate"] == 0.5
          and r3["URLPath"] == "/api/*", "UpdateSamplingRule by RuleARN: Priority and Attributes")
    expect_error(lambda: xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "nope", "FixedRate": 0.2}),
                 "InvalidRequestException", 400, "UpdateSamplingRule of an unknown rule")
    expect_error(lambda: xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "api", "FixedRate": 2.0}),
                 "InvalidRequestException", 400, "UpdateSamplingRule with FixedRate 2.0")
    expect_error(lambda: xray.update_sampling_rule(SamplingRuleUpdate={
        "RuleName": "api", "RuleARN": f"{arn_prefix}:sampling-rule/Default", "FixedRate": 0.2}),
        "InvalidRequestException", 400, "UpdateSamplingRule with RuleName and RuleARN of different rules")
    check(xray.get_sampling_rules()["SamplingRuleRecords"][0]["SamplingRule"]["FixedRate"] == 0.5,
          "a failed update changes nothing")

    # Tags on a rule.
    rule_arn = f"{arn_prefix}:sampling-rule/api"
    check(xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "team", "Value": "hms"}],
          "ListTagsForResource: the tags given to CreateSamplingRule")
    xray.tag_resource(ResourceARN=rule_arn, Tags=[{"Key": "team", "Value": "core"}, {"Key": "tier", "Value": "1"}])
    check(xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"]
          == [{"Key": "team", "Value": "core"}, {"Key": "tier", "Value": "1"}],
          "TagResource overwrites and adds")
    xray.untag_resource(ResourceARN=rule_arn, TagKeys=["team", "absent"])
    check(xray.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "tier", "Value": "1"}],
          "UntagResource removes (unknown keys ignored)")
    missing_arn = f"{arn_prefix}:sampling-rule/nope"
    resp = expect_error(lambda: xray.tag_resource(ResourceARN=missing_arn, Tags=[{"Key": "a", "Value": "b"}]),
                        "ResourceNotFoundException", 404, "TagResource on an unknown ARN")
    check(resp.get("ResourceName") == missing_arn, "ResourceNotFoundException carries ResourceName")
    expect_error(lambda: xray.list_tags_for_resource(ResourceARN=missing_arn),
                 "ResourceNotFoundException", 404, "ListTagsForResource on an unknown ARN")
    expect_error(lambda: xray.untag_resource(ResourceARN=missing_arn, TagKeys=["a"]),
                 "ResourceNotFoundException", 404, "UntagResource on an unknown ARN")
    expect_error(lambda: xray.tag_resource(ResourceARN=rule_arn, Tags=[{"Key": "aws:x", "Value": "b"}]),
                 "InvalidRequestException", 400, "TagResource with an aws: key")
    expect_error(lambda: xray.tag_resource(ResourceARN=rule_arn,
                                           Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]),
                 "TooManyTagsException", 400, "TagResource past 50 tags")

    # The Default rule.
    expect_error(lambda: xray.delete_sampling_rule(RuleName="Default"), "InvalidRequestException", 400,
                 "DeleteSamplingRule of Default")
    dr = xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "FixedRate": 0.2,
                                                       "ReservoirSize": 3})["SamplingRuleRecord"]
    check(dr["SamplingRule"]["FixedRate"] == 0.2 and dr["SamplingRule"]["ReservoirSize"] == 3
          and dr["SamplingRule"]["Priority"] == 10000, "UpdateSamplingRule of Default: rate and reservoir")
    expect_error(lambda: xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "Priority": 1}),
                 "InvalidRequestException", 400, "UpdateSamplingRule of Default's Priority")
    xray.update_sampling_rule(SamplingRuleUpdate={"RuleName": "Default", "FixedRate": 0.05, "ReservoirSize": 1})

    # Order and deletion.
    xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": "first", "Priority": 1})
    names = [r["SamplingRule"]["RuleName"] for r in xray.get_sampling_rules()["SamplingRuleRecords"]]
    check(names == ["first", "api", "Default"], f"GetSamplingRules in priority order: {names}")
    deleted = xray.delete_sampling_rule(RuleARN=rule_arn)["SamplingRuleRecord"]
    check(deleted["SamplingRule"]["RuleName"] == "api" and deleted["SamplingRule"]["Priority"] == 5,
          "DeleteSamplingRule by RuleARN returns the deleted record")
    expect_error(lambda: xray.delete_sampling_rule(RuleName="api"), "InvalidRequestException", 400,
                 "DeleteSamplingRule of an unknown rule")
    expect_error(lambda: xray.list_tags_for_resource(ResourceARN=rule_arn), "ResourceNotFoundException", 404,
                 "ListTagsForResource of a deleted rule")
    xray.delete_sampling_rule(RuleName="first")

    # At most 25 rules besides Default.
    for i in range(25):
        xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": f"r{i}"})
    expect_error(lambda: xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": "r25"}),
                 "RuleLimitExceededException", 400, "the 26th sampling rule")
    for i in range(25):
        xray.delete_sampling_rule(RuleName=f"r{i}")
    check([r["SamplingRule"]["RuleName"] for r in xray.get_sampling_rules()["SamplingRuleRecords"]] == ["Default"],
          "only Default left")


def test_groups(xray, account: str) -> None:  # type: ignore[no-untyped-def]
    arn_prefix = f"arn:aws:xray:{REGION}:{account}"
    check(xray.get_groups()["Groups"] == [], "GetGroups of a fresh account is empty")
    group = xray.create_group(
        GroupName="errors", FilterExpression='service("hms-api") { fault }',
        InsightsConfiguration={"InsightsEnabled": True}, Tags=[{"Key": "team", "Value": "hms"}],
    )["Group"]
    arn = group["GroupARN"]
    check(re.fullmatch(re.escape(f"{arn_prefix}:group/errors/") + "[A-Z2-7]{52}", arn) is not None,
          f"CreateGroup: GroupARN {arn}")
    check(group == {"GroupName": "errors", "GroupARN": arn, "FilterExpression": 'service("hms-api") { fault }',
                    "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": False}},
          "CreateGroup: the Group")
    expect_error(lambda: xray.create_group(GroupName="errors"), "InvalidRequestException", 400,
                 "CreateGroup with an existing name")
    expect_error(lambda: xray.create_group(GroupName="Default"), "InvalidRequestException", 400,
                 "CreateGroup named Default")
    expect_error(lambda: xray.create_group(GroupName="n", InsightsConfiguration={"NotificationsEnabled": True}),
                 "InvalidRequestException", 400, "CreateGroup with notifications but no insights")

    check(xray.get_group(GroupName="errors")["Group"] == group, "GetGroup by GroupName")
    check(xray.get_group(GroupARN=arn)["Group"] == group, "GetGroup by GroupARN")
    expect_error(lambda: xray.get_group(GroupName="nope"), "InvalidRequestException", 400, "GetGroup of an unknown group")
    plain = xray.create_group(GroupName="plain")["Group"]
    check("FilterExpression" not in plain
          and plain["InsightsConfiguration"] == {"InsightsEnabled": False, "NotificationsEnabled": False},
          "CreateGroup without filter or insights")
    check(xray.get_groups()["Groups"] == [group, plain], "GetGroups lists both, in creation order")

    g2 = xray.update_group(GroupName="errors", FilterExpression="fault = true")["Group"]
    check(g2["FilterExpression"] == "fault = true" and g2["InsightsConfiguration"] == group["InsightsConfiguration"]
          and g2["GroupARN"] == arn, "UpdateGroup: FilterExpression only")
    g3 = xray.update_group(GroupARN=arn, InsightsConfiguration={"NotificationsEnabled": True})["Group"]
    check(g3["FilterExpression"] == "fault = true"
          and g3["InsightsConfiguration"] == {"InsightsEnabled": True, "NotificationsEnabled": True},
          "UpdateGroup by GroupARN: InsightsConfiguration merged")
    expect_error(lambda: xray.update_group(GroupName="nope", FilterExpression="x"), "InvalidRequestException", 400,
                 "UpdateGroup of an unknown group")

    check(xray.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "hms"}],
          "ListTagsForResource of a group")
    xray.tag_resource(ResourceARN=arn, Tags=[{"Key": "tier", "Value": "1"}])
    xray.untag_resource(ResourceARN=arn, TagKeys=["team"])
    check(xray.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "tier", "Value": "1"}],
          "TagResource/UntagResource on a group")

    check(xray.delete_group(GroupName="errors")["ResponseMetadata"]["HTTPStatusCode"] == 200, "DeleteGroup")
    expect_error(lambda: xray.get_group(GroupARN=arn), "InvalidRequestException", 400, "GetGroup of a deleted group")
    expect_error(lambda: xray.delete_group(GroupName="errors"), "InvalidRequestException", 400,
                 "DeleteGroup of an unknown group")
    expect_error(lambda: xray.list_tags_for_resource(ResourceARN=arn), "ResourceNotFoundException", 404,
                 "ListTagsForResource of a deleted group")
    recreated = xray.create_group(GroupName="errors")["Group"]
    check(recreated["GroupARN"] != arn, "a re-created group gets a new ARN")
    xray.delete_group(GroupARN=recreated["GroupARN"])
    xray.delete_group(GroupName="plain")
    check(xray.get_groups()["Groups"] == [], "all groups deleted")


def test_isolation(endpoint: str, account: str) -> None:
    other = client(endpoint, account)
    other.create_sampling_rule(SamplingRule={**RULE, "RuleName": "isolated"})
    try:
        elsewhere = boto3.client("xray", region_name="ap-south-1", endpoint_url=endpoint,
                                 aws_access_key_id="testing", aws_secret_access_key="testing")
        elsewhere.meta.events.register(
            "before-sign.xray.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        names = [r["SamplingRule"]["RuleName"] for r in elsewhere.get_sampling_rules()["SamplingRuleRecords"]]
        check(names == ["Default"], "another region of the same account does not see the rule")
        d = elsewhere.get_sampling_rules()["SamplingRuleRecords"][0]["SamplingRule"]["RuleARN"]
        check(d == f"arn:aws:xray:ap-south-1:{account}:sampling-rule/Default", "Default's ARN names its region")
        third = client(endpoint, "".join(random.choice("0123456789") for _ in range(12)))
        names = [r["SamplingRule"]["RuleName"] for r in third.get_sampling_rules()["SamplingRuleRecords"]]
        check(names == ["Default"], "another account does not see the rule")
    finally:
        other.delete_sampling_rule(RuleName="isolated")


# ---- CloudWatch over rpc-v2-cbor ----------------------------------------------

CW_SERVICE = "GraniteServiceVersion20100801"


def cloudwatch_client(endpoint: str, account: str, wire: list,  # type: ignore[no-untyped-def]
                      keys: tuple[str, str] = ("testing", "testing")):
    """A CloudWatch client speaking rpc-v2-cbor, as the AWS SDK for Rust does. botocore 1.44 ranks `json`
    above `smithy-rpc-v2-cbor` (PRIORITY_ORDERED_SUPPORTED_PROTOCOLS) and would talk awsJson, so this
    client's own botocore session gets a copy of the model that lists only rpc-v2-cbor. Every request
    and raw response is appended to `wire` as (kind, ...) tuples."""
    session = botocore.session.Session()
    model = session.get_component("data_loader").load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    model["metadata"]["protocol"] = "smithy-rpc-v2-cbor"
    c = boto3.session.Session(botocore_session=session).client(
        "cloudwatch", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
        config=Config(retries={"max_attempts": 1}),
    )

    def before_sign(request, **_):  # type: ignore[no-untyped-def]
        request.headers["x-moto-account-id"] = account

    def before_send(request, **_):  # type: ignore[no-untyped-def]
        wire.append(("request", request.url, {k.lower(): v.decode() if isinstance(v, bytes) else v
                                              for k, v in request.headers.items()}, request.body))

    def before_parse(response_dict, **_):  # type: ignore[no-untyped-def]
        wire.append(("response", response_dict["status_code"],
                     {k.lower(): v for k, v in response_dict["headers"].items()}, response_dict["body"]))

    c.meta.events.register("before-sign.cloudwatch.*", before_sign)
    c.meta.events.register("before-send.cloudwatch.*", before_send)
    c.meta.events.register("before-parse.cloudwatch.*", before_parse)
    return c


def last_response(wire: list) -> tuple[int, dict, bytes]:
    for entry in reversed(wire):
        if entry[0] == "response":
            return entry[1], entry[2], entry[3]
    return 0, {}, b""


def recent(when: Any) -> bool:
    return isinstance(when, datetime.datetime) and abs(when.timestamp() - time.time()) < 120


def test_cloudwatch_cbor(endpoint: str, account: str) -> None:  # type: ignore[no-untyped-def]
    sys.dont_write_bytecode = True  # no __pycache__ under scripts/ from importing the emulator package
    from emulator.patches.cbor import CborTag, cbor_decode, cbor_encode  # the emulator's own codec
    from emulator.server import fake_auth

    wire: list = []
    cw = cloudwatch_client(endpoint, account, wire)
    alarm = f"hms-selftest-{account}"
    alarm_arn = f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{alarm}"
    topic = f"arn:aws:sns:{REGION}:{account}:alerts"

    cw.put_metric_alarm(
        AlarmName=alarm, AlarmDescription="free storage", Namespace="AWS/RDS", MetricName="FreeStorageSpace",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "hms-db"}], Statistic="Minimum", Period=300,
        EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=10737418240.0, ComparisonOperator="LessThanThreshold",
        TreatMissingData="breaching", AlarmActions=[topic], OKActions=[topic],
        Tags=[{"Key": "team", "Value": "hms"}],
    )
    request = next((e for e in wire if e[0] == "request"), None)
    check(request is not None and request[1] == f"{endpoint}/service/{CW_SERVICE}/operation/PutMetricAlarm"
          and request[2].get("smithy-protocol") == "rpc-v2-cbor"
          and request[2].get("content-type") == "application/cbor" and "x-amz-target" not in request[2],
          "the CloudWatch client speaks rpc-v2-cbor (POST /service/.../operation/PutMetricAlarm, CBOR body)")
    status, headers, body = last_response(wire)
    check(status == 200 and headers.get("smithy-protocol") == "rpc-v2-cbor" and body == b""
          and "content-type" not in headers,
          "PutMetricAlarm (Unit output): 200, smithy-protocol header, no body, no Content-Type")

    alarms = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    status, headers, body = last_response(wire)
    check(status == 200 and headers.get("smithy-protocol") == "rpc-v2-cbor"
          and headers.get("content-type") == "application/cbor",
          "DescribeAlarms: 200 with smithy-protocol: rpc-v2-cbor and Content-Type: application/cbor")
    a = alarms[0] if len(alarms) == 1 else {}
    expected = {
        "AlarmName": alarm, "AlarmArn": alarm_arn, "AlarmDescription": "free storage", "Namespace": "AWS/RDS",
        "MetricName": "FreeStorageSpace", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "hms-db"}],
        "Statistic": "Minimum", "Period": 300, "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
        "Threshold": 10737418240.0, "ComparisonOperator": "LessThanThreshold", "TreatMissingData": "breaching",
        "AlarmActions": [topic], "OKActions": [topic], "ActionsEnabled": True,
    }
    diff = {k: a.get(k) for k, v in expected.items() if a.get(k) != v}
    check(not diff, f"DescribeAlarms returns the alarm as put (differs: {diff})")
    check(recent(a.get("AlarmConfigurationUpdatedTimestamp")) and recent(a.get("StateUpdatedTimestamp")),
          "DescribeAlarms: AlarmConfigurationUpdatedTimestamp and StateUpdatedTimestamp decode to now")
    raw = {}
    try:
        raw = cbor_decode(body)["MetricAlarms"][0]
    except Exception as exc:  # noqa: BLE001
        check(False, f"DescribeAlarms body decodes as CBOR: {exc}")
    stamp = raw.get("AlarmConfigurationUpdatedTimestamp")
    check(isinstance(stamp, CborTag) and stamp.tag == 1 and isinstance(stamp.value, (int, float)),
          f"timestamps are CBOR tag 1 + epoch seconds on the wire ({stamp!r})")
    check(b"\xfb" + struct.pack(">d", 10737418240.0) in body, "Threshold is a 64-bit CBOR float on the wire")

    check(cw.list_tags_for_resource(ResourceARN=alarm_arn)["Tags"] == [{"Key": "team", "Value": "hms"}],
          "ListTagsForResource: the tags given to PutMetricAlarm")
    cw.tag_resource(ResourceARN=alarm_arn, Tags=[{"Key": "tier", "Value": "1"}])
    _, _, body = last_response(wire)
    check(body == b"\xa0", "TagResource (empty output structure): body is the empty CBOR map")
    cw.untag_resource(ResourceARN=alarm_arn, TagKeys=["team"])
    check(cw.list_tags_for_resource(ResourceARN=alarm_arn)["Tags"] == [{"Key": "tier", "Value": "1"}],
          "TagResource/UntagResource on the alarm ARN")

    dashboard = f"hms-selftest-{account}"
    dashboard_body = json.dumps({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2,
                                              "properties": {"markdown": "hms"}}]})
    out = cw.put_dashboard(DashboardName=dashboard, DashboardBody=dashboard_body)
    check(out.get("DashboardValidationMessages") == [], "PutDashboard: no validation messages")
    got = cw.get_dashboard(DashboardName=dashboard)
    check(got.get("DashboardName") == dashboard and got.get("DashboardBody") == dashboard_body
          and got.get("DashboardArn") == f"arn:aws:cloudwatch::{account}:dashboard/{dashboard}",
          "GetDashboard: name, body and ARN")
    entries = cw.list_dashboards(DashboardNamePrefix=dashboard)["DashboardEntries"]
    check(len(entries) == 1 and entries[0]["DashboardName"] == dashboard and recent(entries[0].get("LastModified"))
          and entries[0].get("Size") == len(dashboard_body), "ListDashboards: the entry, LastModified and Size")

    err = expect_error(lambda: cw.get_dashboard(DashboardName=f"{dashboard}-missing"), "ResourceNotFound", 404,
                       "GetDashboard of a missing dashboard")
    status, headers, body = last_response(wire)
    decoded = {}
    try:
        decoded = cbor_decode(body)
    except Exception as exc:  # noqa: BLE001
        check(False, f"the error body decodes as CBOR: {exc}")
    check(decoded.get("__type") == "com.amazonaws.cloudwatch#DashboardNotFoundError"
          and headers.get("x-amzn-query-error") == "ResourceNotFound;Sender"
          and isinstance(decoded.get("message"), str) and decoded.get("message")
          and headers.get("content-type") == "application/cbor" and headers.get("smithy-protocol") == "rpc-v2-cbor"
          and "x-amzn-errortype" not in headers,
          f"error wire: __type com.amazonaws.cloudwatch#DashboardNotFoundError, "
          f"x-amzn-query-error ResourceNotFound;Sender, message ({decoded}, {headers.get('x-amzn-query-error')})")
    check(err.get("Error", {}).get("QueryErrorCode") == "DashboardNotFoundError"
          and err.get("Error", {}).get("Type") == "Sender", "botocore sees QueryErrorCode DashboardNotFoundError, Sender")
    expect_error(lambda: cw.put_dashboard(DashboardName=f"{dashboard}-bad", DashboardBody="not json"),
                 "InvalidParameterInput", 400, "PutDashboard with a body that is not JSON")

    cw.delete_dashboards(DashboardNames=[dashboard])
    check(cw.list_dashboards(DashboardNamePrefix=dashboard)["DashboardEntries"] == [], "DeleteDashboards")
    expect_error(lambda: cw.delete_dashboards(DashboardNames=[dashboard]), "ResourceNotFound", 404,
                 "DeleteDashboards of a deleted dashboard")
    cw.delete_alarms(AlarmNames=[alarm])
    check(cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == [], "DeleteAlarms")

    # PutMetricData over 10 KiB goes gzip-compressed (requestCompression), as the Rust SDK sends it too.
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    namespace = f"hms/selftest/{account}"
    cw.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "Latency", "Dimensions": [{"Name": "Service", "Value": "api"}], "Unit": "Milliseconds",
         "Timestamp": now - datetime.timedelta(seconds=i), "Value": 1.5 + i} for i in range(300)])
    sent = [e for e in wire if e[0] == "request" and e[1].endswith("/operation/PutMetricData")]
    check(bool(sent) and sent[-1][2].get("content-encoding") == "gzip", "PutMetricData went gzip-compressed")
    stats = cw.get_metric_statistics(Namespace=namespace, MetricName="Latency",
                                     Dimensions=[{"Name": "Service", "Value": "api"}],
                                     StartTime=now - datetime.timedelta(hours=1),
                                     EndTime=now + datetime.timedelta(minutes=1), Period=3600,
                                     Statistics=["SampleCount", "Maximum"])
    points = stats.get("Datapoints") or []
    check(len(points) == 1 and points[0].get("SampleCount") == 300.0 and points[0].get("Maximum") == 300.5
          and isinstance(points[0].get("Timestamp"), datetime.datetime),
          f"GetMetricStatistics over the gzip-compressed data (timestamps both ways): {points}")

    # A hand-built request: indefinite-length map and array, as a CBOR encoder may send them.
    def raw_call(operation: str, payload: bytes) -> tuple[int, dict, Any]:
        req = urllib.request.Request(f"{endpoint}/service/{CW_SERVICE}/operation/{operation}", data=payload,
                                     method="POST")
        for k, v in {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                     "Accept": "application/cbor", "X-Amz-Date": "20260101T000000Z",
                     "Authorization": fake_auth("monitoring", REGION), "x-moto-account-id": account}.items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                code, hdrs, data = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            code, hdrs, data = exc.code, exc.headers, exc.read()
        return code, {k.lower(): v for k, v in hdrs.items()}, cbor_decode(data) if data else None

    indefinite = b"\xbf" + cbor_encode("MetricName") + cbor_encode("Latency") + cbor_encode("Namespace") \
        + b"\x7f" + cbor_encode(namespace[:4]) + cbor_encode(namespace[4:]) + b"\xff" + b"\xff"
    code, _, data = raw_call("ListMetrics", indefinite)
    check(code == 200 and isinstance(data, dict) and [m.get("MetricName") for m in data.get("Metrics", [])]
          == ["Latency"], f"a request with an indefinite-length map and string is understood ({code} {data})")
    code, _, data = raw_call("NoSuchOperation", b"\xa0")
    check(code == 404 and isinstance(data, dict)
          and data.get("__type") == "com.amazonaws.cloudwatch#UnknownOperationException",
          f"an unknown operation: 404 UnknownOperationException ({code} {data})")


# ---- Application Auto Scaling tags ---------------------------------------------

def autoscaling_client(endpoint: str, account: str, validate: bool = True):  # type: ignore[no-untyped-def]
    c = boto3.client(
        "application-autoscaling", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )

    def add_account(request, **_):  # type: ignore[no-untyped-def]
        request.headers["x-moto-account-id"] = account

    c.meta.events.register(f"before-sign.{c.meta.service_model.service_id.hyphenize()}.*", add_account)
    return c


SCALABLE_TARGET = {"ServiceNamespace": "dynamodb", "ResourceId": "table/hms-selftest",
                   "ScalableDimension": "dynamodb:table:ReadCapacityUnits"}


def test_autoscaling_tags(endpoint: str, account: str) -> None:
    aas = autoscaling_client(endpoint, account)
    raw = autoscaling_client(endpoint, account, validate=False)  # to reach the emulator's own validation
    prefix = f"arn:aws:application-autoscaling:{REGION}:{account}:scalable-target/"

    out = aas.register_scalable_target(**SCALABLE_TARGET, MinCapacity=1, MaxCapacity=4,
                                       Tags={"team": "hms", "tier": "1"})
    arn = out.get("ScalableTargetARN") or ""
    check(re.fullmatch(re.escape(prefix) + "[a-zA-Z0-9-]+", arn) is not None,
          f"RegisterScalableTarget: ScalableTargetARN {arn}")
    described = aas.describe_scalable_targets(ServiceNamespace="dynamodb",
                                              ResourceIds=[SCALABLE_TARGET["ResourceId"]])["ScalableTargets"]
    check([t.get("ScalableTargetARN") for t in described] == [arn], "DescribeScalableTargets: the same ScalableTargetARN")
    check(aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "hms", "tier": "1"},
          "ListTagsForResource: the tags given to RegisterScalableTarget")
    aas.tag_resource(ResourceARN=arn, Tags={"team": "core", "env": "test"})
    check(aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "core", "tier": "1", "env": "test"},
          "TagResource overwrites and adds")
    aas.untag_resource(ResourceARN=arn, TagKeys=["tier", "absent"])
    check(aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "core", "env": "test"},
          "UntagResource removes (unknown keys ignored)")
    again = aas.register_scalable_target(**SCALABLE_TARGET, MaxCapacity=6, Tags={"other": "x"})
    check(again.get("ScalableTargetARN") == arn
          and aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "core", "env": "test"},
          "RegisterScalableTarget of an existing target: the same ARN, its Tags not applied")

    missing = prefix + "0123456789abcdef0123456789abcdef0123"
    resp = expect_error(lambda: aas.tag_resource(ResourceARN=missing, Tags={"a": "b"}),
                        "ResourceNotFoundException", 400, "TagResource on an unknown ARN")
    check(resp.get("ResourceName") == missing, "ResourceNotFoundException carries ResourceName")
    expect_error(lambda: aas.list_tags_for_resource(ResourceARN=missing), "ResourceNotFoundException", 400,
                 "ListTagsForResource on an unknown ARN")
    expect_error(lambda: aas.untag_resource(ResourceARN=missing, TagKeys=["a"]), "ResourceNotFoundException", 400,
                 "UntagResource on an unknown ARN")
    expect_error(lambda: raw.list_tags_for_resource(ResourceARN=f"arn:aws:xray:{REGION}:{account}:group/x"),
                 "ValidationException", 400, "ListTagsForResource of an ARN that is not a scalable target's")
    expect_error(lambda: aas.tag_resource(ResourceARN=arn, Tags={"aws:x": "b"}), "ValidationException", 400,
                 "TagResource with an aws: key")
    expect_error(lambda: raw.tag_resource(ResourceARN=arn, Tags={"k": "v" * 257}), "ValidationException", 400,
                 "TagResource with a 257-character value")
    resp = expect_error(lambda: aas.tag_resource(ResourceARN=arn, Tags={f"k{i}": "v" for i in range(49)}),
                        "TooManyTagsException", 400, "TagResource past 50 tags")
    check(resp.get("ResourceName") == arn, "TooManyTagsException carries ResourceName")
    check(aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "core", "env": "test"},
          "a failed TagResource changes nothing")
    other = {**SCALABLE_TARGET, "ResourceId": "table/hms-selftest-other"}
    expect_error(lambda: aas.register_scalable_target(**other, MinCapacity=1, MaxCapacity=2,
                                                      Tags={f"k{i}": "v" for i in range(51)}),
                 "ValidationException", 400, "RegisterScalableTarget with 51 tags")
    check(aas.describe_scalable_targets(ServiceNamespace="dynamodb",
                                        ResourceIds=[other["ResourceId"]])["ScalableTargets"] == [],
          "a RegisterScalableTarget refused for its tags registers nothing")
    elsewhere = autoscaling_client(endpoint, "".join(random.choice("0123456789") for _ in range(12)))
    expect_error(lambda: elsewhere.list_tags_for_resource(ResourceARN=arn), "ResourceNotFoundException", 400,
                 "another account does not see the target's tags")

    aas.deregister_scalable_target(**SCALABLE_TARGET)
    expect_error(lambda: aas.list_tags_for_resource(ResourceARN=arn), "ResourceNotFoundException", 400,
                 "ListTagsForResource of a deregistered target")
    fresh = aas.register_scalable_target(**SCALABLE_TARGET, MinCapacity=1, MaxCapacity=2)["ScalableTargetARN"]
    check(fresh != arn and aas.list_tags_for_resource(ResourceARN=fresh)["Tags"] == {},
          "registered again: a new ARN, without tags")
    aas.deregister_scalable_target(**SCALABLE_TARGET)


# ---- POST /moto-api/reset -------------------------------------------------------

def s3_client(endpoint: str, account: str):  # type: ignore[no-untyped-def]
    c = boto3.client(
        "s3", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )

    def add_account(request, **_):  # type: ignore[no-untyped-def]
        request.headers["x-moto-account-id"] = account

    c.meta.events.register("before-sign.s3.*", add_account)
    return c


def test_s3(endpoint: str, account: str) -> None:
    """The TLS-only bucket policy lets (emulated-TLS) requests through; conditional writes are atomic."""
    import concurrent.futures

    s3 = s3_client(endpoint, account)
    bucket = f"hms-selftest-{account}"
    if REGION == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    tls_only = {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only))
    s3.put_object(Bucket=bucket, Key="a", Body=b"1")
    check(s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"1",
          "S3: objects of a TLS-only bucket are readable and writable (requests count as TLS)")
    deny_all = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny_all))
    try:
        s3.get_object(Bucket=bucket, Key="a")
        check(False, "S3: an unconditional Deny still denies")
    except ClientError as err:
        check(err.response["ResponseMetadata"]["HTTPStatusCode"] == 403, "S3: an unconditional Deny still denies")
    s3.delete_bucket_policy(Bucket=bucket)

    def race(_: int) -> int:
        c = s3_client(endpoint, account)
        try:
            c.put_object(Bucket=bucket, Key="lock", Body=b"x", IfNoneMatch="*")
            return 200
        except ClientError as err:
            return err.response["ResponseMetadata"]["HTTPStatusCode"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(race, range(32)))
    check(results.count(200) == 1 and results.count(412) == 31,
          f"S3: 32 racing PutObject If-None-Match: * — exactly one wins, 31 get 412 (got {sorted(set(results))})")
    etag = s3.head_object(Bucket=bucket, Key="lock")["ETag"]
    expect_error(lambda: s3.put_object(Bucket=bucket, Key="lock", Body=b"y", IfMatch='"0000"'),
                 "PreconditionFailed", 412, "S3: PutObject If-Match with a stale ETag")
    s3.put_object(Bucket=bucket, Key="lock", Body=b"y", IfMatch=etag)
    check(s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == b"y", "S3: PutObject If-Match with the ETag read")
    for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=o["Key"])
    s3.delete_bucket(Bucket=bucket)


# ---- ElastiCache (the launcher's elasticache_* patches) -------------------------

def aws_client(service: str, endpoint: str, account: str, validate: bool = True):  # type: ignore[no-untyped-def]
    c = boto3.client(
        service, region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )

    def add_account(request, **_):  # type: ignore[no-untyped-def]
        request.headers["x-moto-account-id"] = account

    c.meta.events.register(f"before-sign.{c.meta.service_model.service_id.hyphenize()}.*", add_account)
    return c


def elasticache_network(endpoint: str, account: str) -> tuple[str, list[str], list[str]]:
    """A VPC with two subnets in two AZs (and another VPC's subnet) in the test account."""
    ec2 = aws_client("ec2", endpoint, account)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    azs = [f"{REGION}a", f"{REGION}b"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i + 1}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
               for i, az in enumerate(azs)]
    other = ec2.create_vpc(CidrBlock="10.43.0.0/16")["Vpc"]["VpcId"]
    foreign = ec2.create_subnet(VpcId=other, CidrBlock="10.43.1.0/24", AvailabilityZone=azs[0])["Subnet"]["SubnetId"]
    return vpc, subnets, [foreign]


def elasticache_group(ec, name: str, subnet_group: str, **extra: Any) -> dict:  # type: ignore[no-untyped-def]
    args = dict(ReplicationGroupId=name, ReplicationGroupDescription="hms self-test", Engine="redis",
                EngineVersion="7.1", CacheNodeType="cache.t4g.small", NumCacheClusters=2,
                AutomaticFailoverEnabled=True, MultiAZEnabled=True, CacheSubnetGroupName=subnet_group,
                PreferredCacheClusterAZs=[f"{REGION}a", f"{REGION}b"], SecurityGroupIds=["sg-0123456789abcdef0"],
                TransitEncryptionEnabled=True, TransitEncryptionMode="required", AuthToken="a" * 32,
                AtRestEncryptionEnabled=True, PreferredMaintenanceWindow="sun:05:00-sun:06:00",
                SnapshotWindow="02:00-03:00", SnapshotRetentionLimit=7)
    args.update(extra)
    return ec.create_replication_group(**args)["ReplicationGroup"]


def test_elasticache_parameter_groups(endpoint: str, account: str) -> None:
    ec = aws_client("elasticache", endpoint, account)
    raw = aws_client("elasticache", endpoint, account, validate=False)
    g = ec.create_cache_parameter_group(CacheParameterGroupName="hms-st-redis7", CacheParameterGroupFamily="redis7",
                                        Description="self-test", Tags=[{"Key": "team", "Value": "hms"}])
    arn = g["CacheParameterGroup"]["ARN"]
    check(arn == f"arn:aws:elasticache:{REGION}:{account}:parametergroup:hms-st-redis7"
          and g["CacheParameterGroup"]["CacheParameterGroupFamily"] == "redis7",
          "CreateCacheParameterGroup: the group, with its parametergroup ARN and family")
    got = ec.describe_cache_parameter_groups(CacheParameterGroupName="hms-st-redis7")["CacheParameterGroups"]
    check([x["CacheParameterGroupName"] for x in got] == ["hms-st-redis7"], "DescribeCacheParameterGroups by name")
    names = {x["CacheParameterGroupName"] for x in ec.describe_cache_parameter_groups()["CacheParameterGroups"]}
    check({"hms-st-redis7", "default.redis7", "default.valkey8"} <= names, "DescribeCacheParameterGroups lists defaults too")
    expect_error(lambda: ec.create_cache_parameter_group(CacheParameterGroupName="hms-st-redis7",
                                                         CacheParameterGroupFamily="redis7", Description="x"),
                 "CacheParameterGroupAlreadyExists", 400, "CreateCacheParameterGroup twice")
    expect_error(lambda: ec.create_cache_parameter_group(CacheParameterGroupName="hms-st-x",
                                                         CacheParameterGroupFamily="redis99", Description="x"),
                 "InvalidParameterValue", 400, "CreateCacheParameterGroup of an unknown family")
    expect_error(lambda: ec.describe_cache_parameter_groups(CacheParameterGroupName="hms-st-none"),
                 "CacheParameterGroupNotFound", 404, "DescribeCacheParameterGroups of an unknown group")
    check(ec.describe_cache_parameters(CacheParameterGroupName="hms-st-redis7", Source="user")["Parameters"] == [],
          "DescribeCacheParameters Source=user: nothing set yet")
    system = {p["ParameterName"]: p for p in ec.describe_cache_parameters(CacheParameterGroupName="hms-st-redis7")["Parameters"]}
    check(system.get("maxmemory-policy", {}).get("ParameterValue") == "volatile-lru"
          and system["maxmemory-policy"].get("Source") == "system",
          "DescribeCacheParameters: maxmemory-policy defaults to volatile-lru (system)")
    ec.modify_cache_parameter_group(CacheParameterGroupName="hms-st-redis7", ParameterNameValues=[
        {"ParameterName": "maxmemory-policy", "ParameterValue": "allkeys-lru"},
        {"ParameterName": "timeout", "ParameterValue": "300"}])
    user = {p["ParameterName"]: p["ParameterValue"]
            for p in ec.describe_cache_parameters(CacheParameterGroupName="hms-st-redis7", Source="user")["Parameters"]}
    check(user == {"maxmemory-policy": "allkeys-lru", "timeout": "300"},
          "ModifyCacheParameterGroup: DescribeCacheParameters Source=user shows the values set")
    expect_error(lambda: ec.modify_cache_parameter_group(CacheParameterGroupName="hms-st-redis7", ParameterNameValues=[
        {"ParameterName": "maxmemory-policy", "ParameterValue": "drop-everything"}]),
        "InvalidParameterValue", 400, "ModifyCacheParameterGroup: a value not allowed")
    expect_error(lambda: ec.modify_cache_parameter_group(CacheParameterGroupName="hms-st-redis7", ParameterNameValues=[
        {"ParameterName": "no-such-thing", "ParameterValue": "1"}]),
        "InvalidParameterValue", 400, "ModifyCacheParameterGroup: an unknown parameter")
    expect_error(lambda: ec.modify_cache_parameter_group(CacheParameterGroupName="default.redis7", ParameterNameValues=[
        {"ParameterName": "timeout", "ParameterValue": "1"}]),
        "InvalidParameterValue", 400, "ModifyCacheParameterGroup: a default group")
    ec.reset_cache_parameter_group(CacheParameterGroupName="hms-st-redis7",
                                   ParameterNameValues=[{"ParameterName": "timeout"}])
    user = [p["ParameterName"] for p in
            ec.describe_cache_parameters(CacheParameterGroupName="hms-st-redis7", Source="user")["Parameters"]]
    check(user == ["maxmemory-policy"], "ResetCacheParameterGroup of one parameter")
    check(ec.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "team", "Value": "hms"}],
          "ListTagsForResource of a parameter group")
    ec.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "owner", "Value": "x"}])
    ec.remove_tags_from_resource(ResourceName=arn, TagKeys=["team"])
    check(ec.list_tags_for_resource(ResourceName=arn)["TagList"] == [{"Key": "owner", "Value": "x"}],
          "Add/RemoveTagsFromResource on a parameter group")
    tagging = aws_client("resourcegroupstaggingapi", endpoint, account)
    mapped = tagging.get_resources(TagFilters=[{"Key": "owner", "Values": ["x"]}])["ResourceTagMappingList"]
    check([m["ResourceARN"] for m in mapped] == [arn], "GetResources finds the parameter group by its tags")
    net = elasticache_network(endpoint, account)
    ec.create_cache_subnet_group(CacheSubnetGroupName="hms-st-pg-subnets", CacheSubnetGroupDescription="x",
                                 SubnetIds=net[1])
    expect_error(lambda: elasticache_group(raw, "hms-st-pgv", "hms-st-pg-subnets", CacheParameterGroupName="hms-st-redis7",
                                           Engine="valkey", EngineVersion="8.0"),
                 "InvalidParameterCombination", 400, "CreateReplicationGroup with a group of another family")
    expect_error(lambda: elasticache_group(ec, "hms-st-pgn", "hms-st-pg-subnets", CacheParameterGroupName="hms-st-none"),
                 "CacheParameterGroupNotFound", 404, "CreateReplicationGroup with an unknown group")
    elasticache_group(ec, "hms-st-pg", "hms-st-pg-subnets", CacheParameterGroupName="hms-st-redis7")
    expect_error(lambda: ec.delete_cache_parameter_group(CacheParameterGroupName="hms-st-redis7"),
                 "InvalidCacheParameterGroupState", 400, "DeleteCacheParameterGroup of a group in use")
    ec.delete_replication_group(ReplicationGroupId="hms-st-pg")
    ec.delete_cache_parameter_group(CacheParameterGroupName="hms-st-redis7")
    expect_error(lambda: ec.describe_cache_parameters(CacheParameterGroupName="hms-st-redis7"),
                 "CacheParameterGroupNotFound", 404, "DeleteCacheParameterGroup: gone")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-pg-subnets")


def test_elasticache_subnet_groups(endpoint: str, account: str) -> None:
    ec = aws_client("elasticache", endpoint, account)
    _, subnets, foreign = elasticache_network(endpoint, account)
    made = ec.create_cache_subnet_group(CacheSubnetGroupName="hms-st-subnets", CacheSubnetGroupDescription="x",
                                        SubnetIds=subnets[:1], Tags=[{"Key": "team", "Value": "hms"}])["CacheSubnetGroup"]
    check([s["SubnetAvailabilityZone"].get("Name") for s in made["Subnets"]] == [f"{REGION}a"],
          "CreateCacheSubnetGroup: SubnetAvailabilityZone.Name reported")
    out = ec.modify_cache_subnet_group(CacheSubnetGroupName="hms-st-subnets", SubnetIds=subnets,
                                       CacheSubnetGroupDescription="two")["CacheSubnetGroup"]
    check(sorted(s["SubnetIdentifier"] for s in out["Subnets"]) == sorted(subnets)
          and out["CacheSubnetGroupDescription"] == "two", "ModifyCacheSubnetGroup: new subnets and description")
    got = ec.describe_cache_subnet_groups(CacheSubnetGroupName="hms-st-subnets")["CacheSubnetGroups"][0]
    check(len(got["Subnets"]) == 2 and ec.list_tags_for_resource(ResourceName=got["ARN"])["TagList"]
          == [{"Key": "team", "Value": "hms"}], "DescribeCacheSubnetGroups after the modify; the tags stay")
    elasticache_group(ec, "hms-st-sn", "hms-st-subnets")
    expect_error(lambda: ec.modify_cache_subnet_group(CacheSubnetGroupName="hms-st-subnets", SubnetIds=foreign),
                 "InvalidParameterValue", 400, "ModifyCacheSubnetGroup into another VPC while in use")
    expect_error(lambda: ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-subnets"),
                 "CacheSubnetGroupInUse", 400, "DeleteCacheSubnetGroup while in use")
    ec.delete_replication_group(ReplicationGroupId="hms-st-sn")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-subnets")
    expect_error(lambda: ec.describe_cache_subnet_groups(CacheSubnetGroupName="hms-st-subnets"),
                 "CacheSubnetGroupNotFoundFault", 400, "DeleteCacheSubnetGroup: gone")
    expect_error(lambda: ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-subnets"),
                 "CacheSubnetGroupNotFoundFault", 400, "DeleteCacheSubnetGroup of an unknown group")


def test_elasticache_replication_group(endpoint: str, account: str) -> None:
    """NumCacheClusters honoured, ReaderEndpoint reported, member cache clusters visible."""
    ec = aws_client("elasticache", endpoint, account)
    _, subnets, _ = elasticache_network(endpoint, account)
    ec.create_cache_subnet_group(CacheSubnetGroupName="hms-st-rg-subnets", CacheSubnetGroupDescription="x",
                                 SubnetIds=subnets)
    rg = elasticache_group(ec, "hms-st-rg", "hms-st-rg-subnets", NumCacheClusters=3)
    check(rg["MemberClusters"] == ["hms-st-rg-001", "hms-st-rg-002", "hms-st-rg-003"],
          f"NumCacheClusters=3: three members ({rg['MemberClusters']})")
    node_group = rg["NodeGroups"][0]
    reader = node_group.get("ReaderEndpoint", {})
    check(reader.get("Address", "").startswith("replica.hms-st-rg.") and reader.get("Port") == 6379,
          "ReaderEndpoint reported")
    azs = [m["PreferredAvailabilityZone"] for m in node_group["NodeGroupMembers"]]
    check(azs[:2] == [f"{REGION}a", f"{REGION}b"], f"members in PreferredCacheClusterAZs ({azs})")
    clusters = {c["CacheClusterId"]: c for c in ec.describe_cache_clusters(ShowCacheNodeInfo=True)["CacheClusters"]
                if c.get("ReplicationGroupId") == "hms-st-rg"}
    check(sorted(clusters) == rg["MemberClusters"], "DescribeCacheClusters lists the members")
    c = ec.describe_cache_clusters(CacheClusterId="hms-st-rg-002")["CacheClusters"][0]
    check(c.get("EngineVersion") == "7.1" and c.get("Engine") == "redis"
          and c.get("CacheParameterGroup", {}).get("CacheParameterGroupName") == "default.redis7"
          and c.get("CacheSubnetGroupName") == "hms-st-rg-subnets"
          and [g["SecurityGroupId"] for g in c.get("SecurityGroups", [])] == ["sg-0123456789abcdef0"]
          and c.get("PreferredMaintenanceWindow") == "sun:05:00-sun:06:00"
          and c.get("PreferredAvailabilityZone") == f"{REGION}b" and c.get("AtRestEncryptionEnabled") is True
          and c.get("TransitEncryptionEnabled") is True and c.get("AuthTokenEnabled") is True,
          "a member reports engine version, parameter group, subnet group, security groups, window and AZ")
    expect_error(lambda: elasticache_group(ec, "hms-st-one", "hms-st-rg-subnets", NumCacheClusters=1),
                 "InvalidParameterCombination", 400, "automatic failover with one cluster")
    expect_error(lambda: elasticache_group(ec, "hms-st-maz", "hms-st-rg-subnets", AutomaticFailoverEnabled=False),
                 "InvalidParameterCombination", 400, "Multi-AZ without automatic failover")
    expect_error(lambda: ec.create_replication_group(ReplicationGroupId="hms-st-tok", ReplicationGroupDescription="x",
                                             NumCacheClusters=1, CacheNodeType="cache.t4g.small",
                                             AuthToken="a" * 32, CacheSubnetGroupName="hms-st-rg-subnets"),
                 "InvalidParameterValue", 400, "AuthToken without transit encryption")
    ec.delete_replication_group(ReplicationGroupId="hms-st-rg")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-rg-subnets")


def test_elasticache_modify(endpoint: str, account: str) -> None:
    ec = aws_client("elasticache", endpoint, account)
    _, subnets, _ = elasticache_network(endpoint, account)
    ec.create_cache_subnet_group(CacheSubnetGroupName="hms-st-m-subnets", CacheSubnetGroupDescription="x",
                                 SubnetIds=subnets)
    rg = elasticache_group(ec, "hms-st-m", "hms-st-m-subnets")
    first_token_date = rg["AuthTokenLastModifiedDate"]

    def member() -> dict:
        return ec.describe_cache_clusters(CacheClusterId="hms-st-m-001")["CacheClusters"][0]

    ec.modify_replication_group(ReplicationGroupId="hms-st-m", CacheNodeType="cache.t4g.medium", ApplyImmediately=False)
    check(member().get("PendingModifiedValues", {}).get("CacheNodeType") == "cache.t4g.medium"
          and member().get("CacheNodeType") == "cache.t4g.small",
          "CacheNodeType without ApplyImmediately: pending on the members")
    ec.create_cache_parameter_group(CacheParameterGroupName="hms-st-m-valkey8", CacheParameterGroupFamily="valkey8",
                                    Description="x")
    out = ec.modify_replication_group(
        ReplicationGroupId="hms-st-m", ApplyImmediately=True, Engine="valkey", EngineVersion="8.0",
        CacheParameterGroupName="hms-st-m-valkey8", SecurityGroupIds=["sg-0fedcba9876543210"],
        PreferredMaintenanceWindow="mon:05:00-mon:06:00", SnapshotWindow="01:00-02:00", SnapshotRetentionLimit=3,
        AutoMinorVersionUpgrade=False,
        LogDeliveryConfigurations=[{"LogType": "slow-log", "DestinationType": "cloudwatch-logs",
                                    "DestinationDetails": {"CloudWatchLogsDetails": {"LogGroup": "/hms/slow"}},
                                    "LogFormat": "json", "Enabled": True}])["ReplicationGroup"]
    m = member()
    check(out["CacheNodeType"] == "cache.t4g.medium" and out["Engine"] == "valkey"
          and not m.get("PendingModifiedValues", {}).get("CacheNodeType") and m.get("EngineVersion") == "8.0"
          and m.get("CacheParameterGroup", {}).get("CacheParameterGroupName") == "hms-st-m-valkey8"
          and [g["SecurityGroupId"] for g in m.get("SecurityGroups", [])] == ["sg-0fedcba9876543210"]
          and m.get("PreferredMaintenanceWindow") == "mon:05:00-mon:06:00" and out["SnapshotWindow"] == "01:00-02:00"
          and out["SnapshotRetentionLimit"] == 3 and out["AutoMinorVersionUpgrade"] is False
          and [c["LogType"] for c in out["LogDeliveryConfigurations"]] == ["slow-log"],
          "ModifyReplicationGroup with ApplyImmediately: pending node type, engine, version, parameter group, "
          "security groups, windows, retention, auto minor version upgrade, log delivery")
    expect_error(lambda: ec.modify_replication_group(ReplicationGroupId="hms-st-m", Engine="redis", EngineVersion="7.1"),
                 "InvalidParameterCombination", 400, "ModifyReplicationGroup: valkey back to redis")
    out = ec.modify_replication_group(ReplicationGroupId="hms-st-m", LogDeliveryConfigurations=[
        {"LogType": "slow-log", "Enabled": False}])["ReplicationGroup"]
    check(out["LogDeliveryConfigurations"] == [], "LogDeliveryConfigurations Enabled=false removes the log type")
    time.sleep(0.01)
    out = ec.modify_replication_group(ReplicationGroupId="hms-st-m", AuthToken="b" * 32,
                                      AuthTokenUpdateStrategy="ROTATE", ApplyImmediately=True)["ReplicationGroup"]
    check(out["AuthTokenEnabled"] is True and out["AuthTokenLastModifiedDate"] > first_token_date,
          "AuthToken ROTATE: AUTH on, AuthTokenLastModifiedDate moves")
    out = ec.modify_replication_group(ReplicationGroupId="hms-st-m", AuthToken="b" * 32,
                                      AuthTokenUpdateStrategy="SET", ApplyImmediately=True)["ReplicationGroup"]
    check(out["AuthTokenEnabled"] is True, "AuthToken SET")
    expect_error(lambda: ec.modify_replication_group(ReplicationGroupId="hms-st-m", AuthToken="short",
                                                     AuthTokenUpdateStrategy="SET"),
                 "InvalidParameterValue", 400, "AuthToken shorter than 16 characters")
    expect_error(lambda: ec.modify_replication_group(ReplicationGroupId="hms-st-m", AuthTokenUpdateStrategy="ROTATE"),
                 "InvalidParameterCombination", 400, "ROTATE without an AuthToken")
    ec.delete_replication_group(ReplicationGroupId="hms-st-m")
    ec.create_replication_group(ReplicationGroupId="hms-st-tls", ReplicationGroupDescription="x", NumCacheClusters=2,
                                CacheNodeType="cache.t4g.small", CacheSubnetGroupName="hms-st-m-subnets",
                                AutomaticFailoverEnabled=True)
    expect_error(lambda: ec.modify_replication_group(ReplicationGroupId="hms-st-tls", TransitEncryptionEnabled=True,
                                                     TransitEncryptionMode="required", ApplyImmediately=True),
                 "InvalidParameterCombination", 400, "transit encryption straight to required")
    out = ec.modify_replication_group(ReplicationGroupId="hms-st-tls", TransitEncryptionEnabled=True,
                                      TransitEncryptionMode="preferred", ApplyImmediately=True)["ReplicationGroup"]
    check(out["TransitEncryptionEnabled"] is True and out.get("TransitEncryptionMode") == "preferred",
          "transit encryption on through preferred")
    out = ec.modify_replication_group(ReplicationGroupId="hms-st-tls", TransitEncryptionMode="required",
                                      ApplyImmediately=True)["ReplicationGroup"]
    check(out.get("TransitEncryptionMode") == "required", "then required")
    ec.delete_replication_group(ReplicationGroupId="hms-st-tls")
    ec.delete_cache_parameter_group(CacheParameterGroupName="hms-st-m-valkey8")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-m-subnets")


def test_elasticache_replica_count(endpoint: str, account: str) -> None:
    ec = aws_client("elasticache", endpoint, account)
    _, subnets, _ = elasticache_network(endpoint, account)
    ec.create_cache_subnet_group(CacheSubnetGroupName="hms-st-r-subnets", CacheSubnetGroupDescription="x",
                                 SubnetIds=subnets)
    elasticache_group(ec, "hms-st-r", "hms-st-r-subnets")
    out = ec.increase_replica_count(ReplicationGroupId="hms-st-r", NewReplicaCount=2, ApplyImmediately=True)
    check(out["ReplicationGroup"]["MemberClusters"] == ["hms-st-r-001", "hms-st-r-002", "hms-st-r-003"],
          "IncreaseReplicaCount to 2: a third member")
    check(len([c for c in ec.describe_cache_clusters()["CacheClusters"] if c.get("ReplicationGroupId") == "hms-st-r"]) == 3,
          "IncreaseReplicaCount: the new member cache cluster exists")
    expect_error(lambda: ec.increase_replica_count(ReplicationGroupId="hms-st-r", NewReplicaCount=2, ApplyImmediately=True),
                 "InvalidParameterValue", 400, "IncreaseReplicaCount that adds none")
    expect_error(lambda: ec.increase_replica_count(ReplicationGroupId="hms-st-r", NewReplicaCount=3, ApplyImmediately=False),
                 "InvalidParameterValue", 400, "IncreaseReplicaCount without ApplyImmediately")
    out = ec.decrease_replica_count(ReplicationGroupId="hms-st-r", NewReplicaCount=1, ApplyImmediately=True,
                                    ReplicasToRemove=["hms-st-r-002"])
    check(out["ReplicationGroup"]["MemberClusters"] == ["hms-st-r-001", "hms-st-r-003"],
          "DecreaseReplicaCount with ReplicasToRemove")
    expect_error(lambda: ec.decrease_replica_count(ReplicationGroupId="hms-st-r", NewReplicaCount=0, ApplyImmediately=True),
                 "InvalidParameterCombination", 400, "DecreaseReplicaCount to 0 with automatic failover")
    expect_error(lambda: ec.increase_replica_count(ReplicationGroupId="hms-st-none", NewReplicaCount=2,
                                                   ApplyImmediately=True),
                 "ReplicationGroupNotFoundFault", 404, "IncreaseReplicaCount of an unknown group")
    ec.delete_replication_group(ReplicationGroupId="hms-st-r")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-r-subnets")


def test_elasticache_deletion(endpoint: str, account: str) -> None:
    ec = aws_client("elasticache", endpoint, account)
    _, subnets, _ = elasticache_network(endpoint, account)
    ec.create_cache_subnet_group(CacheSubnetGroupName="hms-st-d-subnets", CacheSubnetGroupDescription="x",
                                 SubnetIds=subnets)
    rg = elasticache_group(ec, "hms-st-d", "hms-st-d-subnets", KmsKeyId="arn:aws:kms:eu-west-3:123456789012:key/k",
                           Tags=[{"Key": "team", "Value": "hms"}])
    out = ec.delete_replication_group(ReplicationGroupId="hms-st-d", FinalSnapshotIdentifier="hms-st-d-final")
    check(out["ReplicationGroup"]["Status"] == "deleting", "DeleteReplicationGroup answers status deleting")
    expect_error(lambda: ec.describe_replication_groups(ReplicationGroupId="hms-st-d"),
                 "ReplicationGroupNotFoundFault", 404, "DeleteReplicationGroup: the group is gone")
    check(not [c for c in ec.describe_cache_clusters()["CacheClusters"] if c.get("ReplicationGroupId") == "hms-st-d"],
          "DeleteReplicationGroup: its member cache clusters are gone")
    snaps = ec.describe_snapshots(SnapshotName="hms-st-d-final")["Snapshots"]
    check(len(snaps) == 1 and snaps[0].get("ReplicationGroupId") == "hms-st-d"
          and snaps[0].get("KmsKeyId") == "arn:aws:kms:eu-west-3:123456789012:key/k",
          "FinalSnapshotIdentifier: the final snapshot exists, of the group, with its key")
    tagging = aws_client("resourcegroupstaggingapi", endpoint, account)
    check(not [m for m in tagging.get_resources(TagFilters=[{"Key": "team", "Values": ["hms"]}])["ResourceTagMappingList"]
               if m["ResourceARN"] == rg["ARN"]], "DeleteReplicationGroup: its tags are gone")
    elasticache_group(ec, "hms-st-d", "hms-st-d-subnets")
    expect_error(lambda: ec.delete_replication_group(ReplicationGroupId="hms-st-d", FinalSnapshotIdentifier="hms-st-d-final"),
                 "SnapshotAlreadyExistsFault", 400, "a final snapshot name already taken")
    check(ec.describe_replication_groups(ReplicationGroupId="hms-st-d")["ReplicationGroups"][0]["Status"] == "available",
          "a refused delete deletes nothing")
    ec.delete_replication_group(ReplicationGroupId="hms-st-d")
    ec.delete_snapshot(SnapshotName="hms-st-d-final")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="hms-st-d-subnets")
    expect_error(lambda: ec.delete_replication_group(ReplicationGroupId="hms-st-d"),
                 "ReplicationGroupNotFoundFault", 404, "DeleteReplicationGroup of a deleted group")


def test_secretsmanager_version_stage(endpoint: str, account: str) -> None:
    """A value staged as AWSPENDING and promoted to AWSCURRENT is what a plain GetSecretValue returns."""
    sm = aws_client("secretsmanager", endpoint, account)
    arn = sm.create_secret(Name="hms-selftest/rotation", SecretString="old-value")["ARN"]
    pending = sm.put_secret_value(SecretId=arn, SecretString="new-value", VersionStages=["AWSPENDING"])["VersionId"]
    check(sm.get_secret_value(SecretId=arn)["SecretString"] == "old-value",
          "Secrets Manager: a value staged as AWSPENDING is not current yet")
    current = [v for v, stages in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items()
               if "AWSCURRENT" in stages][0]
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=pending,
                                   RemoveFromVersionId=current)
    check(sm.get_secret_value(SecretId=arn)["SecretString"] == "new-value",
          "UpdateSecretVersionStage AWSCURRENT: GetSecretValue returns the promoted value")
    check(sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == "old-value",
          "UpdateSecretVersionStage AWSCURRENT: the old value is AWSPREVIOUS")
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_reset(endpoint: str, account: str) -> None:
    """POST /moto-api/reset empties the launcher's stores as well as moto's. Resets the whole emulator."""
    xray = client(endpoint, account)
    rds = boto3.client("rds", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))
    aas = autoscaling_client(endpoint, account)

    for i in range(25):
        xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": f"r{i}"})
    xray.create_group(GroupName="reset", Tags=[{"Key": "team", "Value": "hms"}])
    offering = rds.describe_reserved_db_instances_offerings(
        DBInstanceClass="db.t3.micro", ProductDescription="postgresql", Duration="1", OfferingType="No Upfront",
        MultiAZ=False)["ReservedDBInstancesOfferings"][0]["ReservedDBInstancesOfferingId"]
    rds.purchase_reserved_db_instances_offering(ReservedDBInstancesOfferingId=offering,
                                                ReservedDBInstanceId="hms-selftest-reset")
    arn = aas.register_scalable_target(**SCALABLE_TARGET, MinCapacity=1, MaxCapacity=2,
                                       Tags={"team": "hms"})["ScalableTargetARN"]
    check(len(xray.get_sampling_rules()["SamplingRuleRecords"]) == 26 and len(xray.get_groups()["Groups"]) == 1
          and len(rds.describe_reserved_db_instances()["ReservedDBInstances"]) == 1
          and aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "hms"},
          "before the reset: 25 X-Ray rules and a group, an RDS reservation, a tagged scalable target")

    _, started = latency_api(endpoint)
    latency_api(endpoint, {"scale": 0.5, "account": account})

    req = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        check(resp.status == 200, "POST /moto-api/reset: 200")
    _, latency = latency_api(endpoint)
    check(latency["accounts"] == {} and latency["scale"] == started["scale"],
          "after the reset: the latency scale is the launcher's own again, no account has its own")

    names = [r["SamplingRule"]["RuleName"] for r in xray.get_sampling_rules()["SamplingRuleRecords"]]
    check(names == ["Default"], f"after the reset: X-Ray has only the Default rule ({len(names)} rules)")
    check(xray.get_groups()["Groups"] == [], "after the reset: no X-Ray groups")
    try:
        for i in range(25):
            xray.create_sampling_rule(SamplingRule={**RULE, "RuleName": f"r{i}"})
        check(True, "after the reset: 25 sampling rules fit again")
    except ClientError as err:
        check(False, f"after the reset: 25 sampling rules fit again ({err})")
    for i in range(25):
        try:
            xray.delete_sampling_rule(RuleName=f"r{i}")
        except ClientError:
            pass
    check(rds.describe_reserved_db_instances()["ReservedDBInstances"] == [], "after the reset: no RDS reservations")
    expect_error(lambda: rds.describe_reserved_db_instances(ReservedDBInstanceId="hms-selftest-reset"),
                 "ReservedDBInstanceNotFound", 404, "after the reset: the reservation is gone")
    check(aas.describe_scalable_targets(ServiceNamespace="dynamodb")["ScalableTargets"] == [],
          "after the reset: no scalable targets (moto's own reset)")
    expect_error(lambda: aas.list_tags_for_resource(ResourceARN=arn), "ResourceNotFoundException", 400,
                 "after the reset: the target's tags are gone")
    fresh = aas.register_scalable_target(**SCALABLE_TARGET, MinCapacity=1, MaxCapacity=2)["ScalableTargetARN"]
    check(aas.list_tags_for_resource(ResourceARN=fresh)["Tags"] == {}, "after the reset: a new target has no tags")
    aas.deregister_scalable_target(**SCALABLE_TARGET)


def latency_api(endpoint: str, body: dict | None = None) -> tuple[int, dict]:
    """GET (body None) or POST /hms-api/latency; returns (HTTP status, JSON answer)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{endpoint}/hms-api/latency", data=data, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def until(what: Callable[[], Any], want: Any, limit: float) -> tuple[Any, float]:
    """Polls `what()` every 0.2 s until it returns `want` or `limit` seconds pass; returns (last, seconds)."""
    start = time.monotonic()
    got = what()
    while got != want and time.monotonic() - start < limit:
        time.sleep(0.2)
        got = what()
    return got, time.monotonic() - start


LATENCY_SCALE = 0.02  # this account only: NAT pending 1.8 s, DB creating 14.4 s, cache creating 12 s, ...


def test_latency(endpoint: str, account: str) -> None:
    """HMS_EMULATOR_LATENCY, set for this account through POST /hms-api/latency: each resource stays in its
    transitional state for scale × AWS's typical duration (without endpoints while creating), then reaches
    its final state; another account is not slowed; back to 0 afterwards."""
    status, before = latency_api(endpoint)
    check(status == 200 and "scale" in before and before.get("typical_seconds", {}).get("nat_gateway.pending") == 90,
          f"GET /hms-api/latency: the scale and the typical durations ({status} {before.get('scale')})")
    for bad in ({"scale": -1}, {"scale": "fast"}, {"scale": True}, {}, {"scale": 1, "account": "12"}):
        status, answer = latency_api(endpoint, bad)
        check(status == 400 and answer.get("message"), f"POST /hms-api/latency {bad}: 400 with a message")
    status, answer = latency_api(endpoint, {"scale": LATENCY_SCALE, "account": account})
    check(status == 200 and answer["accounts"].get(account) == LATENCY_SCALE
          and answer["scale"] == before.get("scale"), f"POST /hms-api/latency: scale {LATENCY_SCALE} for {account} only")
    typical = before.get("typical_seconds", {})

    def lasts(kind: str) -> float:
        return typical.get(kind, 0) * LATENCY_SCALE

    try:
        _latency_checks(endpoint, account, lasts)
    finally:
        status, answer = latency_api(endpoint, {"scale": None, "account": account})
        check(status == 200 and account not in answer["accounts"], "POST /hms-api/latency: the account's scale dropped")


def _latency_checks(endpoint: str, account: str, lasts: Callable[[str], float]) -> None:  # noqa: C901
    ec2 = aws_client("ec2", endpoint, account)
    rds = aws_client("rds", endpoint, account)
    elb = aws_client("elbv2", endpoint, account)
    ecs = aws_client("ecs", endpoint, account)
    ec = aws_client("elasticache", endpoint, account)
    cf = dns_client("cloudfront", endpoint, account)
    acm = dns_client("acm", endpoint, account)
    slack = 30.0  # seconds past a transition's end before a check gives up

    vpc, subnets, _ = elasticache_network(endpoint, account)
    sg = ec2.create_security_group(GroupName="st-latency", Description="x", VpcId=vpc)["GroupId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]

    # Every transition starts at once, so that the whole check takes as long as its longest one.
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=eip)["NatGateway"]
    db = rds.create_db_instance(DBInstanceIdentifier="st-latency", DBInstanceClass="db.t3.micro", Engine="postgres",
                                MasterUsername="hms", MasterUserPassword="x" * 16, AllocatedStorage=20)["DBInstance"]
    lb = elb.create_load_balancer(Name="st-latency", Subnets=subnets, SecurityGroups=[sg])["LoadBalancers"][0]
    ecs.create_cluster(clusterName="st-latency")
    tds = [ecs.register_task_definition(family="st-latency", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                        cpu="256", memory="512",
                                        containerDefinitions=[{"name": "app", "image": f"app:{v}"}]
                                        )["taskDefinition"]["taskDefinitionArn"] for v in (1, 2)]
    svc = ecs.create_service(cluster="st-latency", serviceName="app", taskDefinition=tds[0], desiredCount=3,
                             launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                                 "subnets": subnets, "securityGroups": [sg]}})["service"]
    ec.create_cache_subnet_group(CacheSubnetGroupName="st-latency", CacheSubnetGroupDescription="x", SubnetIds=subnets)
    rg = elasticache_group(ec, "st-latency", "st-latency")
    dist = cf.create_distribution(DistributionConfig=_cf_config(f"lat{account}", "arn:aws:acm:us-east-1:"
                                                                f"{account}:certificate/latency"))
    cert = acm.request_certificate(DomainName=f"lat-{account}.example.org", ValidationMethod="DNS")["CertificateArn"]

    # During.
    nat_state = lambda: ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]["State"]  # noqa: E731
    check(nat["State"] == "pending" and nat_state() == "pending", "latency: a new NAT gateway is pending")
    check(ec2.describe_nat_gateways(Filters=[{"Name": "state", "Values": ["pending"]}])["NatGateways"] != [],
          "latency: DescribeNatGateways' state filter agrees (pending)")
    described = rds.describe_db_instances(DBInstanceIdentifier="st-latency")["DBInstances"][0]
    check(db["DBInstanceStatus"] == "creating" and described["DBInstanceStatus"] == "creating"
          and "Endpoint" not in described and "Endpoint" not in db,
          "latency: a new DB instance is creating, without an Endpoint")
    lb_state = lambda: elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]["State"]["Code"]  # noqa: E731
    check(lb["State"]["Code"] == "provisioning" and lb_state() == "provisioning"
          and elb.describe_load_balancers(Names=["st-latency"])["LoadBalancers"][0]["State"]["Code"] == "provisioning",
          "latency: a new load balancer is provisioning (by ARN and by name)")

    def service() -> dict:
        return ecs.describe_services(cluster="st-latency", services=["app"])["services"][0]

    now = service()
    deps = now["deployments"]
    check(len(deps) == 1 and deps[0]["rolloutState"] == "IN_PROGRESS" and deps[0]["runningCount"] == 0
          and deps[0]["status"] == "PRIMARY" and now["runningCount"] == 0 and svc["deployments"][0]["rolloutState"]
          == "IN_PROGRESS", f"latency: a new ECS service's deployment is IN_PROGRESS with 0 running ({deps})")
    group = ec.describe_replication_groups(ReplicationGroupId="st-latency")["ReplicationGroups"][0]
    node_group = group["NodeGroups"][0]
    check(rg["Status"] == "creating" and group["Status"] == "creating" and "PrimaryEndpoint" not in node_group
          and "ReaderEndpoint" not in node_group and node_group.get("NodeGroupMembers"),
          "latency: a new replication group is creating, without endpoints")
    expect_error(lambda: ec.modify_replication_group(ReplicationGroupId="st-latency", ApplyImmediately=True,
                                                     SnapshotRetentionLimit=3),
                 "InvalidReplicationGroupState", 400, "latency: ModifyReplicationGroup while creating")
    check(dist["Distribution"]["Status"] == "InProgress"
          and cf.get_distribution(Id=dist["Distribution"]["Id"])["Distribution"]["Status"] == "InProgress",
          "latency: a new distribution is InProgress (after a read too)")
    cert_state = lambda: acm.describe_certificate(CertificateArn=cert)["Certificate"]["Status"]  # noqa: E731
    check(cert_state() == "PENDING_VALIDATION", "latency: a requested certificate is PENDING_VALIDATION")

    # Other accounts are not slowed.
    other = "".join(random.choice("123456789") for _ in range(12))
    _, other_subnets, _ = elasticache_network(endpoint, other)
    other_ec2 = aws_client("ec2", endpoint, other)
    other_nat = other_ec2.create_nat_gateway(SubnetId=other_subnets[0],
                                             AllocationId=other_ec2.allocate_address(Domain="vpc")["AllocationId"])
    check(other_nat["NatGateway"]["State"] == "available", "latency: another account's NAT gateway is available at once")

    # After.
    got, took = until(nat_state, "available", lasts("nat_gateway.pending") + slack)
    check(got == "available", f"latency: the NAT gateway is available after {took:.1f}s "
                              f"(scale x 90 s = {lasts('nat_gateway.pending'):.1f}s)")
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
    check(nat_state() == "deleting", "latency: a deleted NAT gateway is deleting")
    got, took = until(nat_state, "deleted", lasts("nat_gateway.deleting") + slack)
    check(got == "deleted", f"latency: then deleted ({took:.1f}s)")
    got, took = until(lb_state, "active", lasts("load_balancer.provisioning") + slack)
    check(got == "active", f"latency: the load balancer is active after {took:.1f}s")
    got, took = until(cert_state, "ISSUED", lasts("certificate.pending_validation") + slack)
    check(got == "ISSUED", f"latency: the certificate is ISSUED after {took:.1f}s")
    got, took = until(lambda: service()["deployments"][0]["rolloutState"], "COMPLETED", lasts("ecs.deployment") + slack)
    now = service()
    check(got == "COMPLETED" and now["runningCount"] == 3 and now["deployments"][0]["runningCount"] == 3
          and len(now["deployments"]) == 1, f"latency: the ECS deployment is COMPLETED with 3 running after {took:.1f}s")
    ecs.update_service(cluster="st-latency", service="app", taskDefinition=tds[1])
    now = service()
    deps = {d["status"]: d for d in now["deployments"]}
    check(set(deps) == {"PRIMARY", "ACTIVE"} and deps["PRIMARY"]["taskDefinition"] == tds[1]
          and deps["PRIMARY"]["rolloutState"] == "IN_PROGRESS" and deps["PRIMARY"]["runningCount"] == 0
          and deps["ACTIVE"]["runningCount"] == 3 and now["runningCount"] == 3,
          "latency: UpdateService with a new task definition: a new PRIMARY IN_PROGRESS, the old one ACTIVE")
    got, took = until(lambda: len(service()["deployments"]), 1, lasts("ecs.deployment") + slack)
    now = service()
    check(got == 1 and now["deployments"][0]["taskDefinition"] == tds[1]
          and now["deployments"][0]["rolloutState"] == "COMPLETED",
          f"latency: then only the new deployment, COMPLETED ({took:.1f}s)")
    dist_id = dist["Distribution"]["Id"]
    got, took = until(lambda: cf.get_distribution(Id=dist_id)["Distribution"]["Status"], "Deployed",
                      lasts("distribution.in_progress") + slack)
    check(got == "Deployed", f"latency: the distribution is Deployed after {took:.1f}s")
    got_cfg = cf.get_distribution_config(Id=dist_id)
    config = got_cfg["DistributionConfig"]
    config["Enabled"] = False
    updated = cf.update_distribution(Id=dist_id, IfMatch=got_cfg["ETag"], DistributionConfig=config)
    check(updated["Distribution"]["Status"] == "InProgress"
          and cf.get_distribution(Id=dist_id)["Distribution"]["Status"] == "InProgress",
          "latency: an updated distribution is InProgress (after a read too)")
    got, took = until(lambda: cf.get_distribution(Id=dist_id)["Distribution"]["Status"], "Deployed",
                      lasts("distribution.in_progress") + slack)
    check(got == "Deployed", f"latency: then Deployed ({took:.1f}s)")

    db_state = lambda: rds.describe_db_instances(DBInstanceIdentifier="st-latency")["DBInstances"][0]["DBInstanceStatus"]  # noqa: E731
    got, took = until(db_state, "available", lasts("db_instance.creating") + slack)
    described = rds.describe_db_instances(DBInstanceIdentifier="st-latency")["DBInstances"][0]
    check(got == "available" and described.get("Endpoint", {}).get("Address"),
          f"latency: the DB instance is available with an Endpoint after {took:.1f}s")
    rds.modify_db_instance(DBInstanceIdentifier="st-latency", DeletionProtection=False, ApplyImmediately=True)
    check(db_state() == "available", "latency: a change of deletion protection alone applies at once")
    rds.modify_db_instance(DBInstanceIdentifier="st-latency", BackupRetentionPeriod=3, ApplyImmediately=True)
    check(db_state() == "modifying", "latency: ModifyDBInstance with ApplyImmediately: modifying")
    got, took = until(db_state, "available", lasts("db_instance.modifying") + slack)
    check(got == "available", f"latency: then available ({took:.1f}s)")
    rds.delete_db_instance(DBInstanceIdentifier="st-latency", SkipFinalSnapshot=True)
    check(db_state() == "deleting", "latency: a deleted DB instance is still described, deleting")
    expect_error(lambda: rds.delete_db_instance(DBInstanceIdentifier="st-latency", SkipFinalSnapshot=True),
                 "InvalidDBInstanceState", 400, "latency: DeleteDBInstance of an instance being deleted")

    def db_gone() -> bool:
        try:
            rds.describe_db_instances(DBInstanceIdentifier="st-latency")
            return False
        except ClientError as err:
            return err.response["Error"]["Code"] == "DBInstanceNotFound"

    got, took = until(db_gone, True, lasts("db_instance.deleting") + slack)
    check(got is True, f"latency: then gone, DBInstanceNotFound ({took:.1f}s)")

    rg_state = lambda: ec.describe_replication_groups(ReplicationGroupId="st-latency")["ReplicationGroups"][0]["Status"]  # noqa: E731
    got, took = until(rg_state, "available", lasts("replication_group.creating") + slack)
    node_group = ec.describe_replication_groups(ReplicationGroupId="st-latency")["ReplicationGroups"][0]["NodeGroups"][0]
    check(got == "available" and node_group.get("PrimaryEndpoint", {}).get("Address")
          and node_group.get("ReaderEndpoint", {}).get("Address"),
          f"latency: the replication group is available with its endpoints after {took:.1f}s")
    ec.modify_replication_group(ReplicationGroupId="st-latency", ApplyImmediately=True, SnapshotRetentionLimit=3)
    check(rg_state() == "modifying", "latency: ModifyReplicationGroup: modifying")
    expect_error(lambda: ec.delete_replication_group(ReplicationGroupId="st-latency"),
                 "InvalidReplicationGroupState", 400, "latency: DeleteReplicationGroup while modifying")
    got, took = until(rg_state, "available", lasts("replication_group.modifying") + slack)
    check(got == "available", f"latency: then available ({took:.1f}s)")

    # Cleanup (the account is this run's own).
    ec.delete_replication_group(ReplicationGroupId="st-latency")
    ecs.update_service(cluster="st-latency", service="app", desiredCount=0)
    ecs.delete_service(cluster="st-latency", service="app")
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    acm.delete_certificate(CertificateArn=cert)


def test_call_log(path: str, since: float) -> None:
    ops: dict[str, set] = {}
    keys: set = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("t", 0) >= since:
                ops.setdefault(rec.get("service"), set()).add(rec.get("operation"))
                keys.add(rec.get("akid"))
    # The self-test signs with boto3's test credentials: the call log names the access key id.
    check("testing" in keys, f"call log records the signing access key id (got {sorted(map(str, keys))[:3]})")
    wanted = {"CreateSamplingRule", "GetSamplingRules", "UpdateSamplingRule", "DeleteSamplingRule",
              "CreateGroup", "GetGroup", "GetGroups", "UpdateGroup", "DeleteGroup",
              "TagResource", "UntagResource", "ListTagsForResource"}
    got = ops.get("xray", set())
    check(wanted <= got, f"call log has service xray with operation names (missing: {sorted(wanted - got)})")
    # rpc-v2-cbor CloudWatch is logged like query/JSON CloudWatch: SigV4 service `monitoring`.
    wanted = {"PutMetricAlarm", "DescribeAlarms", "ListTagsForResource", "TagResource", "UntagResource",
              "PutDashboard", "GetDashboard", "ListDashboards", "DeleteDashboards", "DeleteAlarms",
              "PutMetricData", "GetMetricStatistics"}
    got = ops.get("monitoring", set())
    check(wanted <= got, f"call log has service monitoring with operation names (missing: {sorted(wanted - got)})")
    wanted = {"RegisterScalableTarget", "DescribeScalableTargets", "DeregisterScalableTarget",
              "TagResource", "UntagResource", "ListTagsForResource"}
    got = ops.get("application-autoscaling", set())
    check(wanted <= got,
          f"call log has service application-autoscaling with operation names (missing: {sorted(wanted - got)})")


# ---- Route 53 and ACM (the launcher's route53_* and acm_* patches) --------------
    wanted = {"CreateHostedZone", "ListHostedZonesByName", "ChangeResourceRecordSets", "ListResourceRecordSets",
              "DeleteHostedZone"}
    got = ops.get("route53", set())
    check(wanted <= got, f"call log has service route53 with operation names (missing: {sorted(wanted - got)})")


def dns_client(service: str, endpoint: str, account: str, region: str = REGION):  # type: ignore[no-untyped-def]
    c = boto3.client(
        service, region_name=region, endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )

    def add_account(request, **_):  # type: ignore[no-untyped-def]
        request.headers["x-moto-account-id"] = account

    c.meta.events.register(f"before-sign.{c.meta.service_model.service_id.hyphenize()}.*", add_account)
    return c


def _cname(action: str, name: str, value: str, ttl: int = 300) -> dict:
    return {"Action": action, "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": ttl,
                                                    "ResourceRecords": [{"Value": value}]}}


def test_route53(endpoint: str, account: str) -> None:
    r53 = dns_client("route53", endpoint, account)
    name = f"selftest-{account}.example.org"
    ref = f"hms-selftest-{account}"
    zone = r53.create_hosted_zone(Name=name, CallerReference=ref)["HostedZone"]["Id"]
    expect_error(lambda: r53.create_hosted_zone(Name=name, CallerReference=ref), "HostedZoneAlreadyExists", 409,
                 "Route 53: CreateHostedZone repeating a CallerReference")
    zones = [z for z in r53.list_hosted_zones_by_name(DNSName=name)["HostedZones"] if z["Name"] == name + "."]
    check(len(zones) == 1, f"Route 53: the repeated CallerReference made no second zone ({len(zones)} zones)")

    rec = f"_v.{name}"
    batch = lambda *changes: r53.change_resource_record_sets(  # noqa: E731
        HostedZoneId=zone, ChangeBatch={"Changes": list(changes)})
    batch(_cname("CREATE", rec, "a.example.net."))
    expect_error(lambda: batch(_cname("CREATE", rec, "b.example.net.")), "InvalidChangeBatch", 400,
                 "Route 53: CREATE of a record set that exists (other value)")
    expect_error(lambda: batch(_cname("CREATE", rec, "a.example.net.")), "InvalidChangeBatch", 400,
                 "Route 53: CREATE of a record set that exists (same value)")
    sets = [s for s in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            if s["Type"] == "CNAME"]
    check([s["ResourceRecords"] for s in sets] == [[{"Value": "a.example.net."}]],
          f"Route 53: one CNAME record set, unchanged ({sets})")
    expect_error(lambda: batch(_cname("CREATE", f"new.{name}", "c.example.net."),
                               _cname("CREATE", rec, "b.example.net.")), "InvalidChangeBatch", 400,
                 "Route 53: a batch with one bad CREATE")
    sets = [s["Name"] for s in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]]
    check(f"new.{name}." not in sets, "Route 53: a refused batch changes nothing (all or nothing)")
    expect_error(lambda: batch(_cname("DELETE", rec, "b.example.net.")), "InvalidChangeBatch", 400,
                 "Route 53: DELETE with values that are not the current ones")
    batch(_cname("DELETE", rec, "a.example.net."))
    expect_error(lambda: batch(_cname("DELETE", rec, "a.example.net.")), "InvalidChangeBatch", 400,
                 "Route 53: DELETE of a record set that is not there")
    batch(_cname("UPSERT", rec, "d.example.net."), _cname("UPSERT", rec, "e.example.net."))
    batch(_cname("DELETE", rec, "e.example.net."))
    r53.delete_hosted_zone(Id=zone)
    expect_error(lambda: r53.create_hosted_zone(Name=name, CallerReference=ref), "HostedZoneAlreadyExists", 409,
                 "Route 53: the CallerReference of a deleted zone stays used")
    fresh = r53.create_hosted_zone(Name=name, CallerReference=ref + "-2")["HostedZone"]["Id"]
    r53.delete_hosted_zone(Id=fresh)


def test_acm(endpoint: str, account: str) -> None:
    acm = dns_client("acm", endpoint, account)
    ec2 = dns_client("ec2", endpoint, account)
    elb = dns_client("elbv2", endpoint, account)
    domain = f"selftest-{account}.example.org"
    cert = acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    other = acm.request_certificate(DomainName=f"www.{domain}", ValidationMethod="DNS")["CertificateArn"]
    in_use = lambda arn, c=acm: c.describe_certificate(CertificateArn=arn)["Certificate"]["InUseBy"]  # noqa: E731
    check(in_use(cert) == [], "ACM: a new certificate is used by nothing")

    vpc = ec2.create_vpc(CidrBlock="10.44.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.44.{i + 1}.0/24", AvailabilityZone=f"{REGION}{az}")
               ["Subnet"]["SubnetId"] for i, az in enumerate("ab")]
    lb = elb.create_load_balancer(Name=f"selftest-{account}"[:32], Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elb.create_target_group(Name=f"tg-{account}", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
        "TargetGroupArn"]
    listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": cert}],
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0][
        "ListenerArn"]
    check(in_use(cert) == [lb], f"ACM: InUseBy names the load balancer of the HTTPS listener ({in_use(cert)})")
    listed = {c["CertificateArn"]: c.get("InUse") for c in acm.list_certificates()["CertificateSummaryList"]}
    check(listed.get(cert) is True and listed.get(other) is False, "ACM: ListCertificates InUse")
    expect_error(lambda: acm.delete_certificate(CertificateArn=cert), "ResourceInUseException", 400,
                 "ACM: DeleteCertificate of a certificate in use")
    check(acm.describe_certificate(CertificateArn=cert)["Certificate"]["CertificateArn"] == cert,
          "ACM: a refused delete deletes nothing")
    elb.modify_listener(ListenerArn=listener, Certificates=[{"CertificateArn": other}])
    check(in_use(cert) == [] and in_use(other) == [lb], "ACM: ModifyListener moves InUseBy to the new certificate")
    acm.delete_certificate(CertificateArn=cert)
    elb.delete_listener(ListenerArn=listener)
    check(in_use(other) == [], "ACM: a deleted listener uses nothing")
    acm.delete_certificate(CertificateArn=other)
    elb.delete_load_balancer(LoadBalancerArn=lb)

    # CloudFront takes us-east-1 certificates.
    acm1 = dns_client("acm", endpoint, account, "us-east-1")
    cf = dns_client("cloudfront", endpoint, account, "us-east-1")
    cdn = acm1.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    config = {
        "CallerReference": f"selftest-{account}", "Comment": "", "Enabled": True, "Aliases": {"Quantity": 1, "Items": [domain]},
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "origin.example.org",
                                              "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443,
                                                                     "OriginProtocolPolicy": "https-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        "ViewerCertificate": {"ACMCertificateArn": cdn, "SSLSupportMethod": "sni-only",
                              "MinimumProtocolVersion": "TLSv1.2_2021"},
    }
    dist = cf.create_distribution(DistributionConfig=config)["Distribution"]
    check(in_use(cdn, acm1) == [dist["ARN"]], f"ACM: InUseBy names the CloudFront distribution ({in_use(cdn, acm1)})")
    expect_error(lambda: acm1.delete_certificate(CertificateArn=cdn), "ResourceInUseException", 400,
                 "ACM: DeleteCertificate of a certificate a distribution uses")
    etag = cf.get_distribution_config(Id=dist["Id"])["ETag"]
    config["Enabled"] = False
    config["ViewerCertificate"] = {"CloudFrontDefaultCertificate": True}
    etag = cf.update_distribution(Id=dist["Id"], IfMatch=etag, DistributionConfig=config)["ETag"]
    check(in_use(cdn, acm1) == [], "ACM: a distribution moved off the certificate uses it no more")
    cf.delete_distribution(Id=dist["Id"], IfMatch=etag)
    acm1.delete_certificate(CertificateArn=cdn)

    # A repeated idempotency token is the same request, also once its certificate is deleted.
    token = f"t{account}"
    first = acm.request_certificate(DomainName=domain, ValidationMethod="DNS", IdempotencyToken=token)["CertificateArn"]
    again = acm.request_certificate(DomainName=domain, ValidationMethod="DNS", IdempotencyToken=token)["CertificateArn"]
    check(first == again, "ACM: a repeated IdempotencyToken answers with the same certificate")
    acm.delete_certificate(CertificateArn=first)
    after = acm.request_certificate(DomainName=domain, ValidationMethod="DNS", IdempotencyToken=token)["CertificateArn"]
    check(after == first, "ACM: the token of a deleted certificate answers with its ARN (no HTTP 500)")
    expect_error(lambda: acm.describe_certificate(CertificateArn=after), "ResourceNotFoundException", 400,
                 "ACM: that ARN describes as deleted")


def test_acm_validation_wait(endpoint: str, account: str) -> None:
    """The launcher sets MOTO_ACM_VALIDATION_WAIT low (3 s unless told otherwise), so waits end in tests."""
    acm = dns_client("acm", endpoint, account)
    arn = acm.request_certificate(DomainName=f"wait-{account}.example.org", ValidationMethod="DNS")["CertificateArn"]
    start = time.monotonic()
    status = ""
    while time.monotonic() - start < 30:
        status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
        if status == "ISSUED":
            break
        time.sleep(0.5)
    check(status == "ISSUED", f"ACM: a DNS-validated certificate is issued within 30 s ({status} after "
                              f"{time.monotonic() - start:.1f}s; MOTO_ACM_VALIDATION_WAIT)")
    acm.delete_certificate(CertificateArn=arn)


def test_route53_reset(endpoint: str, account: str) -> None:
    """POST /moto-api/reset forgets the CallerReferences used (a stateful patch's store)."""
    r53 = dns_client("route53", endpoint, account)
    ref = f"hms-selftest-reset-{account}"
    zone = r53.create_hosted_zone(Name=f"reset-{account}.example.org", CallerReference=ref)["HostedZone"]["Id"]
    r53.delete_hosted_zone(Id=zone)
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
    try:
        zone = r53.create_hosted_zone(Name=f"reset-{account}.example.org", CallerReference=ref)["HostedZone"]["Id"]
        check(True, "after the reset: a CallerReference used before is free again")
        r53.delete_hosted_zone(Id=zone)
    except ClientError as err:
        check(False, f"after the reset: a CallerReference used before is free again ({err})")


def test_acm_key_algorithm(endpoint: str, account: str) -> None:
    acm = dns_client("acm", endpoint, account)
    domain = f"ec-{account}.example.org"
    ec_arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS", KeyAlgorithm="EC_prime256v1",
                                     SubjectAlternativeNames=[f"www.{domain}"])["CertificateArn"]
    rsa_arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    got = acm.describe_certificate(CertificateArn=ec_arn)["Certificate"]
    check(got["KeyAlgorithm"] == "EC_prime256v1" and sorted(got["SubjectAlternativeNames"]) == [domain, f"www.{domain}"],
          f"ACM: RequestCertificate KeyAlgorithm EC_prime256v1 ({got['KeyAlgorithm']})")
    check(acm.describe_certificate(CertificateArn=rsa_arn)["Certificate"]["KeyAlgorithm"] == "RSA_2048",
          "ACM: RSA_2048 by default")
    listed = [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]]
    check(rsa_arn in listed and ec_arn not in listed, "ACM: ListCertificates lists RSA_2048 only by default")
    listed = [c["CertificateArn"] for c in acm.list_certificates(
        Includes={"keyTypes": ["RSA_2048", "EC_prime256v1"]})["CertificateSummaryList"]]
    check(rsa_arn in listed and ec_arn in listed, "ACM: ListCertificates with Includes.keyTypes lists EC keys")
    expect_error(lambda: acm.request_certificate(DomainName=domain, ValidationMethod="DNS", KeyAlgorithm="RSA_1024"),
                 "ValidationException", 400, "ACM: RequestCertificate with KeyAlgorithm RSA_1024")
    for arn in (ec_arn, rsa_arn):
        acm.delete_certificate(CertificateArn=arn)


def _cf_config(ref: str, cert: str, enabled: bool = True) -> dict:
    return {
        "CallerReference": ref, "Comment": "selftest", "Enabled": enabled,
        "Aliases": {"Quantity": 1, "Items": [f"{ref}.example.org"]},
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "static", "DomainName": "b.s3.us-east-1.amazonaws.com", "OriginAccessControlId": "OAC1",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "static", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                                 "ResponseHeadersPolicyId": "RHP1"},
        "ViewerCertificate": {"ACMCertificateArn": cert, "SSLSupportMethod": "sni-only",
                              "MinimumProtocolVersion": "TLSv1.2_2021"},
        "HttpVersion": "http2and3",
    }


def test_cloudfront(endpoint: str, account: str) -> None:
    cf = dns_client("cloudfront", endpoint, account)
    cert = f"arn:aws:acm:us-east-1:{account}:certificate/selftest"
    made = cf.create_distribution(DistributionConfig=_cf_config(f"st{account}", cert))
    dist_id, etag = made["Distribution"]["Id"], made["ETag"]
    got = cf.get_distribution_config(Id=dist_id)
    cfg = got["DistributionConfig"]
    origin = cfg["Origins"]["Items"][0]
    check(origin.get("OriginAccessControlId") == "OAC1" and "S3OriginConfig" in origin,
          "CloudFront: an origin keeps S3OriginConfig and OriginAccessControlId")
    check(cfg["DefaultCacheBehavior"].get("ResponseHeadersPolicyId") == "RHP1"
          and cfg["HttpVersion"] == "http2and3", "CloudFront: behaviours keep their policy ids, HttpVersion http2and3")
    viewer = cfg["ViewerCertificate"]
    check(viewer.get("CloudFrontDefaultCertificate") is False and viewer["MinimumProtocolVersion"] == "TLSv1.2_2021",
          f"CloudFront: an ACM viewer certificate is not the default one and keeps its TLS policy ({viewer})")
    expect_error(lambda: cf.update_distribution(Id=dist_id, IfMatch="stale", DistributionConfig=cfg),
                 "PreconditionFailed", 412, "CloudFront: UpdateDistribution with a stale If-Match")
    cfg["Enabled"] = False
    updated = cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=cfg)
    check(updated["ETag"] != etag and updated["Distribution"]["Status"] == "InProgress",
          "CloudFront: an update gives a new ETag and is InProgress")
    cfg["Enabled"] = True
    again = cf.update_distribution(Id=dist_id, IfMatch=updated["ETag"], DistributionConfig=cfg)
    expect_error(lambda: cf.delete_distribution(Id=dist_id, IfMatch=again["ETag"]),
                 "DistributionNotDisabled", 409, "CloudFront: DeleteDistribution of an enabled distribution")
    cfg["Enabled"] = False
    off = cf.update_distribution(Id=dist_id, IfMatch=again["ETag"], DistributionConfig=cfg)
    cf.delete_distribution(Id=dist_id, IfMatch=off["ETag"])

    rhp_cfg = {"Name": f"st-{account}", "SecurityHeadersConfig": {
        "FrameOptions": {"Override": True, "FrameOption": "DENY"}}}
    made = cf.create_response_headers_policy(ResponseHeadersPolicyConfig=rhp_cfg)
    pid, petag = made["ResponseHeadersPolicy"]["Id"], made["ETag"]
    expect_error(lambda: cf.create_response_headers_policy(ResponseHeadersPolicyConfig=rhp_cfg),
                 "ResponseHeadersPolicyAlreadyExists", 409, "CloudFront: a second policy with the same name")
    listed = cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]["Items"]
    check(any(p["ResponseHeadersPolicy"]["Id"] == pid for p in listed), "CloudFront: ListResponseHeadersPolicies")
    got = cf.get_response_headers_policy(Id=pid)
    frame = got["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["FrameOptions"]
    check(frame["FrameOption"] == "DENY" and got["ETag"] == petag, "CloudFront: GetResponseHeadersPolicy")
    expect_error(lambda: cf.update_response_headers_policy(Id=pid, IfMatch="stale", ResponseHeadersPolicyConfig=rhp_cfg),
                 "PreconditionFailed", 412, "CloudFront: UpdateResponseHeadersPolicy with a stale If-Match")
    new = cf.update_response_headers_policy(Id=pid, IfMatch=petag, ResponseHeadersPolicyConfig=rhp_cfg)
    check(new["ETag"] != petag, "CloudFront: an updated policy has a new ETag")
    cf.delete_response_headers_policy(Id=pid, IfMatch=new["ETag"])
    expect_error(lambda: cf.get_response_headers_policy(Id=pid), "NoSuchResponseHeadersPolicy", 404,
                 "CloudFront: a deleted policy is gone")

    oac = cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": f"st-{account}", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]
    got = cf.get_origin_access_control_config(Id=oac["Id"])
    check(got["OriginAccessControlConfig"]["SigningBehavior"] == "always" and got.get("ETag"),
          "CloudFront: GetOriginAccessControlConfig")
    cf.delete_origin_access_control(Id=oac["Id"], IfMatch=got["ETag"])



def test_logs_kms_key(endpoint: str, account: str) -> None:
    """AssociateKmsKey and DisassociateKmsKey set and clear the key DescribeLogGroups returns."""
    logs = aws_client("logs", endpoint, account)
    key = aws_client("kms", endpoint, account).create_key()["KeyMetadata"]["Arn"]
    name = "/hms-selftest/kms"
    logs.create_log_group(logGroupName=name)

    def kms() -> str | None:
        return [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                if g["logGroupName"] == name][0].get("kmsKeyId")

    check(kms() is None, "Logs: a group made without a key has none")
    logs.associate_kms_key(logGroupName=name, kmsKeyId=key)
    check(kms() == key, "Logs: AssociateKmsKey sets the key DescribeLogGroups returns")
    logs.disassociate_kms_key(logGroupName=name)
    check(kms() is None, "Logs: DisassociateKmsKey clears it")
    expect_error(lambda: logs.associate_kms_key(logGroupName="/hms-selftest/none", kmsKeyId=key),
                 "ResourceNotFoundException", 400, "AssociateKmsKey of an unknown group")
    logs.delete_log_group(logGroupName=name)


def test_ec2_network_acls(endpoint: str, account: str) -> None:
    """A new ACL has AWS's final deny rules; a deleted subnet leaves no association behind."""
    ec2 = aws_client("ec2", endpoint, account)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]

    def described() -> dict:
        return ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]

    finals = sorted((e["RuleNumber"], e["Egress"], e["RuleAction"]) for e in described()["Entries"])
    check(finals == [(32767, False, "deny"), (32767, True, "deny")],
          f"CreateNetworkAcl: the final deny rules in and out ({finals})")
    current = [a for n in ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["NetworkAcls"]
        for a in n["Associations"] if a["SubnetId"] == subnet][0]["NetworkAclAssociationId"]
    ec2.replace_network_acl_association(AssociationId=current, NetworkAclId=acl)
    check([a["SubnetId"] for a in described()["Associations"]] == [subnet],
          "ReplaceNetworkAclAssociation: the subnet is the new ACL's")
    ec2.delete_subnet(SubnetId=subnet)
    check(described()["Associations"] == [], "DeleteSubnet: its ACL association is gone")
    ec2.delete_network_acl(NetworkAclId=acl)
    ec2.delete_vpc(VpcId=vpc)


def test_s3_object_lock(endpoint: str, account: str) -> None:
    """Object Lock turns on for a versioned bucket that already holds objects; a locked version needs the bypass."""
    s3 = aws_client("s3", endpoint, account)
    name = f"hms-selftest-lock-{account}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=name, Key="before", Body=b"x")
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}})
    got = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    check(got.get("ObjectLockEnabled") == "Enabled"
          and {k: v for k, v in got.get("Rule", {}).get("DefaultRetention", {}).items() if v}
          == {"Mode": "GOVERNANCE", "Days": 30},
          f"PutObjectLockConfiguration on a bucket holding objects ({got})")
    version = s3.put_object(Bucket=name, Key="after", Body=b"y")["VersionId"]
    expect_error(lambda: s3.delete_object(Bucket=name, Key="after", VersionId=version),
                 "AccessDenied", 403, "deleting a version under governance retention without the bypass")
    s3.delete_object(Bucket=name, Key="after", VersionId=version, BypassGovernanceRetention=True)
    for v in s3.list_object_versions(Bucket=name).get("Versions", []):
        s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"], BypassGovernanceRetention=True)
    s3.delete_bucket(Bucket=name)


def test_s3_create_bucket_tags(endpoint: str, account: str) -> None:
    """CreateBucket's CreateBucketConfiguration Tags are the bucket's tags at once."""
    s3 = aws_client("s3", endpoint, account)
    name = f"hms-selftest-tagged-{account}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={
        "LocationConstraint": REGION,
        "Tags": [{"Key": "hms:stack", "Value": "selftest"}, {"Key": "team", "Value": "hms"}]})
    got = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
    check(got == {"hms:stack": "selftest", "team": "hms"}, f"CreateBucket with Tags: tagged at once ({got})")
    s3.delete_bucket(Bucket=name)


def test_s3_notification_empty(endpoint: str, account: str) -> None:
    """A bucket without notifications answers an empty NotificationConfiguration, as S3 does."""
    import urllib.request
    s3 = aws_client("s3", endpoint, account)
    name = f"hms-selftest-notify-{account}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    body = urllib.request.urlopen(f"{endpoint}/{name}?notification", timeout=10).read().decode()
    check("<NotificationConfiguration" in body and "GetBucketNotificationResponse" not in body,
          f"GetBucketNotificationConfiguration of a bucket with none: <NotificationConfiguration/> ({body[:120]!r})")
    s3.delete_bucket(Bucket=name)


def test_ecs_update_cluster_settings(endpoint: str, account: str) -> None:
    """UpdateClusterSettings sets a cluster's settings (Container Insights) and answers the cluster."""
    ecs = aws_client("ecs", endpoint, account)
    name = f"hms-selftest-settings-{account}"
    ecs.create_cluster(clusterName=name)
    got = ecs.update_cluster_settings(cluster=name, settings=[{"name": "containerInsights", "value": "enabled"}])
    check(got["cluster"]["clusterName"] == name, "UpdateClusterSettings answers the cluster")
    settings = ecs.describe_clusters(clusters=[name], include=["SETTINGS"])["clusters"][0].get("settings", [])
    check({"name": "containerInsights", "value": "enabled"} in settings,
          f"UpdateClusterSettings: DescribeClusters reports containerInsights enabled ({settings})")
    ecs.delete_cluster(cluster=name)


def test_s3_logging_policy(endpoint: str, account: str) -> None:
    """PutBucketLogging to an ACL-less target bucket whose policy lets the logging service write a prefix."""
    s3 = aws_client("s3", endpoint, account)
    source, target = f"hms-selftest-logged-{account}", f"hms-selftest-logs-{account}"
    for name in (source, target):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_ownership_controls(Bucket=target, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    status = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": f"s3/{source}/"}}
    expect_error(lambda: s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=status),
                 "InvalidTargetBucketForLogging", 400, "PutBucketLogging without the target's permission")
    s3.put_bucket_policy(Bucket=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "S3ServerAccessLogs", "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": [f"arn:aws:s3:::{target}/s3/*"],
        "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]}))
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=status)
    got = s3.get_bucket_logging(Bucket=source).get("LoggingEnabled", {})
    check(got == status["LoggingEnabled"], f"PutBucketLogging allowed by the target's policy on s3/* ({got})")
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    check("LoggingEnabled" not in s3.get_bucket_logging(Bucket=source), "PutBucketLogging off")
    for name in (target, source):
        for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=o["Key"])
        s3.delete_bucket(Bucket=name)


def test_s3_replication_rules(endpoint: str, account: str) -> None:
    """GetBucketReplication returns a rule's delete-marker replication, filter and SSE-KMS selection."""
    s3 = aws_client("s3", endpoint, account)
    name = f"hms-selftest-replicated-{account}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    key = f"arn:aws:kms:us-west-2:{account}:key/replica"
    rule = {
        "ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
        "Destination": {"Bucket": f"arn:aws:s3:::{name}-replica",
                        "EncryptionConfiguration": {"ReplicaKmsKeyID": key}},
    }
    s3.put_bucket_replication(Bucket=name, ReplicationConfiguration={
        "Role": f"arn:aws:iam::{account}:role/replication", "Rules": [rule]})
    got = s3.get_bucket_replication(Bucket=name)["ReplicationConfiguration"]["Rules"][0]
    check(got.get("DeleteMarkerReplication") == {"Status": "Enabled"}
          and got.get("SourceSelectionCriteria") == rule["SourceSelectionCriteria"]
          and got.get("Destination", {}).get("EncryptionConfiguration") == {"ReplicaKmsKeyID": key},
          f"GetBucketReplication: the rule as put ({got})")
    s3.delete_bucket_replication(Bucket=name)
    expect_error(lambda: s3.get_bucket_replication(Bucket=name),
                 "ReplicationConfigurationNotFoundError", 404, "GetBucketReplication after its deletion")
    s3.delete_bucket(Bucket=name)


def test_iam_enforcement(endpoint: str, account: str) -> None:
    """With IAM enforcement on, CloudWatch (signed `monitoring`) and the tagging API (signed `tagging`)
    are checked as `cloudwatch:` and `tag:` actions (patches/iam_signing_names.py), and the launcher's own
    routes (the CBOR bridge, X-Ray, RDS reserved instances) against the same policies, refusals naming the
    action (patches/iam_routes.py). Turns enforcement on for a moment: only with --check-reset (an
    emulator of one's own)."""
    iam = aws_client("iam", endpoint, account)
    user = f"selftest-signing-{random.randint(0, 10**6)}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*",
                       "Action": ["cloudwatch:DescribeAlarms", "tag:GetResources",
                                  "xray:GetSamplingRules", "s3:ListBucket",
                                  "s3:PutEncryptionConfiguration"]},
                      # A role granted by its ARN (patches/iam_role_resource.py).
                      {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:GetRole"],
                       "Resource": f"arn:aws:iam::{account}:role/{user}-ok*"},
                      # A condition on tags, which the emulator does not evaluate (patches/iam_conditions.py).
                      {"Effect": "Allow", "Action": ["ec2:DescribeSubnets"],
                       "Resource": f"arn:aws:ec2:{REGION}:{account}:subnet/*",
                       "Condition": {"StringEquals": {"aws:ResourceTag/hms:stack": "selftest"}}},
                      # An Allow whose condition fails does not apply; it refuses nothing granted elsewhere.
                      {"Effect": "Allow", "Action": ["tag:GetResources"], "Resource": "*",
                       "Condition": {"StringEquals": {"sts:ExternalId": "not-this-request"}}}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]

    def as_user(service: str):  # type: ignore[no-untyped-def]
        c = boto3.client(
            service, region_name=REGION, endpoint_url=endpoint,
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}))
        c.meta.events.register(f"before-sign.{c.meta.service_model.service_id.hyphenize()}.*",
                               lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        return c

    def reset_auth(value: str) -> None:
        urllib.request.urlopen(urllib.request.Request(
            f"{endpoint}/moto-api/reset-auth", data=value.encode(), method="POST",
            headers={"Content-Type": "text/plain"}), timeout=10).read()

    cw, tagging = as_user("cloudwatch"), as_user("resourcegroupstaggingapi")
    xr, rds, ec2, kms = as_user("xray"), as_user("rds"), as_user("ec2"), as_user("kms")
    iam_user = as_user("iam")
    cloudfront = boto3.client(
        "cloudfront", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}, parameter_validation=False))
    cloudfront.meta.events.register("before-sign.cloudfront.*", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", account))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    cbor = cloudwatch_client(endpoint, account, [], (key["AccessKeyId"], key["SecretAccessKey"]))
    s3, bucket = as_user("s3"), f"selftest-iam-{random.randint(0, 10**6)}"
    aws_client("s3", endpoint, account).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    sse = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    reset_auth("0")
    try:
        for name, call in [("cloudwatch:DescribeAlarms", lambda: cw.describe_alarms()),
                           ("tag:GetResources", lambda: tagging.get_resources()),
                           ("cloudwatch:DescribeAlarms (CBOR bridge)", lambda: cbor.describe_alarms()),
                           ("xray:GetSamplingRules (launcher's X-Ray)", lambda: xr.get_sampling_rules()),
                           ("s3:ListBucket (HeadBucket, patches/s3_iam_actions.py)",
                            lambda: s3.head_bucket(Bucket=bucket)),
                           ("s3:PutEncryptionConfiguration (PutBucketEncryption)",
                            lambda: s3.put_bucket_encryption(
                                Bucket=bucket, ServerSideEncryptionConfiguration=sse)),
                           ("iam:CreateRole of a role not made yet, granted by its ARN",
                            lambda: iam_user.create_role(RoleName=f"{user}-ok-1",
                                                         AssumeRolePolicyDocument=trust)),
                           ("ec2:DescribeSubnets scoped to ARNs and a tag condition (neither evaluated)",
                            lambda: ec2.describe_subnets()),
                           ("iam:GetRole of that role, granted by its ARN",
                            lambda: iam_user.get_role(RoleName=f"{user}-ok-1"))]:
            try:
                call()
                check(True, f"iam enforcement: {name} allowed by its IAM name")
            except ClientError as e:
                check(False, f"iam enforcement: {name} allowed by its IAM name ({e})")
        for name, call in [("cloudwatch:ListDashboards", lambda: cw.list_dashboards()),
                           ("cloudwatch:ListDashboards", lambda: cbor.list_dashboards()),
                           ("xray:GetGroups", lambda: xr.get_groups()),
                           ("rds:DescribeReservedDBInstancesOfferings",
                            lambda: rds.describe_reserved_db_instances_offerings()),
                           ("ec2:DescribeVpcs", lambda: ec2.describe_vpcs()),
                           ("kms:ListKeys", lambda: kms.list_keys()),
                           # Checked by its IAM action (patches/iam_signing_names.py), refused before
                           # the (minimal) configuration is read.
                           ("cloudfront:CreateDistribution", lambda: cloudfront.create_distribution_with_tags(
                               DistributionConfigWithTags={
                                   "DistributionConfig": {
                                       "CallerReference": user, "Comment": "", "Enabled": False,
                                       "Origins": {"Quantity": 0, "Items": []},
                                       "DefaultCacheBehavior": {"TargetOriginId": "x",
                                                                "ViewerProtocolPolicy": "allow-all"}},
                                   "Tags": {"Items": [{"Key": "hms:stack", "Value": "selftest"}]}})),
                           ("iam:CreateRole", lambda: iam_user.create_role(
                               RoleName=f"{user}-other", AssumeRolePolicyDocument=trust)),
                           ("s3:PutBucketOwnershipControls", lambda: s3.put_bucket_ownership_controls(
                               Bucket=bucket, OwnershipControls={"Rules": [
                                   {"ObjectOwnership": "BucketOwnerEnforced"}]}))]:
            try:
                call()
                check(False, f"iam enforcement: {name} (not granted) is refused")
            except ClientError as e:
                msg = e.response["Error"].get("Message", "")
                # In each protocol's own shape (patches/iam_errors.py), so that the SDKs read the code.
                code = e.response["Error"].get("Code", "")
                check(code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
                      and name in msg,
                      f"iam enforcement: {name} (not granted) refused as {code} naming it ({msg[-100:]!r})")
    finally:
        reset_auth("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="emulator URL, e.g. http://127.0.0.1:5299")
    parser.add_argument("--call-log", help="the emulator's call log, to check X-Ray, CloudWatch and "
                        "Application Auto Scaling calls are logged")
    parser.add_argument("--check-reset", action="store_true",
                        help="also check POST /moto-api/reset (resets the whole emulator: only on one of your own)")
    args = parser.parse_args()

    since = time.time() - 1
    account = "".join(random.choice("123456789") for _ in range(12))
    print(f"account {account}, region {REGION}")
    xray = client(args.endpoint, account)
    raw = client(args.endpoint, account, validate=False)  # to reach the emulator's own validation
    test_sampling_rules(xray, raw, account)
    test_groups(xray, account)
    test_isolation(args.endpoint, account)
    test_cloudwatch_cbor(args.endpoint, account)
    test_autoscaling_tags(args.endpoint, account)
    test_s3(args.endpoint, account)
    test_elasticache_parameter_groups(args.endpoint, account)
    test_elasticache_subnet_groups(args.endpoint, account)
    test_elasticache_replication_group(args.endpoint, account)
    test_elasticache_modify(args.endpoint, account)
    test_elasticache_replica_count(args.endpoint, account)
    test_elasticache_deletion(args.endpoint, account)
    test_secretsmanager_version_stage(args.endpoint, account)
    test_logs_kms_key(args.endpoint, account)
    test_ec2_network_acls(args.endpoint, account)
    test_s3_object_lock(args.endpoint, account)
    test_s3_create_bucket_tags(args.endpoint, account)
    test_s3_notification_empty(args.endpoint, account)
    test_s3_logging_policy(args.endpoint, account)
    test_ecs_update_cluster_settings(args.endpoint, account)
    test_s3_replication_rules(args.endpoint, account)
    test_route53(args.endpoint, account)
    test_acm(args.endpoint, account)
    test_acm_validation_wait(args.endpoint, account)
    test_acm_key_algorithm(args.endpoint, account)
    test_cloudfront(args.endpoint, account)
    test_latency(args.endpoint, account)
    if args.call_log:
        test_call_log(args.call_log, since)
    if args.check_reset:
        test_iam_enforcement(args.endpoint, account)
        test_reset(args.endpoint, account)
        test_route53_reset(args.endpoint, account)

    print(f"{len(FAILURES)} failure(s)" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
