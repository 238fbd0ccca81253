//! The IAM actions hms-backup's calls need (see `hms_core::permissions`): the backup bucket and its replica (by name).

use hms_core::permissions::{allow, Permission, Scope, READ, UP, UP_DOWN};

/// hms-backup's list.
pub const PERMISSIONS: &[Permission] = &[
    allow(
        &[
            "s3:GetBucketLogging",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetBucketOwnershipControls",
            "s3:GetBucketPolicy",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetBucketTagging",
            "s3:GetBucketVersioning",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:ListBucket",
            "s3:ListBucketVersions",
        ],
        READ,
        Scope::Any("reads: Describe*/List* have no resource-level permission"),
    ),
    allow(
        &[
            "s3:DeleteBucket",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
        ],
        UP_DOWN,
        Scope::Arns(&[
            "arn:{partition}:s3:::{bucket}*",
            "arn:{partition}:s3:::{bucket}*/*",
        ]),
    ),
    allow(
        &["s3:CreateBucket"],
        UP,
        Scope::Arns(&[
            "arn:{partition}:s3:::{bucket}*",
            "arn:{partition}:s3:::{bucket}*/*",
        ]),
    ),
    allow(
        &[
            "s3:PutBucketLogging",
            "s3:PutBucketObjectLockConfiguration",
            "s3:PutBucketOwnershipControls",
            "s3:PutBucketPolicy",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketTagging",
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:PutReplicationConfiguration",
        ],
        UP,
        Scope::Arns(&[
            "arn:{partition}:s3:::{bucket}*",
            "arn:{partition}:s3:::{bucket}*/*",
        ]),
    ),
];

hms_core::permissions_test!(&["bucket"], &[]);
