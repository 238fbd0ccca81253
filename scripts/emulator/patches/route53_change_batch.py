# ---- Patch: Route 53 change batches checked against the zone's records ------
#
# moto gap: moto 5.2.5's ChangeResourceRecordSets accepts a CREATE of a record
# set that already exists (it only refuses one that repeats an earlier change
# word for word) and adds a second record set with the same name and type; a
# DELETE of a record set that is not there, or with values that are not its
# current ones, "succeeds" whenever an earlier CREATE/UPSERT of that name and
# type is in its journal. On AWS, a change batch is all or nothing, and
#   CREATE of an existing name/type (and SetIdentifier): InvalidChangeBatch
#     "[Tried to create resource record set [name='x.', type='CNAME'] but it
#     already exists]"
#   DELETE of a missing one: InvalidChangeBatch "[Tried to delete resource
#     record set [name='x.', type='CNAME'] but it was not found]"
#   DELETE whose TTL or values differ: InvalidChangeBatch "[Tried to delete
#     resource record set [name='x.', type='CNAME'] but the values provided do
#     not match the current values]"
# This checks the whole batch against the zone (and against the changes before
# it in the same batch) before moto applies any of it. Names compare without
# case and trailing dot. Keeps no state of its own.

from __future__ import annotations

from typing import Any

from ..context import PatchContext
from . import register


def _norm(name: str) -> str:
    return (name or "").rstrip(".").lower()


def _values(rrset: dict) -> list[str]:
    out = []
    for r in rrset.get("ResourceRecords") or []:
        out.append(r["Value"] if isinstance(r, dict) else r)
    return sorted(str(v) for v in out)


def _key(name: str, rtype: Any, set_id: Any) -> tuple:
    return (_norm(name), str(rtype), set_id or None)


@register
def patch_route53_change_batch(ctx: PatchContext) -> None:
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    original = Route53Backend.change_resource_record_sets
    if getattr(original, "hms_patched", False):
        return

    def change_resource_record_sets(self, zoneid: str, change_list: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
        zone = self.get_hosted_zone(zoneid)
        current: dict[tuple, dict] = {}
        for r in zone.rrsets:
            current[_key(r.name, r.type, r.set_identifier)] = {
                "TTL": None if r.ttl is None else str(r.ttl),
                "values": sorted(str(v) for v in (r.records or [])),
                "alias": r.alias_target,
            }
        errors = []
        for value in change_list:
            action = value.get("Action")
            rrset = value.get("ResourceRecordSet") or {}
            key = _key(rrset.get("Name", ""), rrset.get("Type"), rrset.get("SetIdentifier"))
            label = f"[name='{_norm(rrset.get('Name', ''))}.', type='{rrset.get('Type')}'"
            label += f", set-identifier='{key[2]}']" if key[2] else "]"
            ttl = rrset.get("TTL")
            want = {"TTL": None if ttl is None else str(ttl), "values": _values(rrset)}
            if action == "CREATE":
                if key in current:
                    errors.append(f"Tried to create resource record set {label} but it already exists")
                    continue
                current[key] = {**want, "alias": rrset.get("AliasTarget")}
            elif action == "DELETE":
                have = current.get(key)
                if have is None:
                    errors.append(f"Tried to delete resource record set {label} but it was not found")
                    continue
                if not have.get("alias") and (have["TTL"] != want["TTL"] or have["values"] != want["values"]):
                    errors.append(f"Tried to delete resource record set {label} but the values provided "
                                  "do not match the current values")
                    continue
                del current[key]
            elif action == "UPSERT":
                current[key] = {**want, "alias": rrset.get("AliasTarget")}
        if errors:
            raise Route53ClientError("InvalidChangeBatch", "[" + ", ".join(errors) + "]")
        return original(self, zoneid, change_list)

    change_resource_record_sets.hms_patched = True  # type: ignore[attr-defined]
    Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]
