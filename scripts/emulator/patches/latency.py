# ---- Patch: AWS's waits (HMS_EMULATOR_LATENCY) ---------------------------------
#
# moto gap: every resource is ready at once. A NAT gateway is `available` when
# CreateNatGateway answers, an RDS instance `available` with its endpoint, an
# ALB `active` on the first describe, an ECS deployment COMPLETED, a replication
# group `available`, a CloudFront distribution Deployed after one read, and an
# ACM certificate ISSUED after MOTO_ACM_VALIDATION_WAIT seconds; a deleted NAT
# gateway is `deleted` and a deleted DB instance gone at once. So no test ever
# sees a tool wait, time out or resume a wait.
#
# With a latency scale > 0 (HMS_EMULATOR_LATENCY=SCALE at start, or
# POST /hms-api/latency at run time), each resource below stays in its
# transitional state for SCALE × the typical AWS duration in TYPICAL, measured on
# the monotonic clock from the call that started the transition, per resource:
#
#   NAT gateway       `pending` after CreateNatGateway, `deleting` after
#                     DeleteNatGateway (then `deleted`);
#   DB instance       `creating` with no Endpoint; `modifying` after a
#                     ModifyDBInstance with ApplyImmediately (unless it only
#                     changes deletion protection, which applies at once);
#                     `deleting` (still described, still holding its
#                     identifier; then gone: DBInstanceNotFound);
#   load balancer     State.Code `provisioning`, then `active`;
#   ECS deployment    CreateService, and UpdateService with another task
#                     definition or forceNewDeployment, start a PRIMARY
#                     deployment IN_PROGRESS (rolloutState IN_PROGRESS,
#                     runningCount 0, pendingCount = desired; the deployments it
#                     replaces stay ACTIVE with their tasks, and the service's
#                     runningCount is theirs); then it is COMPLETED with the
#                     desired count running and the old ones are gone.
#                     UpdateService to desiredCount 0 ends a rollout (draining);
#   replication group `creating` with no endpoints (no PrimaryEndpoint,
#                     ReaderEndpoint or ConfigurationEndpoint), `modifying` after
#                     every ModifyReplicationGroup (120 s: AWS takes 1-3 minutes
#                     for a security-group, parameter-group or AUTH change);
#                     ModifyReplicationGroup, Increase/DecreaseReplicaCount and
#                     DeleteReplicationGroup of a group in either state are
#                     InvalidReplicationGroupState, as on AWS;
#   distribution      Status `InProgress` after CreateDistribution and
#                     UpdateDistribution, then `Deployed`;
#   certificate       an AMAZON_ISSUED (requested) certificate
#                     PENDING_VALIDATION, then ISSUED; this replaces
#                     MOTO_ACM_VALIDATION_WAIT for certificates requested while
#                     the scale is > 0.
#
# The scale in force when a transition starts decides its length: changing the
# scale later does not shorten or lengthen a transition under way. Scale 0 (the
# default) leaves moto's behaviour exactly as it is.
#
# Run-time control (the launcher's own API; not AWS, not in the call log):
#   GET  /hms-api/latency   {"scale": S, "accounts": {ACCOUNT: S, ...}, "typical_seconds": TYPICAL}
#   POST /hms-api/latency   {"scale": S}: the scale for every account;
#                           {"scale": S, "account": "123456789012"}: for one account only (what the
#                           self-test uses, so that it does not slow an emulator in use);
#                           {"scale": null, "account": A} drops that account's own scale.
#   A bad body is 400 with {"message": ...}. POST /moto-api/reset restores the
#   scale the launcher started with and forgets the accounts' own.

from __future__ import annotations

import json
import math
import os
import threading
import time
from typing import Any, Callable, Iterable, Optional

from ..context import PatchContext
from . import register

ENV = "HMS_EMULATOR_LATENCY"

