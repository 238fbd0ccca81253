//! One [`TagApi`] adapter per AWS tagging API, each behind the feature of its SDK (`ec2`, `iam`, …) so a
//! tool links only the SDKs it uses. Every adapter removes `delta.remove` and sets `delta.set` (S3, which
//! replaces the whole set, writes `delta.all`). Errors name the resource id and the operation.
//!
//! ```ignore
//! hms_core::tags::sync(&Ec2Tags(&clients.ec2), &subnet_id, change).await?;
//! ```

#[allow(unused_imports)]
use crate::error::{Error, Result};
#[allow(unused_imports)]
use crate::tags::{TagApi, TagDelta};

#[allow(dead_code)]
fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("cannot build a tag: {e}"))
}

/// EC2 resources (VPC, subnets, gateways, route tables, security groups, …): `CreateTags` / `DeleteTags`.
#[cfg(feature = "ec2")]
pub struct Ec2Tags<'a>(pub &'a aws_sdk_ec2::Client);

#[cfg(feature = "ec2")]
impl TagApi for Ec2Tags<'_> {
    async fn write(&self, id: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_ec2::types::Tag;
        if !delta.remove.is_empty() {
            let keys = delta
                .remove
                .iter()
                .map(|k| Tag::builder().key(k).build())
                .collect();
            self.0
                .delete_tags()
                .resources(id)
                .set_tags(Some(keys))
                .send()
                .await
                .map_err(|e| Error::aws(id, "ec2:DeleteTags", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            self.0
                .create_tags()
                .resources(id)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(id, "ec2:CreateTags", e))?;
        }
        Ok(())
    }
}

/// IAM roles (by name): `TagRole` / `UntagRole`.
#[cfg(feature = "iam")]
pub struct IamRoleTags<'a>(pub &'a aws_sdk_iam::Client);

#[cfg(feature = "iam")]
impl TagApi for IamRoleTags<'_> {
    async fn write(&self, name: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_iam::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(name, "iam:UntagRole", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
                .collect::<Result<Vec<_>>>()?;
            self.0
                .tag_role()
                .role_name(name)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(name, "iam:TagRole", e))?;
        }
        Ok(())
    }
}

/// KMS keys (by key id or ARN): `TagResource` / `UntagResource`.
#[cfg(feature = "kms")]
pub struct KmsTags<'a>(pub &'a aws_sdk_kms::Client);

#[cfg(feature = "kms")]
impl TagApi for KmsTags<'_> {
    async fn write(&self, key: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_kms::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .key_id(key)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(key, "kms:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| {
                    Tag::builder()
                        .tag_key(k)
                        .tag_value(v)
                        .build()
                        .map_err(internal)
                })
                .collect::<Result<Vec<_>>>()?;
            self.0
                .tag_resource()
                .key_id(key)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(key, "kms:TagResource", e))?;
        }
        Ok(())
    }
}

/// CloudWatch Logs log groups (by ARN without the trailing `:*`): `TagResource` / `UntagResource`.
#[cfg(feature = "logs")]
pub struct LogsTags<'a>(pub &'a aws_sdk_cloudwatchlogs::Client);

#[cfg(feature = "logs")]
impl TagApi for LogsTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        let arn = arn.strip_suffix(":*").unwrap_or(arn);
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "logs:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            self.0
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(delta.set.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "logs:TagResource", e))?;
        }
        Ok(())
    }
}

/// RDS resources (by ARN): `AddTagsToResource` / `RemoveTagsFromResource`.
#[cfg(feature = "rds")]
pub struct RdsTags<'a>(pub &'a aws_sdk_rds::Client);

#[cfg(feature = "rds")]
impl TagApi for RdsTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_rds::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "rds:RemoveTagsFromResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            self.0
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "rds:AddTagsToResource", e))?;
        }
        Ok(())
    }
}

/// ECS resources (cluster, service, task definition; by ARN): `TagResource` / `UntagResource`.
#[cfg(feature = "ecs")]
pub struct EcsTags<'a>(pub &'a aws_sdk_ecs::Client);

#[cfg(feature = "ecs")]
impl TagApi for EcsTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_ecs::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "ecs:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            self.0
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "ecs:TagResource", e))?;
        }
        Ok(())
    }
}

