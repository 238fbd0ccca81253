# ---- Patch: CloudFront response headers policies, GetOriginAccessControlConfig --
#
# moto gap: moto 5.2.5 has no response headers policy API at all (nor cache or
# origin request policies, managed or not), and no GetOriginAccessControlConfig.
# On AWS, CreateResponseHeadersPolicy / GetResponseHeadersPolicy(Config) /
# ListResponseHeadersPolicies / UpdateResponseHeadersPolicy (If-Match on the
# ETag, 412 PreconditionFailed otherwise) / DeleteResponseHeadersPolicy (refused
# with ResponseHeadersPolicyInUse while a distribution's behaviour names it)
# manage custom policies, whose names are unique in the account
# (ResponseHeadersPolicyAlreadyExists). This serves them on moto's CloudFront
# backend, and GetOriginAccessControlConfig from moto's own OACs. The managed
# cache and origin request policies are referenced by their fixed ids; nothing
# here checks them. The policies live on moto's backend object
# (`hms_headers_policies`), so moto's reset empties them.

from __future__ import annotations

import uuid
from typing import Any

from ..context import PatchContext
from . import register


def _policies(backend: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(backend, "hms_headers_policies"):
        backend.hms_headers_policies = {}
    return backend.hms_headers_policies


def _etag() -> str:
    return uuid.uuid4().hex[:14].upper()


def _in_use(backend: Any, policy_id: str) -> bool:
    for dist in backend.distributions.values():
        cfg = dist.distribution_config
        behaviours = [cfg.DefaultCacheBehavior]
        cbs = cfg.CacheBehaviors
        if isinstance(cbs, dict):
            behaviours += list(cbs.get("Items") or [])
        for b in behaviours:
            value = b.get("ResponseHeadersPolicyId") if isinstance(b, dict) else getattr(b, "response_headers_policy_id", None)
            if value == policy_id:
                return True
    return False


@register
def patch_cloudfront_policies(ctx: PatchContext) -> None:
    from moto.cloudfront import urls
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.responses import CloudFrontResponse as R
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow

    if getattr(R, "hms_policies", False):
        return
    R.hms_policies = True  # type: ignore[attr-defined]
    base = "{0}/2020-05-31/response-headers-policy"
    urls.url_paths[base + "$"] = R.dispatch
    urls.url_paths[base + "/(?P<policy_id>[^/]+)$"] = R.dispatch
    urls.url_paths[base + "/(?P<policy_id>[^/]+)/config$"] = R.dispatch

    def err(code: str, message: str) -> Exception:
        return CloudFrontException(code, message)

    def lookup(self, policy_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        policy = _policies(self.backend).get(policy_id)
        if policy is None:
            raise err("NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")
        return policy

    def view(policy: dict[str, Any]) -> dict[str, Any]:
        return {"Id": policy["Id"], "LastModifiedTime": policy["LastModifiedTime"],
                "ResponseHeadersPolicyConfig": policy["Config"]}

    def create_response_headers_policy(self):  # type: ignore[no-untyped-def]
        config = self._get_param("ResponseHeadersPolicyConfig", {}) or {}
        name = config.get("Name")
        if not name:
            raise err("InvalidArgument", "The response headers policy needs a Name.")
        if any(p["Config"].get("Name") == name for p in _policies(self.backend).values()):
            raise err("ResponseHeadersPolicyAlreadyExists",
                      f"A response headers policy with the name {name} already exists.")
        policy = {"Id": str(uuid.uuid4()), "LastModifiedTime": utcnow(), "Config": config, "ETag": _etag()}
        _policies(self.backend)[policy["Id"]] = policy
        return ActionResult({"ResponseHeadersPolicy": view(policy), "ETag": policy["ETag"],
                             "Location": f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy['Id']}"})

    def policy_id(self) -> str:  # type: ignore[no-untyped-def]
        return self._get_param("Id") or (self.uri_match or {}).get("Id") or ""

    def get_response_headers_policy(self):  # type: ignore[no-untyped-def]
        policy = lookup(self, policy_id(self))
        return ActionResult({"ResponseHeadersPolicy": view(policy), "ETag": policy["ETag"]})

    def get_response_headers_policy_config(self):  # type: ignore[no-untyped-def]
        policy = lookup(self, policy_id(self))
        return ActionResult({"ResponseHeadersPolicyConfig": policy["Config"], "ETag": policy["ETag"]})

    def list_response_headers_policies(self):  # type: ignore[no-untyped-def]
        kind = self._get_param("Type")
        items = [] if kind == "managed" else [
            {"Type": "custom", "ResponseHeadersPolicy": view(p)} for p in _policies(self.backend).values()]
        return ActionResult({"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items),
                                                           "Items": items or None}})

    def update_response_headers_policy(self):  # type: ignore[no-untyped-def]
        policy = lookup(self, policy_id(self))
        if self._get_param("IfMatch") != policy["ETag"]:
            raise err("PreconditionFailed", "The If-Match version is missing or not valid for the resource.")
        config = self._get_param("ResponseHeadersPolicyConfig", {}) or {}
        name = config.get("Name")
        if any(p["Config"].get("Name") == name and p["Id"] != policy["Id"]
               for p in _policies(self.backend).values()):
            raise err("ResponseHeadersPolicyAlreadyExists",
                      f"A response headers policy with the name {name} already exists.")
        policy.update({"Config": config, "ETag": _etag(), "LastModifiedTime": utcnow()})
        return ActionResult({"ResponseHeadersPolicy": view(policy), "ETag": policy["ETag"]})

    def delete_response_headers_policy(self):  # type: ignore[no-untyped-def]
        pid = policy_id(self)
        policy = lookup(self, pid)
        if self._get_param("IfMatch") != policy["ETag"]:
            raise err("PreconditionFailed", "The If-Match version is missing or not valid for the resource.")
        if _in_use(self.backend, pid):
            raise err("ResponseHeadersPolicyInUse",
                      "Cannot delete the response headers policy because it is attached to one or more cache behaviors.")
        _policies(self.backend).pop(pid, None)
        return EmptyResult()

    def get_origin_access_control_config(self):  # type: ignore[no-untyped-def]
        control = self.backend.get_origin_access_control(self._get_param("Id"))
        config = {"Name": control.name, "Description": control.description or "",
                  "SigningProtocol": control.signing_protocol, "SigningBehavior": control.signing_behavior,
                  "OriginAccessControlOriginType": control.origin_type}
        return ActionResult({"OriginAccessControlConfig": config, "ETag": control.etag})

    for method in (create_response_headers_policy, get_response_headers_policy,
                   get_response_headers_policy_config, list_response_headers_policies,
                   update_response_headers_policy, delete_response_headers_policy,
                   get_origin_access_control_config):
        setattr(R, method.__name__, method)
