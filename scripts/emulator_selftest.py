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
names. With ``--check-reset`` it last checks that ``POST /moto-api/reset`` also
empties the launcher's own stores (X-Ray, RDS reservations, autoscaling tags):
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


def cloudwatch_client(endpoint: str, account: str, wire: list):  # type: ignore[no-untyped-def]
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
        aws_access_key_id="testing", aws_secret_access_key="testing",
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

    req = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        check(resp.status == 200, "POST /moto-api/reset: 200")

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


def test_call_log(path: str, since: float) -> None:
    ops: dict[str, set] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("t", 0) >= since:
                ops.setdefault(rec.get("service"), set()).add(rec.get("operation"))
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
    if args.call_log:
        test_call_log(args.call_log, since)
    if args.check_reset:
        test_reset(args.endpoint, account)

    print(f"{len(FAILURES)} failure(s)" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
