//! The IAM actions hms-vpc's calls need (see `hms_core::permissions`): the VPC and what it holds (EC2,
//! scoped by the `hms:stack`/`hms:env` tags: created with them, changed and deleted only while they carry
//! them), the flow logs' log group and delivery role (by name).

use hms_core::permissions::{allow, Permission, Scope, READ, UP, UP_DOWN};

const EC2: &[&str] = &["arn:{partition}:ec2:{region}:{account}:*"];
const ROLE: &[&str] = &["arn:{partition}:iam::{account}:role/{name}vpc-flow-logs"];
const LOG_GROUP: &[&str] = &[
    "arn:{partition}:logs:{region}:{account}:log-group:/aws/vpc/{name}vpc-flow-logs",
    "arn:{partition}:logs:{region}:{account}:log-group:/aws/vpc/{name}vpc-flow-logs:*",
];

/// hms-vpc's list.
pub const PERMISSIONS: &[Permission] = &[
    allow(
        &[
            "ec2:DescribeAddresses",
            "ec2:DescribeFlowLogs",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeNatGateways",
            "ec2:DescribeNetworkAcls",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeRouteTables",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeVpcEndpoints",
            "ec2:DescribeVpcs",
            "logs:DescribeLogGroups",
            "logs:ListTagsLogGroup",
            "logs:ListTagsForResource",
        ],
        READ,
        Scope::Any("EC2 Describe* and logs:DescribeLogGroups have no resource-level permission"),
    ),
    allow(
        &["iam:GetRole", "iam:GetRolePolicy"],
        READ,
        Scope::Arns(ROLE),
    ),
    // Creates carry the stack's tags in the request (TagSpecifications).
    allow(
        &[
            "ec2:AllocateAddress",
            "ec2:CreateFlowLogs",
            "ec2:CreateInternetGateway",
            "ec2:CreateNatGateway",
            "ec2:CreateNetworkAcl",
            "ec2:CreateRouteTable",
            "ec2:CreateSubnet",
            "ec2:CreateTags",
            "ec2:CreateVpc",
            "ec2:CreateVpcEndpoint",
        ],
        UP,
        Scope::Create(EC2),
    ),
    allow(
        &[
            "ec2:AssociateRouteTable",
            "ec2:AttachInternetGateway",
            "ec2:CreateNetworkAclEntry",
            "ec2:CreateRoute",
            "ec2:CreateTags",
            "ec2:ModifySubnetAttribute",
            "ec2:ModifyVpcAttribute",
            "ec2:ModifyVpcEndpoint",
            "ec2:ReplaceNetworkAclAssociation",
            "ec2:ReplaceNetworkAclEntry",
            "ec2:ReplaceRoute",
            "ec2:ReplaceRouteTableAssociation",
        ],
        UP,
        Scope::Tagged(EC2),
    ),
    allow(
        &[
            "ec2:DeleteFlowLogs",
            "ec2:DeleteInternetGateway",
            "ec2:DeleteNatGateway",
            "ec2:DeleteNetworkAcl",
            "ec2:DeleteNetworkAclEntry",
            "ec2:DeleteRoute",
            "ec2:DeleteRouteTable",
            "ec2:DeleteSubnet",
            "ec2:DeleteTags",
            "ec2:DeleteVpc",
            "ec2:DeleteVpcEndpoints",
            "ec2:DetachInternetGateway",
            "ec2:DisassociateRouteTable",
            "ec2:ReleaseAddress",
            "ec2:ReplaceNetworkAclAssociation",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
        ],
        UP_DOWN,
        Scope::Tagged(EC2),
    ),
    allow(
        &[
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
        ],
        UP,
        Scope::Arns(ROLE),
    ),
    // CreateFlowLogs hands the delivery role to the flow-logs service.
    allow(&["iam:PassRole"], UP, Scope::Arns(ROLE)),
    allow(
        &["iam:DeleteRole", "iam:DeleteRolePolicy"],
        UP_DOWN,
        Scope::Arns(ROLE),
    ),
    allow(
        &[
            "logs:CreateLogGroup",
            "logs:PutRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:TagLogGroup",
            "logs:UntagLogGroup",
        ],
        UP,
        Scope::Arns(LOG_GROUP),
    ),
    allow(&["logs:DeleteLogGroup"], UP_DOWN, Scope::Arns(LOG_GROUP)),
];

// Checked by AWS beside the calls' own: CreateFlowLogs passes the role; the log group's
// tags go through TagResource or the older TagLogGroup, whichever the API takes.
hms_core::permissions_test!(
    &[],
    &[
        "iam:PassRole",
        "logs:TagLogGroup",
        "logs:UntagLogGroup",
        "logs:ListTagsForResource",
        "logs:TagResource",
        "logs:UntagResource"
    ]
);
