//! The IAM actions hms-observe's calls need (see `hms_core::permissions`): the alarms and dashboard, the alarm topic, the RDS event subscriptions, X-Ray rules and groups (by the stack's tags), the backup bucket's notification (by name).

use hms_core::permissions::{allow, Permission, Scope, READ, UP, UP_DOWN};

/// hms-observe's list.
pub const PERMISSIONS: &[Permission] = &[
    allow(
        &[
            "cloudwatch:DescribeAlarms",
            "cloudwatch:GetDashboard",
            "cloudwatch:ListTagsForResource",
            "rds:DescribeEventSubscriptions",
            "rds:ListTagsForResource",
            "s3:GetBucketNotification",
            "sns:GetTopicAttributes",
            "sns:ListSubscriptionsByTopic",
            "sns:ListTagsForResource",
            "xray:GetGroups",
            "xray:GetSamplingRules",
            "xray:ListTagsForResource",
        ],
        READ,
        Scope::Any("reads: Describe*/List* have no resource-level permission"),
    ),
    allow(
        &[
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DeleteDashboards",
            "cloudwatch:UntagResource",
        ],
        UP_DOWN,
        Scope::Tagged(&[
            "arn:{partition}:cloudwatch:{region}:{account}:alarm:*",
            "arn:{partition}:cloudwatch::{account}:dashboard/*",
        ]),
    ),
    allow(
        &["rds:DeleteEventSubscription", "rds:RemoveTagsFromResource"],
        UP_DOWN,
        Scope::Tagged(&["arn:{partition}:rds:{region}:{account}:*"]),
    ),
    allow(
        &["sns:DeleteTopic", "sns:Unsubscribe", "sns:UntagResource"],
        UP_DOWN,
        Scope::Tagged(&["arn:{partition}:sns:{region}:{account}:*"]),
    ),
    allow(
        &[
            "xray:DeleteGroup",
            "xray:DeleteSamplingRule",
            "xray:UntagResource",
        ],
        UP_DOWN,
        Scope::Tagged(&["arn:{partition}:xray:{region}:{account}:*"]),
    ),
    allow(
        &[
            "cloudwatch:PutDashboard",
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:TagResource",
        ],
        UP,
        Scope::Tagged(&[
            "arn:{partition}:cloudwatch:{region}:{account}:alarm:*",
            "arn:{partition}:cloudwatch::{account}:dashboard/*",
        ]),
    ),
    allow(
        &["rds:CreateEventSubscription"],
        UP,
        Scope::Create(&["arn:{partition}:rds:{region}:{account}:*"]),
    ),
    allow(
        &["rds:AddTagsToResource"],
        UP,
        Scope::Tagged(&["arn:{partition}:rds:{region}:{account}:*"]),
    ),
    allow(
        &["s3:PutBucketNotification"],
        UP,
        Scope::Arns(&[
            "arn:{partition}:s3:::{bucket}*",
            "arn:{partition}:s3:::{bucket}*/*",
        ]),
    ),
    allow(
        &["sns:CreateTopic", "sns:Subscribe"],
        UP,
        Scope::Create(&["arn:{partition}:sns:{region}:{account}:*"]),
    ),
    allow(
        &["sns:SetTopicAttributes", "sns:TagResource"],
        UP,
        Scope::Tagged(&["arn:{partition}:sns:{region}:{account}:*"]),
    ),
    allow(
        &["xray:CreateGroup", "xray:CreateSamplingRule"],
        UP,
        Scope::Create(&["arn:{partition}:xray:{region}:{account}:*"]),
    ),
    allow(
        &[
            "xray:TagResource",
            "xray:UpdateGroup",
            "xray:UpdateSamplingRule",
        ],
        UP,
        Scope::Tagged(&["arn:{partition}:xray:{region}:{account}:*"]),
    ),
];

hms_core::permissions_test!(&["bucket"], &[]);