/// Elastic Load Balancing v2 (load balancer, target groups, listeners, rules; by ARN): `AddTags` /
/// `RemoveTags`.
#[cfg(feature = "elb")]
pub struct ElbTags<'a>(pub &'a aws_sdk_elasticloadbalancingv2::Client);

#[cfg(feature = "elb")]
impl TagApi for ElbTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_elasticloadbalancingv2::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .remove_tags()
                .resource_arns(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "elasticloadbalancing:RemoveTags", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            self.0
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "elasticloadbalancing:AddTags", e))?;
        }
        Ok(())
    }
}

/// Application Auto Scaling scalable targets (by ARN): `TagResource` / `UntagResource`.
#[cfg(feature = "autoscaling")]
pub struct AutoScalingTags<'a>(pub &'a aws_sdk_applicationautoscaling::Client);

#[cfg(feature = "autoscaling")]
impl TagApi for AutoScalingTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "application-autoscaling:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            self.0
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(delta.set.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "application-autoscaling:TagResource", e))?;
        }
        Ok(())
    }
}

/// S3 buckets (by name): `PutBucketTagging` with the whole set (`DeleteBucketTagging` when empty).
pub struct S3BucketTags<'a>(pub &'a aws_sdk_s3::Client);

impl TagApi for S3BucketTags<'_> {
    async fn write(&self, bucket: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_s3::types::{Tag, Tagging};
        if delta.all.is_empty() {
            self.0
                .delete_bucket_tagging()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| Error::aws(bucket, "s3:DeleteBucketTagging", e))?;
            return Ok(());
        }
        let set = delta
            .all
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
            .collect::<Result<Vec<_>>>()?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(set))
            .build()
            .map_err(internal)?;
        self.0
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| Error::aws(bucket, "s3:PutBucketTagging", e))?;
        Ok(())
    }
}

/// SNS topics (by ARN): `TagResource` / `UntagResource`.
#[cfg(feature = "sns")]
pub struct SnsTags<'a>(pub &'a aws_sdk_sns::Client);

#[cfg(feature = "sns")]
impl TagApi for SnsTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_sns::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "sns:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
                .collect::<Result<Vec<_>>>()?;
            self.0
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "sns:TagResource", e))?;
        }
        Ok(())
    }
}

/// CloudWatch alarms (by ARN): `TagResource` / `UntagResource`.
#[cfg(feature = "cloudwatch")]
pub struct CloudWatchTags<'a>(pub &'a aws_sdk_cloudwatch::Client);

#[cfg(feature = "cloudwatch")]
impl TagApi for CloudWatchTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_cloudwatch::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "cloudwatch:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            self.0
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "cloudwatch:TagResource", e))?;
        }
        Ok(())
    }
}

/// X-Ray sampling rules and groups (by ARN): `TagResource` / `UntagResource`.
#[cfg(feature = "xray")]
pub struct XrayTags<'a>(pub &'a aws_sdk_xray::Client);

#[cfg(feature = "xray")]
impl TagApi for XrayTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_xray::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "xray:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
                .collect::<Result<Vec<_>>>()?;
            self.0
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "xray:TagResource", e))?;
        }
        Ok(())
    }
}

/// Secrets Manager secrets (by ARN or name): `TagResource` / `UntagResource`.
#[cfg(feature = "secretsmanager")]
pub struct SecretsTags<'a>(pub &'a aws_sdk_secretsmanager::Client);

#[cfg(feature = "secretsmanager")]
impl TagApi for SecretsTags<'_> {
    async fn write(&self, secret: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_secretsmanager::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .secret_id(secret)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(secret, "secretsmanager:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            self.0
                .tag_resource()
                .secret_id(secret)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(secret, "secretsmanager:TagResource", e))?;
        }
        Ok(())
    }
}

/// ElastiCache resources (replication groups, subnet and parameter groups, snapshots; by ARN):
/// `AddTagsToResource` / `RemoveTagsFromResource`.
#[cfg(feature = "elasticache")]
pub struct ElastiCacheTags<'a>(pub &'a aws_sdk_elasticache::Client);

#[cfg(feature = "elasticache")]
impl TagApi for ElastiCacheTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_elasticache::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "elasticache:RemoveTagsFromResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            self.0
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "elasticache:AddTagsToResource", e))?;
        }
        Ok(())
    }
}

