//! What one connection is keyed on — the vendor's service name and the
//! consumer's VPC — and everything derived from that key: the tags every
//! resource gets at creation, the names and idempotency tokens, and the
//! cleanup command. No local state file: `status`, `verify` and `disconnect`
//! find the resources again from this key alone.
//!
//! Also the validation of the other user inputs (DNS names, CIDRs,
//! durations, `--resolve`), so that a typo is reported before any call.

use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use privatelink_core::naming::MANAGED_BY_TAG;

use crate::ConsumerError;

/// Tag key whose value is the vendor's service name.
pub const SERVICE_TAG: &str = "privatelink-kit:consumer-service";
/// Tag key whose value is the consumer's VPC id.
pub const VPC_TAG: &str = "privatelink-kit:consumer-vpc";
/// Value of [`MANAGED_BY_TAG`] on consumer resources.
pub const MANAGED_BY: &str = "consumer-cli";
/// Tag key on the endpoint: the DNS name chosen at connect time.
pub const DNS_NAME_TAG: &str = "privatelink-kit:dns-name";
/// Tag key on the endpoint: the service port chosen at connect time.
pub const PORT_TAG: &str = "privatelink-kit:port";
/// Tag key on the endpoint: the outcome of the last `verify`.
pub const LAST_VERIFICATION_TAG: &str = "privatelink-kit:last-verification";

/// `--service-name`: an endpoint service name, trimmed.
pub fn parse_service_name(service_name: &str) -> Result<String, ConsumerError> {
    let service_name = service_name.trim();
    let ok = service_name.starts_with("com.amazonaws.vpce.")
        && service_name.contains(".vpce-svc-")
        && !service_name.contains(char::is_whitespace);
    if !ok {
        return Err(ConsumerError::Input(format!(
            "--service-name {service_name:?} is not an endpoint service name: the vendor \
             gives it to you in the form com.amazonaws.vpce.REGION.vpce-svc-ID"
        )));
    }
    Ok(service_name.to_string())
}

/// `--vpc`: a VPC id, trimmed.
pub fn parse_vpc_id(vpc_id: &str) -> Result<String, ConsumerError> {
    let vpc_id = vpc_id.trim();
    if !is_aws_id(vpc_id, "vpc-") {
        return Err(ConsumerError::Input(format!(
            "--vpc {vpc_id:?} is not a VPC id: write it like vpc-0abc1234def567890"
        )));
    }
    Ok(vpc_id.to_string())
}

/// The Region an endpoint service name was made in
/// (`com.amazonaws.vpce.REGION.vpce-svc-ID`), if the name has that shape.
pub fn service_name_region(service_name: &str) -> Option<&str> {
    let rest = service_name.strip_prefix("com.amazonaws.vpce.")?;
    let (region, id) = rest.split_once('.')?;
    (id.starts_with("vpce-svc-") && !region.is_empty()).then_some(region)
}

/// `--service-region`: the Region of the vendor's service, for a
/// cross-Region endpoint. It must be the Region in the service name (a
/// service's name carries its home Region).
pub fn parse_service_region(service_name: &str, region: &str) -> Result<String, ConsumerError> {
    let region = region.trim();
    let shape = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !shape {
        return Err(ConsumerError::Input(format!(
            "--service-region {region:?} is not a Region: write it like us-east-1"
        )));
    }
    match service_name_region(service_name) {
        Some(named) if named != region => Err(ConsumerError::Input(format!(
            "--service-region {region} does not match the service name, whose Region is              {named}: write --service-region {named}"
        ))),
        _ => Ok(region.to_string()),
    }
}

/// One connection: a vendor service reached from one VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub service_name: String,
    pub vpc_id: String,
    /// `--service-region`: the service is in this Region, possibly another
    /// one than the VPC's (AWS cross-Region PrivateLink). Not part of the
    /// key: the service name already names its Region.
    pub service_region: Option<String>,
}

impl Target {
    /// Checks the two inputs' shape.
    pub fn parse(service_name: &str, vpc_id: &str) -> Result<Target, ConsumerError> {
        Ok(Target {
            service_name: parse_service_name(service_name)?,
            vpc_id: parse_vpc_id(vpc_id)?,
            service_region: None,
        })
    }

    /// With `--service-region`, checked against the service name.
    pub fn with_service_region(mut self, region: Option<&str>) -> Result<Target, ConsumerError> {
        self.service_region = region
            .map(|r| parse_service_region(&self.service_name, r))
            .transpose()?;
        Ok(self)
    }

    /// True when the service is in another Region than `consumer_region`
    /// (the endpoint is made with `ServiceRegion`).
    pub fn is_cross_region(&self, consumer_region: &str) -> bool {
        self.service_region
            .as_deref()
            .is_some_and(|r| r != consumer_region)
    }

    /// A short stable hash of the key, for names and tokens.
    pub fn key(&self) -> String {
        format!("{:016x}", fnv64(&[&self.service_name, &self.vpc_id]))
    }