# Typical AWS durations, in seconds, of each transitional state (× the scale).
TYPICAL: dict[str, float] = {
    "nat_gateway.pending": 90,
    "nat_gateway.deleting": 60,
    "db_instance.creating": 720,
    "db_instance.modifying": 60,
    "db_instance.deleting": 300,
    "load_balancer.provisioning": 150,
    "ecs.deployment": 180,
    "replication_group.creating": 600,
    "replication_group.modifying": 120,
    "distribution.in_progress": 300,
    "certificate.pending_validation": 120,
}


def parse_scale(text: Optional[str]) -> float:
    """The scale of `HMS_EMULATOR_LATENCY`'s value: a finite number >= 0; unset or empty is 0.
    Raises ValueError with one line naming the variable otherwise."""
    if text is None or text.strip() == "":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{ENV}={text!r} is not a number >= 0 (e.g. 0.05 for tests, 0.25 for the benchmark; "
                         f"0 or unset: off)")
    return value


class Latency:
    """The scale: one for every account, and accounts' own (set through /hms-api/latency)."""

    def __init__(self, scale: float):
        self.initial = scale
        self.scale = scale
        self.accounts: dict[str, float] = {}
        self.lock = threading.Lock()

    def of(self, account: Optional[str]) -> float:
        with self.lock:
            if account is not None and account in self.accounts:
                return self.accounts[account]
            return self.scale

    def deadline(self, kind: str, account: Optional[str]) -> Optional[float]:
        """When a transition of `kind` started now in `account` ends (monotonic), or None when off."""
        scale = self.of(account)
        if scale <= 0:
            return None
        return time.monotonic() + TYPICAL[kind] * scale

    def reset(self) -> None:
        with self.lock:
            self.scale = self.initial
            self.accounts.clear()

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {"scale": self.scale, "accounts": dict(self.accounts), "typical_seconds": TYPICAL}


LATENCY = Latency(0.0)


# ---- A transition on a model object -----------------------------------------------------------------
#
# obj.__dict__["hms_phase"] = (state, deadline): the object reports `state` until the monotonic clock
# passes `deadline`. The models' own attributes keep the final value.

def start(obj: Any, state: str, kind: str, account: Optional[str]) -> bool:
    """Puts `obj` in `state` for the length of `kind` in `account`; False (nothing done) when off."""
    until = LATENCY.deadline(kind, account)
    if until is None:
        return False
    obj.__dict__["hms_phase"] = (state, until)
    return True


def phase(obj: Any) -> Optional[str]:
    """The transitional state `obj` is in now, or None (never started, or over)."""
    current = obj.__dict__.get("hms_phase")
    if current is None:
        return None
    state, until = current
    if time.monotonic() < until:
        return state
    obj.__dict__.pop("hms_phase", None)
    return None


def stored(name: str, fallback: Callable[[Any], Any] | None = None) -> property:
    """A property over attribute `name` that reports the transitional state while there is one. Stores
    what the model assigns under `hms_<name>`, so that moto's code keeps working unchanged."""
    key = f"hms_{name}"

    def get(self):  # type: ignore[no-untyped-def]
        state = phase(self)
        if state is not None:
            return state
        return self.__dict__.get(key)

    def set_(self, value):  # type: ignore[no-untyped-def]
        self.__dict__[key] = value

    return property(get, set_)


# ---- Per service ----------------------------------------------------------------------------------------

