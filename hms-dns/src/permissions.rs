//! The IAM actions hms-dns's calls need (see `hms_core::permissions`): the Route 53 zone and records, the ACM certificates (regional and us-east-1, by the stack's tags).

use hms_core::permissions::{allow, Permission, Scope, READ, UP, UP_DOWN};

/// hms-dns's list.
pub const PERMISSIONS: &[Permission] = &[
    allow(
        &["route53:CreateHostedZone"],
        UP,
        Scope::Any("CreateHostedZone has no resource-level permission"),
    ),
    allow(
        &["acm:RequestCertificate"],
        UP,
        Scope::Any("RequestCertificate has no resource-level permission (the certificate does not exist yet); the request carries the stack's tags"),
    ),
    allow(
        &[
            "acm:DescribeCertificate",
            "acm:ListCertificates",
            "acm:ListTagsForCertificate",
            "route53:GetHostedZone",
            "route53:ListHostedZonesByName",
            "route53:ListResourceRecordSets",
            "route53:ListTagsForResources",
        ],
        READ,
        Scope::Any("reads: Describe*/List* have no resource-level permission"),
    ),
    allow(
        &[
            "acm:DeleteCertificate",
            "acm:RemoveTagsFromCertificate",
        ],
        UP_DOWN,
        Scope::Tagged(&[
            "arn:{partition}:acm:{region}:{account}:certificate/*",
            "arn:{partition}:acm:us-east-1:{account}:certificate/*",
        ]),
    ),
    allow(
        &[
            "route53:DeleteHostedZone",
        ],
        UP_DOWN,
        Scope::Arns(&[
            "arn:{partition}:route53:::hostedzone/*",
        ]),
    ),
    allow(
        &[
            "acm:AddTagsToCertificate",
        ],
        UP,
        Scope::Tagged(&[
            "arn:{partition}:acm:{region}:{account}:certificate/*",
            "arn:{partition}:acm:us-east-1:{account}:certificate/*",
        ]),
    ),
    allow(
        &[
            "route53:ChangeResourceRecordSets",
            "route53:ChangeTagsForResource",
        ],
        UP,
        Scope::Arns(&[
            "arn:{partition}:route53:::hostedzone/*",
        ]),
    ),
];

hms_core::permissions_test!(&[], &[]);