    /// The ownership tags every EC2 resource gets at creation.
    pub fn tags(&self) -> Vec<Tag> {
        vec![
            tag(SERVICE_TAG, &self.service_name),
            tag(VPC_TAG, &self.vpc_id),
            tag(MANAGED_BY_TAG, MANAGED_BY),
        ]
    }

    /// `TagSpecifications` for a resource of `kind`, with `extra` tags.
    pub fn tag_spec(&self, kind: ResourceType, extra: Vec<Tag>) -> TagSpecification {
        let mut tags = self.tags();
        tags.push(tag("Name", &format!("privatelink-{}", self.vpc_id)));
        tags.extend(extra);
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags))
            .build()
    }

    /// EC2 filters selecting this connection's resources.
    pub fn filters(&self) -> Vec<Filter> {
        vec![
            filter(&format!("tag:{SERVICE_TAG}"), &self.service_name),
            filter(&format!("tag:{VPC_TAG}"), &self.vpc_id),
            filter("vpc-id", &self.vpc_id),
        ]
    }

    /// The security group's name (unique per VPC, so a second create fails
    /// rather than duplicating).
    pub fn security_group_name(&self) -> String {
        format!("privatelink-{}", self.key())
    }

    /// The endpoint's `ClientToken`: the same inputs give the same token, so
    /// a create repeated after a lost answer returns the first endpoint.
    /// `generation` counts our endpoints deleted before (see
    /// [`crate::endpoint::NewEndpoint::generation`]).
    pub fn client_token(
        &self,
        subnet_ids: &[String],
        security_group_id: &str,
        generation: usize,
    ) -> String {
        let mut subnets = subnet_ids.to_vec();
        subnets.sort();
        let generation = generation.to_string();
        let mut parts = vec![
            self.service_name.as_str(),
            self.vpc_id.as_str(),
            security_group_id,
            generation.as_str(),
        ];
        parts.extend(subnets.iter().map(String::as_str));
        format!("consumer-cli-{:016x}", fnv64(&parts))
    }

    /// The prefix of our hosted zones' `CallerReference` (which Route 53
    /// keeps for the zone's life, set atomically at creation: our ownership
    /// mark, since Route 53 cannot tag at creation).
    pub fn zone_reference_prefix(&self) -> String {
        format!("privatelink-kit-consumer-{}-", self.key())
    }

    /// A fresh `CallerReference` (it must be unique per request).
    pub fn zone_caller_reference(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{}{nanos}", self.zone_reference_prefix())
    }

    /// The command that removes everything `connect` made for this target.
    pub fn cleanup_command(&self) -> String {
        let region = self
            .service_region
            .as_deref()
            .map(|r| format!(" --service-region {r}"))
            .unwrap_or_default();
        format!(
            "consumer-cli disconnect --service-name {} --vpc {}{region}",
            self.service_name, self.vpc_id
        )
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// FNV-1a over the parts (with a separator): stable across builds and
/// platforms, unlike `std`'s hasher. Not for security, only for names.
pub fn fnv64(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0u8)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn is_aws_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Checks `--subnets` values.
pub fn parse_subnet_ids(values: &[String]) -> Result<Vec<String>, ConsumerError> {
    values
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            if is_aws_id(s, "subnet-") {
                Ok(s.to_string())
            } else {
                Err(ConsumerError::Input(format!(
                    "--subnets {s:?} is not a subnet id: write it like subnet-0abc1234def567890"
                )))
            }
        })
        .collect()
}

/// Checks a DNS name (`--dns-name`): lowercase-insensitive labels of letters,
/// digits and '-', at least two labels, no trailing dot needed.
pub fn parse_dns_name(name: &str) -> Result<String, ConsumerError> {
    let trimmed = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = trimmed.split('.').collect();
    let ok = trimmed.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(trimmed)
    } else {
        Err(ConsumerError::Input(format!(
            "--dns-name {name:?} is not a DNS name: write it like api.vendor.internal"
        )))
    }
}

/// An IPv4 CIDR block, checked and normalised (`--allow-cidr`).
pub fn parse_cidr(value: &str) -> Result<String, ConsumerError> {
    let bad = || {
        ConsumerError::Input(format!(
            "--allow-cidr {value:?} is not an IPv4 CIDR block: write it like 10.0.0.0/16"
        ))
    };
    let net: ipnet::Ipv4Net = value.trim().parse().map_err(|_| bad())?;
    Ok(net.to_string())
}

/// Durations as people write them: `15m`, `90s`, `1h`, `500ms`, or seconds.
pub fn parse_duration(flag: &str, value: &str) -> Result<Duration, ConsumerError> {
    let v = value.trim();
    let (number, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = number.parse().map_err(|_| {
        ConsumerError::Input(format!(
            "{flag} {value:?} is not a duration: write it like 15m, 90s or 1h"
        ))
    })?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => {
            return Err(ConsumerError::Input(format!(
                "{flag} {value:?} has an unknown unit {unit:?}: use ms, s, m or h"
            )))
        }
    };
    if duration.is_zero() {
        return Err(ConsumerError::Input(format!(
            "{flag} must be longer than zero"
        )));
    }
    Ok(duration)
}

