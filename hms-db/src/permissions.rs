//! The IAM actions hms-db's calls need (see `hms_core::permissions`): the RDS subnet group, parameter group and instance (by the stack's tags), the resource policy of RDS's managed master secret.

use hms_core::permissions::{allow, Permission, Scope, READ, UP, UP_DOWN, VERB};

/// hms-db's list.
pub const PERMISSIONS: &[Permission] = &[
    // `reserve` spends money: in no policy (README: grant it to whoever buys reservations).
    allow(
        &["rds:PurchaseReservedDBInstancesOffering"],
        VERB,
        Scope::Arns(&["arn:{partition}:rds:{region}:{account}:ri:*"]),
    ),
    // `down` takes a final snapshot (DeleteDBInstance with FinalDBSnapshotIdentifier); `snapshot` too.
    allow(
        &["rds:CreateDBSnapshot"],
        UP_DOWN,
        Scope::Arns(&[
            "arn:{partition}:rds:{region}:{account}:db:*",
            "arn:{partition}:rds:{region}:{account}:snapshot:*",
        ]),
    ),
    allow(
        &[
            "rds:DescribeDBInstances",
            "rds:DescribeDBParameterGroups",
            "rds:DescribeDBParameters",
            "rds:DescribeDBSnapshots",
            "rds:DescribeDBSubnetGroups",
            "rds:DescribeReservedDBInstances",
            "rds:DescribeReservedDBInstancesOfferings",
            "rds:ListTagsForResource",
            "secretsmanager:GetResourcePolicy",
        ],
        READ,
        Scope::Any("reads: Describe*/List* have no resource-level permission"),
    ),
    allow(
        &[
            "rds:DeleteDBInstance",
            "rds:DeleteDBParameterGroup",
            "rds:DeleteDBSubnetGroup",
            "rds:RemoveTagsFromResource",
        ],
        UP_DOWN,
        Scope::Tagged(&["arn:{partition}:rds:{region}:{account}:*"]),
    ),
    allow(
        &["secretsmanager:DeleteResourcePolicy"],
        UP_DOWN,
        Scope::Tagged(&["arn:{partition}:secretsmanager:{region}:{account}:secret:*"]),
    ),
    allow(
        &[
            "rds:CreateDBInstance",
            "rds:CreateDBParameterGroup",
            "rds:CreateDBSubnetGroup",
        ],
        UP,
        Scope::Create(&["arn:{partition}:rds:{region}:{account}:*"]),
    ),
    allow(
        &[
            "rds:AddTagsToResource",
            "rds:ModifyDBInstance",
            "rds:ModifyDBParameterGroup",
            "rds:ModifyDBSubnetGroup",
        ],
        UP,
        Scope::Tagged(&["arn:{partition}:rds:{region}:{account}:*"]),
    ),
    allow(
        &["secretsmanager:PutResourcePolicy"],
        UP,
        Scope::Tagged(&["arn:{partition}:secretsmanager:{region}:{account}:secret:*"]),
    ),
];

hms_core::permissions_test!(&[], &[]);
