# ---- Patch: EC2 network ACLs as AWS keeps them ------------------------------------
#
# moto gaps: (1) DeleteSubnet leaves the subnet's network ACL association behind,
# so the ACL it was associated with still lists it and DeleteNetworkAcl then
# fails with DependencyViolation (AWS drops a deleted subnet's association);
# (2) CreateNetworkAcl makes an ACL with no entries, where AWS gives every new
# ACL its final deny-all rules (number 32767, inbound and outbound), which
# DescribeNetworkAcls lists and nobody can change. This drops the association
# with the subnet and adds the two rules.

from __future__ import annotations

from ..context import PatchContext
from . import register


@register
def patch_ec2_network_acls(ctx: PatchContext) -> None:
    from moto.ec2.models.network_acls import NetworkAclBackend
    from moto.ec2.models.subnets import SubnetBackend

    if getattr(SubnetBackend, "hms_network_acls", False):
        return
    original_delete = SubnetBackend.delete_subnet
    original_create = NetworkAclBackend.create_network_acl

    def delete_subnet(self, subnet_id):  # type: ignore[no-untyped-def]
        subnet = original_delete(self, subnet_id)
        for acl in self.network_acls.values():
            for assoc_id in [k for k, a in acl._associations.items() if a.subnet_id == subnet_id]:
                del acl._associations[assoc_id]
        return subnet

    def create_network_acl(self, vpc_id, tags=None, default=False):  # type: ignore[no-untyped-def]
        acl = original_create(self, vpc_id, tags=tags, default=default)
        if not default:
            for egress in (True, False):
                self.create_network_acl_entry(
                    network_acl_id=acl.id, rule_number=32767, protocol="-1", rule_action="deny",
                    egress=egress, cidr_block="0.0.0.0/0", icmp_code=None, icmp_type=None,
                    port_range_from=None, port_range_to=None, ipv6_cidr_block=None,
                )
        return acl

    SubnetBackend.delete_subnet = delete_subnet
    NetworkAclBackend.create_network_acl = create_network_acl
    SubnetBackend.hms_network_acls = True