def patch_nat_gateways() -> None:
    from moto.ec2.models import nat_gateways as m

    m.NatGateway.state = stored("state")  # type: ignore[assignment]
    B = m.NatGatewayBackend
    create, delete = B.create_nat_gateway, B.delete_nat_gateway

    def create_nat_gateway(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nat = create(self, *args, **kwargs)
        start(nat, "pending", "nat_gateway.pending", self.account_id)
        return nat

    def delete_nat_gateway(self, nat_gateway_id: str):  # type: ignore[no-untyped-def]
        nat = delete(self, nat_gateway_id)
        start(nat, "deleting", "nat_gateway.deleting", self.account_id)
        return nat

    B.create_nat_gateway = create_nat_gateway  # type: ignore[method-assign]
    B.delete_nat_gateway = delete_nat_gateway  # type: ignore[method-assign]


def patch_rds() -> None:
    from moto.rds import models as m
    from moto.rds.exceptions import RDSClientError

    I = m.DBInstance
    I.status = stored("status")  # type: ignore[assignment]
    endpoint = I.endpoint

    def endpoint_get(self):  # type: ignore[no-untyped-def]
        # No endpoint until the instance is created (AWS leaves Endpoint out while `creating`).
        if phase(self) == "creating":
            return None
        return endpoint.fget(self)

    I.endpoint = property(endpoint_get)  # type: ignore[assignment]

    B = m.RDSBackend
    create, modify, delete = B.create_db_instance, B.modify_db_instance, B.delete_db_instance
    describe = B.describe_db_instances

    def purge(backend) -> None:  # type: ignore[no-untyped-def]
        """Forgets the instances whose deletion is over."""
        for key, db in list(backend.databases.items()):
            if db.__dict__.get("hms_gone") and phase(db) is None:
                backend.databases.pop(key, None)

    def create_db_instance(self, db_kwargs):  # type: ignore[no-untyped-def]
        purge(self)
        db = create(self, db_kwargs)
        start(db, "creating", "db_instance.creating", self.account_id)
        return db

    def describe_db_instances(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        purge(self)
        return describe(self, *args, **kwargs)

    def modify_db_instance(self, db_instance_identifier, db_kwargs):  # type: ignore[no-untyped-def]
        purge(self)
        changes = {k for k, v in db_kwargs.items()
                   if v is not None and k not in ("db_instance_identifier", "apply_immediately",
                                                  "deletion_protection")}
        db = modify(self, db_instance_identifier, db_kwargs)
        if db_kwargs.get("apply_immediately") and changes and phase(db) is None:
            start(db, "modifying", "db_instance.modifying", self.account_id)
        return db

    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):  # type: ignore[no-untyped-def]
        purge(self)
        current = self.databases.get(db_instance_identifier)
        if current is not None and current.__dict__.get("hms_gone"):
            raise RDSClientError("InvalidDBInstanceState",
                                 f"Instance {db_instance_identifier} is already being deleted.")
        db = delete(self, db_instance_identifier, *args, **kwargs)
        if start(db, "deleting", "db_instance.deleting", self.account_id):
            # Still described (and its identifier taken) until the deletion is over.
            db.__dict__["hms_gone"] = True
            self.databases[db_instance_identifier] = db
        return db

    B.create_db_instance = create_db_instance  # type: ignore[method-assign]
    B.describe_db_instances = describe_db_instances  # type: ignore[method-assign]
    B.modify_db_instance = modify_db_instance  # type: ignore[method-assign]
    B.delete_db_instance = delete_db_instance  # type: ignore[method-assign]


def patch_elbv2() -> None:
    from moto.elbv2 import models as m

    L = m.FakeLoadBalancer
    activate = L.activate

    def activate_later(self) -> None:  # type: ignore[no-untyped-def]
        # moto makes a load balancer active on its first describe: not before its provisioning is over.
        if phase(self) is None:
            activate(self)

    L.activate = activate_later  # type: ignore[method-assign]
    B = m.ELBv2Backend
    create = B.create_load_balancer

    def create_load_balancer(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        lb = create(self, *args, **kwargs)
        start(lb, "provisioning", "load_balancer.provisioning", self.account_id)
        return lb

    B.create_load_balancer = create_load_balancer  # type: ignore[method-assign]


def patch_ecs() -> None:
    from moto.core.utils import utcnow
    from moto.ecs import models as m

    S = m.Service

    def rollout(svc) -> Optional[dict[str, Any]]:  # type: ignore[no-untyped-def]
        """The rollout under way, or None; a rollout that is over is completed here."""
        r = svc.__dict__.get("hms_rollout")
        if r is None:
            return None
        if phase(svc) is not None:
            return r
        svc.__dict__.pop("hms_rollout", None)
        new = dict(r["deployment"])
        desired = svc.desired_count
        new.update(rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {new['id']} completed.",
                   runningCount=desired, pendingCount=0, desiredCount=desired, updatedAt=utcnow())
        svc.__dict__["hms_deployments"] = [new]
        svc.__dict__["hms_running_count"] = desired
        svc.__dict__["hms_pending_count"] = 0
        return None

    def deployments_get(self):  # type: ignore[no-untyped-def]
        r = rollout(self)
        if r is None:
            return self.__dict__.get("hms_deployments", [])
        return [r["deployment"], *r["previous"]]

    def deployments_set(self, value):  # type: ignore[no-untyped-def]
        self.__dict__["hms_deployments"] = value

    def count(name: str, during: Callable[[Any, dict[str, Any]], int]) -> property:
        key = f"hms_{name}"

        def get(self):  # type: ignore[no-untyped-def]
            r = rollout(self)
            if r is None:
                return self.__dict__.get(key, 0)
            return during(self, r)

        def set_(self, value):  # type: ignore[no-untyped-def]
            self.__dict__[key] = value

        return property(get, set_)

    S.deployments = property(deployments_get, deployments_set)  # type: ignore[assignment]
    # While rolling out, the old deployments' tasks run and the new one's are pending.
    S.running_count = count("running_count", lambda s, r: sum(d.get("runningCount", 0) for d in r["previous"]))  # type: ignore[assignment]
    S.pending_count = count("pending_count", lambda s, r: s.desired_count)  # type: ignore[assignment]

    def begin(svc, account: str, task_definition: Optional[str]) -> None:  # type: ignore[no-untyped-def]
        """Starts a new deployment of `task_definition` on `svc`, replacing the current ones."""
        if svc.deployment_controller.get("type", "ECS") != "ECS":
            return
        r = rollout(svc)
        previous = [dict(d) for d in (r["previous"] if r else svc.__dict__.get("hms_deployments", []))]
        if not start(svc, "IN_PROGRESS", "ecs.deployment", account):
            return
        base = previous[0] if previous else {}
        now = utcnow()
        dep_id = f"ecs-svc/{m.mock_random.randint(0, 32**12)}"
        new = {**base, "id": dep_id, "status": "PRIMARY", "taskDefinition": task_definition,
               "desiredCount": svc.desired_count, "runningCount": 0, "pendingCount": svc.desired_count,
               "failedTasks": 0, "rolloutState": "IN_PROGRESS",
               "rolloutStateReason": f"ECS deployment {dep_id} in progress.", "createdAt": now, "updatedAt": now}
        for d in previous:
            d["status"] = "ACTIVE"
        svc.__dict__["hms_rollout"] = {"deployment": new, "previous": previous}

    B = m.EC2ContainerServiceBackend
    create, update = B.create_service, B.update_service

    def create_service(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        svc = create(self, *args, **kwargs)
        begin(svc, self.account_id, svc.task_definition)
        if svc.__dict__.get("hms_rollout"):
            svc.__dict__["hms_rollout"]["previous"] = []
        return svc

    def update_service(self, service_properties):  # type: ignore[no-untyped-def]
        before = None
        try:
            old = self._get_service(service_properties.get("cluster", "default"),
                                    str(service_properties.get("service", "")).split("/")[-1])
            before = old.task_definition
        except Exception:  # noqa: BLE001 - moto's own call below answers with the error
            pass
        new_td = service_properties.get("task_definition")
        force = service_properties.get("force_new_deployment", False)
        desired = service_properties.get("desired_count")
        svc = update(self, service_properties)
        if desired is not None and int(desired) == 0:
            # Draining: no rollout to wait for.
            svc.__dict__.pop("hms_rollout", None)
            svc.__dict__.pop("hms_phase", None)
        elif (new_td and new_td != before) or force:
            begin(svc, self.account_id, svc.task_definition)
        return svc

    B.create_service = create_service  # type: ignore[method-assign]
    B.update_service = update_service  # type: ignore[method-assign]


def patch_elasticache() -> None:
    from moto.elasticache import models as m
    from moto.elasticache.responses import ElastiCacheResponse as R

    G = m.ReplicationGroup
    G.status = stored("status")  # type: ignore[assignment]

    def no_endpoints_while_creating(name: str, strip: Callable[[Any], Any]) -> None:
        key = f"hms_{name}"

        def get(self):  # type: ignore[no-untyped-def]
            value = self.__dict__.get(key)
            if phase(self) == "creating":
                return strip(value)
            return value

        def set_(self, value):  # type: ignore[no-untyped-def]
            self.__dict__[key] = value

        setattr(G, name, property(get, set_))

    endpoint_keys = ("primary_endpoint", "reader_endpoint", "primary_endpoint_address", "reader_endpoint_address")
    no_endpoints_while_creating(
        "node_groups",
        lambda groups: [{k: v for k, v in g.items() if k not in endpoint_keys} for g in (groups or [])])
    no_endpoints_while_creating("configuration_endpoint", lambda _: None)

    B = m.ElastiCacheBackend
    create = B.create_replication_group

    def create_replication_group(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        rg = create(self, *args, **kwargs)
        start(rg, "creating", "replication_group.creating", self.account_id)
        return rg

    B.create_replication_group = create_replication_group  # type: ignore[method-assign]

    from moto.elasticache.exceptions import ElastiCacheException

    def refused_while_busy(original: Callable[[Any], Any], what: str) -> Callable[[Any], Any]:
        """AWS refuses a change to a group that is not `available` (InvalidReplicationGroupState)."""
        def method(self):  # type: ignore[no-untyped-def]
            rg = self.elasticache_backend.replication_groups.get(self._get_param("ReplicationGroupId"))
            state = phase(rg) if rg is not None else None
            if state is not None:
                raise ElastiCacheException(
                    "InvalidReplicationGroupState",
                    f"Cannot {what} replication group {rg.replication_group_id}: it is {state}, not available.")
            return original(self)

        return method

    modify = refused_while_busy(R.modify_replication_group, "modify")

    def modify_replication_group(self):  # type: ignore[no-untyped-def]
        result = modify(self)
        rg = self.elasticache_backend.replication_groups.get(self._get_param("ReplicationGroupId"))
        if rg is not None:
            start(rg, "modifying", "replication_group.modifying", self.current_account)
        return result

    R.modify_replication_group = modify_replication_group  # type: ignore[method-assign]
    R.delete_replication_group = refused_while_busy(R.delete_replication_group, "delete")  # type: ignore[method-assign]
    R.increase_replica_count = refused_while_busy(R.increase_replica_count, "change the replicas of")  # type: ignore[method-assign]
    R.decrease_replica_count = refused_while_busy(R.decrease_replica_count, "change the replicas of")  # type: ignore[method-assign]


def patch_cloudfront() -> None:
    from moto.cloudfront import models as m

    D = m.Distribution
    managed = D.status  # ManagedState's property: InProgress -> Deployed after one read

    def status_get(self):  # type: ignore[no-untyped-def]
        current = self.__dict__.get("hms_phase")
        if current is not None:
            if phase(self) is not None:
                return "InProgress"
            self._status = "Deployed"
            return "Deployed"
        return managed.fget(self)

    D.status = property(status_get, managed.fset)  # type: ignore[assignment]

    B = m.CloudFrontBackend
    create, update = B.create_distribution, B.update_distribution

    def create_distribution(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = create(self, *args, **kwargs)
        start(out[0], "InProgress", "distribution.in_progress", self.account_id)
        return out

    def update_distribution(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = update(self, *args, **kwargs)
        start(out[0], "InProgress", "distribution.in_progress", self.account_id)
        return out

    # create_distribution_with_tags calls create_distribution.
    B.create_distribution = create_distribution  # type: ignore[method-assign]
    B.update_distribution = update_distribution  # type: ignore[method-assign]


def patch_acm() -> None:
    from moto.acm import models as m
    from moto.core.utils import utcnow

    C = m.CertBundle
    check = C.check

    def check_later(self) -> None:  # type: ignore[no-untyped-def]
        until = self.__dict__.get("hms_issue_at")
        if until is None:
            return check(self)
        if self._not_valid_after(self._cert) <= utcnow():
            self.status = "EXPIRED"
            return
        if self.status == "PENDING_VALIDATION" and time.monotonic() >= until:
            self.status = "ISSUED"

    C.check = check_later  # type: ignore[method-assign]
    B = m.AWSCertificateManagerBackend
    request = B.request_certificate

    def request_certificate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        arn = request(self, *args, **kwargs)
        cert = self._certificates.get(arn)
        if cert is not None and "hms_issue_at" not in cert.__dict__ and cert.status == "PENDING_VALIDATION":
            until = LATENCY.deadline("certificate.pending_validation", self.account_id)
            if until is not None:
                cert.__dict__["hms_issue_at"] = until
        return arn

    B.request_certificate = request_certificate  # type: ignore[method-assign]


# ---- The launcher's API ---------------------------------------------------------------------------------

class LatencyApi:
    PATH = "/hms-api/latency"

    def matches(self, environ: dict) -> bool:
        return (environ.get("PATH_INFO") or "") == self.PATH

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return self.answer(start_response, "200 OK", LATENCY.describe())
        if method != "POST":
            return self.answer(start_response, "405 Method Not Allowed", {"message": "GET or POST"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(body, dict) or "scale" not in body:
                raise ValueError('the body is {"scale": S} or {"scale": S, "account": "123456789012"}')
            account = body.get("account")
            if account is not None and not (isinstance(account, str) and account.isdigit() and len(account) == 12):
                raise ValueError(f"account {account!r} is not a 12-digit account id")
            scale = body["scale"]
            if scale is None and account is not None:
                with LATENCY.lock:
                    LATENCY.accounts.pop(account, None)
            else:
                if isinstance(scale, bool) or not isinstance(scale, (int, float)):
                    raise ValueError(f"scale {scale!r} is not a number >= 0")
                value = parse_scale(str(scale))
                with LATENCY.lock:
                    if account is None:
                        LATENCY.scale = value
                    else:
                        LATENCY.accounts[account] = value
        except (ValueError, KeyError) as exc:
            return self.answer(start_response, "400 Bad Request", {"message": str(exc)})
        print(f"emulator: latency {LATENCY.describe()['scale']} (accounts: {LATENCY.describe()['accounts']})",
              flush=True)
        return self.answer(start_response, "200 OK", LATENCY.describe())

    @staticmethod
    def answer(start_response: Callable, status: str, body: dict) -> Iterable[bytes]:
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


@register
def patch_latency(ctx: PatchContext) -> None:
    """AWS's waits, HMS_EMULATOR_LATENCY × the typical durations (see the module comment)."""
    scale = parse_scale(os.environ.get(ENV))  # main() checked it first; a bad value cannot get here
    LATENCY.initial = LATENCY.scale = scale
    ctx.add_route(LatencyApi().matches, LatencyApi())
    ctx.on_reset(LATENCY.reset)
    from moto.rds import models as rds

    if getattr(rds.RDSBackend, "hms_latency", False):
        return
    patch_nat_gateways()
    patch_rds()
    patch_elbv2()
    patch_ecs()
    patch_elasticache()
    patch_cloudfront()
    patch_acm()
    rds.RDSBackend.hms_latency = True  # type: ignore[attr-defined]