/// `--resolve NAME:IP`: use IP for NAME instead of DNS.
pub fn parse_resolve(value: &str) -> Result<(String, IpAddr), ConsumerError> {
    let bad = || {
        ConsumerError::Input(format!(
            "--resolve {value:?} must be NAME:IP, e.g. api.vendor.internal:10.0.1.25"
        ))
    };
    let (name, ip) = value.split_once(':').ok_or_else(bad)?;
    let ip = ip.trim_matches(|c| c == '[' || c == ']');
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    Ok((parse_dns_name(name).map_err(|_| bad())?, ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::parse(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
            "vpc-0abc",
        )
        .unwrap()
    }

    #[test]
    fn service_region_must_be_the_service_names_region() {
        let name = &target().service_name;
        assert_eq!(service_name_region(name), Some("us-east-1"));
        assert_eq!(service_name_region("com.amazonaws.vpce.svc"), None);
        let cross = target().with_service_region(Some(" us-east-1 ")).unwrap();
        assert_eq!(cross.service_region.as_deref(), Some("us-east-1"));
        assert!(cross.is_cross_region("us-west-2"));
        assert!(!cross.is_cross_region("us-east-1"));
        assert!(!target().is_cross_region("us-west-2"));
        // Same key, tags and tokens: the name already names the Region.
        assert_eq!(cross.key(), target().key());
        assert!(cross
            .cleanup_command()
            .ends_with("--vpc vpc-0abc --service-region us-east-1"));
        let err = target().with_service_region(Some("eu-west-1")).unwrap_err();
        assert!(
            err.to_string().contains("write --service-region us-east-1"),
            "{err}"
        );
        for bad in ["", "US-EAST-1", "us east 1"] {
            let err = target().with_service_region(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("is not a Region"), "{bad}: {err}");
        }
    }

    #[test]
    fn inputs_are_checked_with_a_fix() {
        let err = Target::parse("vpce-svc-123", "vpc-1").unwrap_err();
        assert!(
            err.to_string().contains("com.amazonaws.vpce.REGION"),
            "{err}"
        );
        let err = Target::parse(&target().service_name, "vpc 1").unwrap_err();
        assert!(err.to_string().contains("--vpc"), "{err}");
        assert!(parse_subnet_ids(&["subnet-12ab".into(), "sn-1".into()]).is_err());
        assert_eq!(
            parse_dns_name("API.Vendor.internal.").unwrap(),
            "api.vendor.internal"
        );
        for bad in ["localhost", "a..b", "-a.b", "a_b.c", ""] {
            assert!(parse_dns_name(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_cidr("10.1.0.0/16").unwrap(), "10.1.0.0/16");
        for bad in ["10.1.0.0", "10.1.0.0/33", "x/8"] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        let cases = [
            ("15m", 900_000),
            ("90s", 90_000),
            ("1h", 3_600_000),
            ("500ms", 500),
            ("7", 7000),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_duration("--wait", text).unwrap().as_millis(), ms);
        }
        assert!(parse_duration("--wait", "0s").is_err());
        assert!(parse_duration("--wait", "5d")
            .unwrap_err()
            .to_string()
            .contains("unit"));
    }

    #[test]
    fn resolve_override() {
        let (name, ip) = parse_resolve("api.vendor.internal:127.0.0.1").unwrap();
        assert_eq!(name, "api.vendor.internal");
        assert_eq!(ip.to_string(), "127.0.0.1");
        assert!(parse_resolve("api.vendor.internal").is_err());
        assert!(parse_resolve("api.vendor.internal:nope").is_err());
    }

    #[test]
    fn derived_names_are_stable_and_input_sensitive() {
        let t = target();
        assert_eq!(t.key(), target().key());
        let other = Target::parse(&t.service_name, "vpc-0abd").unwrap();
        assert_ne!(t.key(), other.key());
        let a = t.client_token(&["subnet-2".into(), "subnet-1".into()], "sg-1", 0);
        let b = t.client_token(&["subnet-1".into(), "subnet-2".into()], "sg-1", 0);
        assert_eq!(a, b, "subnet order does not matter");
        assert_ne!(a, t.client_token(&["subnet-1".into()], "sg-1", 0));
        assert_ne!(
            a,
            t.client_token(&["subnet-2".into(), "subnet-1".into()], "sg-1", 1)
        );
        assert!(a.len() <= 64);
        assert!(t
            .zone_caller_reference()
            .starts_with(&t.zone_reference_prefix()));
        assert!(t.cleanup_command().contains("--vpc vpc-0abc"));
    }
}
