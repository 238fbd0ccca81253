//! The IAM actions hms-cache's calls need (see `hms_core::permissions`): the ElastiCache replication group, subnet and parameter groups (by the stack's tags), the AUTH token secret, the log groups.

use hms_core::permissions::{allow, Permission, Scope, READ, UP, UP_DOWN};

/// hms-cache's list.
pub const PERMISSIONS: &[Permission] = &[
    allow(
        &[
            "elasticache:DescribeCacheClusters",
            "elasticache:DescribeCacheParameterGroups",
            "elasticache:DescribeCacheParameters",
            "elasticache:DescribeCacheSubnetGroups",
            "elasticache:DescribeReplicationGroups",
            "elasticache:ListTagsForResource",
            "logs:DescribeLogGroups",
            "logs:ListTagsForResource",
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "tag:GetResources",
        ],
        READ,
        Scope::Any("reads: Describe*/List* have no resource-level permission"),
    ),
    allow(
        &[
            "elasticache:DecreaseReplicaCount",
            "elasticache:DeleteCacheParameterGroup",
            "elasticache:DeleteCacheSubnetGroup",
            "elasticache:DeleteReplicationGroup",
            "elasticache:RemoveTagsFromResource",
        ],
        UP_DOWN,
        Scope::Tagged(&["arn:{partition}:elasticache:{region}:{account}:*"]),
    ),
    allow(
        &["logs:DeleteLogGroup", "logs:UntagResource"],
        UP_DOWN,
        Scope::Arns(&["arn:{partition}:logs:*:{account}:*"]),
    ),
    allow(
        &[
            "secretsmanager:DeleteSecret",
            "secretsmanager:UntagResource",
        ],
        UP_DOWN,
        Scope::Tagged(&["arn:{partition}:secretsmanager:{region}:{account}:secret:*"]),
    ),
    allow(
        &[
            "elasticache:CreateCacheParameterGroup",
            "elasticache:CreateCacheSubnetGroup",
            "elasticache:CreateReplicationGroup",
        ],
        UP,
        Scope::Create(&["arn:{partition}:elasticache:{region}:{account}:*"]),
    ),
    allow(
        &[
            "elasticache:AddTagsToResource",
            "elasticache:IncreaseReplicaCount",
            "elasticache:ModifyCacheParameterGroup",
            "elasticache:ModifyCacheSubnetGroup",
            "elasticache:ModifyReplicationGroup",
            "elasticache:ResetCacheParameterGroup",
        ],
        UP,
        Scope::Tagged(&["arn:{partition}:elasticache:{region}:{account}:*"]),
    ),
    allow(
        &["logs:CreateLogGroup"],
        UP,
        Scope::Arns(&["arn:{partition}:logs:*:{account}:*"]),
    ),
    allow(
        &[
            "logs:AssociateKmsKey",
            "logs:PutRetentionPolicy",
            "logs:TagResource",
        ],
        UP,
        Scope::Arns(&["arn:{partition}:logs:*:{account}:*"]),
    ),
    allow(
        &["secretsmanager:CreateSecret"],
        UP,
        Scope::Create(&["arn:{partition}:secretsmanager:{region}:{account}:secret:*"]),
    ),
    allow(
        &[
            "secretsmanager:PutSecretValue",
            "secretsmanager:RestoreSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UpdateSecret",
            "secretsmanager:UpdateSecretVersionStage",
        ],
        UP,
        Scope::Tagged(&["arn:{partition}:secretsmanager:{region}:{account}:secret:*"]),
    ),
];

hms_core::permissions_test!(&[], &[]);