/// ACM certificates (by ARN; the client must be in the certificate's region): `AddTagsToCertificate` /
/// `RemoveTagsFromCertificate`.
#[cfg(feature = "acm")]
pub struct AcmTags<'a>(pub &'a aws_sdk_acm::Client);

#[cfg(feature = "acm")]
impl TagApi for AcmTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_acm::types::Tag;
        if !delta.remove.is_empty() {
            let keys = delta
                .remove
                .iter()
                .map(|k| Tag::builder().key(k).build().map_err(internal))
                .collect::<Result<Vec<_>>>()?;
            self.0
                .remove_tags_from_certificate()
                .certificate_arn(arn)
                .set_tags(Some(keys))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "acm:RemoveTagsFromCertificate", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
                .collect::<Result<Vec<_>>>()?;
            self.0
                .add_tags_to_certificate()
                .certificate_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "acm:AddTagsToCertificate", e))?;
        }
        Ok(())
    }
}

/// Route 53 hosted zones (by zone id, with or without `/hostedzone/`): `ChangeTagsForResource`, at most 10
/// keys to add and 10 to remove per call.
#[cfg(feature = "route53")]
pub struct Route53ZoneTags<'a>(pub &'a aws_sdk_route53::Client);

#[cfg(feature = "route53")]
impl TagApi for Route53ZoneTags<'_> {
    async fn write(&self, zone: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_route53::types::{Tag, TagResourceType};
        let id = zone.trim_start_matches("/hostedzone/");
        let set: Vec<Tag> = delta
            .set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let (mut set, mut remove) = (set.as_slice(), delta.remove.as_slice());
        while !set.is_empty() || !remove.is_empty() {
            let (add_now, add_rest) = set.split_at(set.len().min(10));
            let (rm_now, rm_rest) = remove.split_at(remove.len().min(10));
            let mut call = self
                .0
                .change_tags_for_resource()
                .resource_type(TagResourceType::Hostedzone)
                .resource_id(id);
            if !add_now.is_empty() {
                call = call.set_add_tags(Some(add_now.to_vec()));
            }
            if !rm_now.is_empty() {
                call = call.set_remove_tag_keys(Some(rm_now.to_vec()));
            }
            call.send()
                .await
                .map_err(|e| Error::aws(id, "route53:ChangeTagsForResource", e))?;
            set = add_rest;
            remove = rm_rest;
        }
        Ok(())
    }
}

/// CloudFront distributions (by ARN): `TagResource` / `UntagResource`.
#[cfg(feature = "cloudfront")]
pub struct CloudFrontTags<'a>(pub &'a aws_sdk_cloudfront::Client);

#[cfg(feature = "cloudfront")]
impl TagApi for CloudFrontTags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_cloudfront::types::{Tag, TagKeys, Tags};
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource(arn)
                .tag_keys(
                    TagKeys::builder()
                        .set_items(Some(delta.remove.clone()))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Error::aws(arn, "cloudfront:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
                .collect::<Result<Vec<_>>>()?;
            self.0
                .tag_resource()
                .resource(arn)
                .tags(Tags::builder().set_items(Some(tags)).build())
                .send()
                .await
                .map_err(|e| Error::aws(arn, "cloudfront:TagResource", e))?;
        }
        Ok(())
    }
}

/// WAFv2 web ACLs (by ARN; a CLOUDFRONT-scoped one through a us-east-1 client): `TagResource` /
/// `UntagResource`.
#[cfg(feature = "wafv2")]
pub struct Wafv2Tags<'a>(pub &'a aws_sdk_wafv2::Client);

#[cfg(feature = "wafv2")]
impl TagApi for Wafv2Tags<'_> {
    async fn write(&self, arn: &str, delta: &TagDelta) -> Result<()> {
        use aws_sdk_wafv2::types::Tag;
        if !delta.remove.is_empty() {
            self.0
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(delta.remove.clone()))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "wafv2:UntagResource", e))?;
        }
        if !delta.set.is_empty() {
            let tags = delta
                .set
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
                .collect::<Result<Vec<_>>>()?;
            self.0
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws(arn, "wafv2:TagResource", e))?;
        }
        Ok(())
    }
}
