//! Pure checks made before anything is created: which subnets the endpoint
//! goes into (one per Availability Zone the service supports, matched by AZ
//! ID because AZ names differ between accounts) and whether the VPC's DNS
//! attributes allow private DNS and private hosted zones.

use serde::Serialize;

use crate::ConsumerError;

/// One subnet of the consumer's VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetInfo {
    pub subnet_id: String,
    /// The AZ ID (`use1-az1`), the same physical AZ in every account.
    pub zone_id: String,
    /// The AZ name in this account (`us-east-1a`).
    pub zone_name: String,
    pub available_ips: i32,
}

/// The AZ IDs the endpoint may use: the service's, or for a cross-Region
/// endpoint every AZ of the VPC (AWS: "provider and consumer AZs do not have
/// to line up" across Regions; the service's AZ IDs are another Region's).
pub fn endpoint_zone_ids(
    service_zone_ids: &[String],
    vpc_subnets: &[SubnetInfo],
    cross_region: bool,
) -> Vec<String> {
    if !cross_region {
        return service_zone_ids.to_vec();
    }
    let mut zones: Vec<String> = vpc_subnets.iter().map(|s| s.zone_id.clone()).collect();
    zones.sort();
    zones.dedup();
    zones
}

/// Picks the endpoint's subnets.
///
/// With `requested` subnets: each must be in the VPC and in an AZ the
/// service supports, at most one per AZ (AWS allows one per AZ). Without:
/// one subnet in every service AZ the VPC has a subnet in, preferring the
/// most free addresses, then the smallest id, so re-runs choose the same.
pub fn select_subnets(
    vpc_id: &str,
    service_zone_ids: &[String],
    vpc_subnets: &[SubnetInfo],
    requested: &[String],
) -> Result<Vec<SubnetInfo>, ConsumerError> {
    let mut service_zones: Vec<String> = service_zone_ids.to_vec();
    service_zones.sort();
    service_zones.dedup();
    if !requested.is_empty() {
        let mut chosen: Vec<SubnetInfo> = Vec::new();
        for id in requested {
            let subnet = vpc_subnets
                .iter()
                .find(|s| &s.subnet_id == id)
                .ok_or_else(|| {
                    ConsumerError::Subnets(format!(
                        "subnet {id} is not in VPC {vpc_id}: pass subnets of that VPC to \
                         --subnets, or leave --subnets out to choose automatically"
                    ))
                })?;
            if !service_zones.contains(&subnet.zone_id) {
                return Err(ConsumerError::Subnets(format!(
                    "subnet {id} is in AZ ID {} ({}), which the service does not support; the \
                     service is in AZ IDs [{}]",
                    subnet.zone_id,
                    subnet.zone_name,
                    service_zones.join(", ")
                )));
            }
            if let Some(other) = chosen.iter().find(|c| c.zone_id == subnet.zone_id) {
                return Err(ConsumerError::Subnets(format!(
                    "subnets {} and {id} are both in AZ ID {}: an endpoint takes one subnet \
                     per Availability Zone",
                    other.subnet_id, subnet.zone_id
                )));
            }
            chosen.push(subnet.clone());
        }
        chosen.sort_by(|a, b| a.zone_id.cmp(&b.zone_id));
        return Ok(chosen);
    }
    let mut chosen = Vec::new();
    for zone in &service_zones {
        let best = vpc_subnets
            .iter()
            .filter(|s| &s.zone_id == zone)
            .min_by(|a, b| {
                b.available_ips
                    .cmp(&a.available_ips)
                    .then_with(|| a.subnet_id.cmp(&b.subnet_id))
            });
        if let Some(subnet) = best {
            chosen.push(subnet.clone());
        }
    }
    if chosen.is_empty() {
        let mut vpc_zones: Vec<String> = vpc_subnets.iter().map(|s| s.zone_id.clone()).collect();
        vpc_zones.sort();
        vpc_zones.dedup();
        return Err(ConsumerError::NoMatchingSubnets {
            vpc_id: vpc_id.to_string(),
            service_zones: service_zones.join(", "),
            vpc_zones: if vpc_zones.is_empty() {
                "no subnets".into()
            } else {
                vpc_zones.join(", ")
            },
        });
    }
    Ok(chosen)
}

/// The two VPC attributes PrivateLink DNS depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DnsAttributes {
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
}

