//! ARNs the kit builds at run time, with the partition of their region.
//!
//! An ARN names its partition (`arn:PARTITION:...`), and a principal or
//! resource ARN with the wrong one simply matches nothing: in China or
//! GovCloud an `arn:aws:iam::ID:root` principal would allow no one. So every
//! ARN the kit makes takes its partition from the region it works in, here.

/// The AWS partition of a region: `aws-cn` for `cn-*`, `aws-us-gov` for
/// `us-gov-*`, `aws` for everything else (including `*`, the wildcard region
/// of an unscoped IAM policy).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The principal that allows every identity of `account`
/// (`arn:PARTITION:iam::ACCOUNT:root`), as endpoint-service permissions
/// list whole accounts.
pub fn account_principal(region: &str, account: &str) -> String {
    format!("arn:{}:iam::{account}:root", partition(region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_follows_the_region() {
        for (region, expected) in [
            ("us-east-1", "aws"),
            ("eu-west-3", "aws"),
            ("*", "aws"),
            ("", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-gov-east-1", "aws-us-gov"),
        ] {
            assert_eq!(partition(region), expected, "{region}");
        }
    }

    #[test]
    fn account_principals_carry_the_partition() {
        assert_eq!(
            account_principal("us-east-1", "111111111111"),
            "arn:aws:iam::111111111111:root"
        );
        assert_eq!(
            account_principal("cn-north-1", "111111111111"),
            "arn:aws-cn:iam::111111111111:root"
        );
        assert_eq!(
            account_principal("us-gov-west-1", "111111111111"),
            "arn:aws-us-gov:iam::111111111111:root"
        );
    }
}