impl DnsAttributes {
    /// The attributes that are off, by their API names.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !self.enable_dns_support {
            missing.push("enableDnsSupport");
        }
        if !self.enable_dns_hostnames {
            missing.push("enableDnsHostnames");
        }
        missing
    }

    /// The error for a VPC with attributes off, with the exact commands that
    /// fix it (one attribute per call: the API takes one at a time).
    pub fn check(&self, vpc_id: &str) -> Result<(), ConsumerError> {
        let missing = self.missing();
        if missing.is_empty() {
            return Ok(());
        }
        let fix = missing
            .iter()
            .map(|attr| {
                let flag = if *attr == "enableDnsSupport" {
                    "--enable-dns-support"
                } else {
                    "--enable-dns-hostnames"
                };
                format!(
                    "  aws ec2 modify-vpc-attribute --vpc-id {vpc_id} {flag} '{{\"Value\":true}}'"
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Err(ConsumerError::VpcDns {
            vpc_id: vpc_id.to_string(),
            missing: missing.join(" and "),
            fix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, zone: &str, free: i32) -> SubnetInfo {
        SubnetInfo {
            subnet_id: id.into(),
            zone_id: zone.into(),
            zone_name: format!("name-of-{zone}"),
            available_ips: free,
        }
    }

    fn ids(subnets: &[SubnetInfo]) -> Vec<&str> {
        subnets.iter().map(|s| s.subnet_id.as_str()).collect()
    }

    #[test]
    fn one_subnet_per_service_zone_by_az_id() {
        let service = ["use1-az2".to_string(), "use1-az1".to_string()];
        let vpc = [
            subnet("subnet-b", "use1-az1", 200),
            subnet("subnet-a", "use1-az1", 200),
            subnet("subnet-c", "use1-az1", 100),
            subnet("subnet-d", "use1-az2", 5),
            subnet("subnet-e", "use1-az3", 250),
        ];
        let chosen = select_subnets("vpc-1", &service, &vpc, &[]).unwrap();
        // Most free addresses, then the smallest id; az3 is not a service AZ.
        assert_eq!(ids(&chosen), ["subnet-a", "subnet-d"]);
    }

    #[test]
    fn no_common_zone_names_both_sides() {
        let service = ["use1-az4".to_string(), "use1-az5".to_string()];
        let vpc = [
            subnet("subnet-a", "use1-az1", 10),
            subnet("subnet-b", "use1-az2", 10),
        ];
        let err = select_subnets("vpc-1", &service, &vpc, &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("[use1-az4, use1-az5]"), "{text}");
        assert!(text.contains("[use1-az1, use1-az2]"), "{text}");
        let err = select_subnets("vpc-1", &service, &[], &[]).unwrap_err();
        assert!(err.to_string().contains("[no subnets]"), "{err}");
    }

    #[test]
    fn cross_region_endpoints_use_every_zone_of_the_vpc() {
        let service = ["use1-az1".to_string(), "use1-az2".to_string()];
        let vpc = [
            subnet("subnet-a", "usw2-az1", 10),
            subnet("subnet-b", "usw2-az1", 20),
            subnet("subnet-c", "usw2-az3", 10),
        ];
        assert_eq!(endpoint_zone_ids(&service, &vpc, false), service);
        let zones = endpoint_zone_ids(&service, &vpc, true);
        assert_eq!(zones, ["usw2-az1", "usw2-az3"]);
        let chosen = select_subnets("vpc-1", &zones, &vpc, &[]).unwrap();
        assert_eq!(ids(&chosen), ["subnet-b", "subnet-c"]);
        // Same Region: none of the VPC's AZs is the service's.
        assert!(select_subnets("vpc-1", &service, &vpc, &[]).is_err());
    }

    #[test]
    fn requested_subnets_are_checked() {
        let service = ["use1-az1".to_string(), "use1-az2".to_string()];
        let vpc = [
            subnet("subnet-a", "use1-az1", 10),
            subnet("subnet-b", "use1-az1", 10),
            subnet("subnet-c", "use1-az3", 10),
            subnet("subnet-d", "use1-az2", 10),
        ];
        let ok = select_subnets(
            "vpc-1",
            &service,
            &vpc,
            &["subnet-d".into(), "subnet-b".into()],
        );
        assert_eq!(ids(&ok.unwrap()), ["subnet-b", "subnet-d"]);
        let cases = [
            (vec!["subnet-x"], "is not in VPC vpc-1"),
            (vec!["subnet-c"], "AZ ID use1-az3"),
            (
                vec!["subnet-a", "subnet-b"],
                "one subnet per Availability Zone",
            ),
        ];
        for (requested, expected) in cases {
            let requested: Vec<String> = requested.into_iter().map(String::from).collect();
            let err = select_subnets("vpc-1", &service, &vpc, &requested).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[test]
    fn dns_attributes_name_the_fix() {
        let ok = DnsAttributes {
            enable_dns_support: true,
            enable_dns_hostnames: true,
        };
        assert!(ok.check("vpc-1").is_ok());
        let off = DnsAttributes {
            enable_dns_support: true,
            enable_dns_hostnames: false,
        };
        assert_eq!(off.missing(), ["enableDnsHostnames"]);
        let text = off.check("vpc-1").unwrap_err().to_string();
        assert!(text.contains("--fix-vpc-dns"), "{text}");
        assert!(
            text.contains("aws ec2 modify-vpc-attribute --vpc-id vpc-1 --enable-dns-hostnames"),
            "{text}"
        );
        assert!(!text.contains("--enable-dns-support"), "{text}");
    }
}
