//! The customer's least-privilege policy for `connect`, `verify`, `status`
//! and `disconnect` (`consumer-cli iam-policy`): every AWS call those
//! commands make, enumerated from this crate's adapters ([`crate::vpc`],
//! [`crate::security_group`], [`crate::endpoint`], [`crate::dns`]), plus the
//! actions AWS checks implicitly, each scoped as far as AWS allows.
//!
//! Resource types, condition keys and dependent actions are from AWS's
//! Service Authorization Reference (SAR), "Actions, resources, and condition
//! keys for Amazon EC2" (`list_amazonec2.html`) and "… for Amazon Route 53"
//! (`list_amazonroute53.html`). As for the provider's policies
//! (`endpoint_service::provision::policy`): an action is authorized once per
//! resource type it touches and every condition of a statement must hold for
//! that resource type, so each statement is written per resource type.
//!
//! What AWS does not let us scope, and why the statement is still narrow
//! enough, is said at each statement; `docs/consumer.md` sums it up.

use std::fmt;

use privatelink_core::naming::MANAGED_BY_TAG;
use serde_json::{json, Value};

use crate::connection_key::{LAST_VERIFICATION_TAG, MANAGED_BY, SERVICE_TAG, VPC_TAG};

/// Where the policy applies. `None` is `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsumerScope {
    pub account: Option<String>,
    pub region: Option<String>,
    /// The customer's VPC: when given, every VPC-bound grant is for it only.
    pub vpc_id: Option<String>,
    /// The vendor's endpoint service name: when given, endpoints may be
    /// created for this service only.
    pub service_name: Option<String>,
    /// The name `connect --dns-name` sets up: when given, record changes are
    /// for this name only (`route53:ChangeResourceRecordSetsNormalizedRecordNames`).
    pub dns_name: Option<String>,
    /// `--service-region`: the vendor's service is in this Region (maybe not
    /// the consumer's): cross-Region endpoints are allowed too.
    pub service_region: Option<String>,
}

/// Read-only calls with no resource type in the SAR (they need `*`).
pub const READ_ACTIONS: &[&str] = &[
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcEndpointServices",
    "ec2:DescribeNetworkInterfaces",
    "route53:ListHostedZones",
    "route53:ListHostedZonesByName",
];

/// What a cross-Region endpoint needs on top (`iam-policy --service-region`):
/// the permission-only action `vpce:AllowMultiRegion`, which AWS requires of
/// both the provider and the consumer for cross-Region PrivateLink (PrivateLink
/// guide, "Cross-Region access"; privatelink-facts.md §5.5). It has no
/// resource type, so `*`. The endpoint itself is made in the consumer's own
/// Region, so every ARN above stays in `region`; the service (in another
/// Region) is only named by `ec2:VpceServiceName`, which carries its Region.
pub const CROSS_REGION_ACTIONS: &[&str] = &["vpce:AllowMultiRegion"];

/// Every action the consumer policy allows: what `connect`, `verify`,
/// `status` and `disconnect` call, plus what AWS checks implicitly
/// (`ec2:CreateTags` for tags given at creation, `ec2:DescribeVpcs` and
/// `route53:AssociateVPCWithHostedZone` for a private hosted zone created
/// with a VPC, SAR "dependent actions").
pub const CONSUMER_ACTIONS: &[&str] = &[
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcEndpointServices",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcAttribute",
    "ec2:ModifyVpcAttribute",
    "ec2:CreateSecurityGroup",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:DeleteSecurityGroup",
    "ec2:CreateVpcEndpoint",
    "ec2:ModifyVpcEndpoint",
    "ec2:DeleteVpcEndpoints",
    "ec2:CreateTags",
    "route53:ListHostedZones",
    "route53:ListHostedZonesByName",
    "route53:GetHostedZone",
    "route53:ListResourceRecordSets",
    "route53:CreateHostedZone",
    "route53:AssociateVPCWithHostedZone",
    "route53:ChangeResourceRecordSets",
    "route53:DeleteHostedZone",
];

impl ConsumerScope {
    fn region(&self) -> &str {
        self.region.as_deref().unwrap_or("*")
    }

    /// The partition of the region (`aws-cn`, `aws-us-gov`, else `aws`):
    /// an `arn:aws:` ARN matches nothing in the other partitions.
    fn partition(&self) -> &'static str {
        privatelink_core::arn::partition(self.region())
    }

    fn ec2(&self, resource: &str) -> String {
        format!(
            "arn:{}:ec2:{}:{}:{resource}",
            self.partition(),
            self.region(),
            self.account.as_deref().unwrap_or("*")
        )
    }

    /// Every hosted zone (Route 53 ARNs have no region or account).
    fn hosted_zones(&self) -> String {
        format!("arn:{}:route53:::hostedzone/*", self.partition())
    }

    fn vpc_arn(&self) -> String {
        self.ec2(&format!("vpc/{}", self.vpc_id.as_deref().unwrap_or("*")))
    }

    /// The tags `connect` puts on what it creates, as `aws:RequestTag`
    /// (creating) or `aws:ResourceTag` (changing) conditions: always the
    /// managed-by tag, and the VPC and service tags when known.
    fn tags(&self, key: &str) -> Value {
        let mut tags = serde_json::Map::new();
        tags.insert(format!("{key}/{MANAGED_BY_TAG}"), json!(MANAGED_BY));
        if let Some(vpc) = &self.vpc_id {
            tags.insert(format!("{key}/{VPC_TAG}"), json!(vpc));
        }
        if let Some(service) = &self.service_name {
            tags.insert(format!("{key}/{SERVICE_TAG}"), json!(service));
        }
        Value::Object(tags)
    }

    /// Route 53's `route53:VPCs` value for the VPC: `VPCId=…,VPCRegion=…`,
    /// lowercase (Route 53 developer guide, "Normalizing Route 53 condition
    /// key values", specifying-conditions-route53.html). With StringLike, so
    /// that an unknown VPC or region is `*`.
    fn route53_vpcs(&self) -> String {
        format!(
            "VPCId={},VPCRegion={}",
            self.vpc_id.as_deref().unwrap_or("*").to_ascii_lowercase(),
            self.region().to_ascii_lowercase()
        )
    }
}

/// The policy document.
pub fn consumer_policy(scope: &ConsumerScope) -> Value {
    let zones = scope.hosted_zones();
    // SAR (Route 53): ChangeResourceRecordSets carries the record types,
    // actions and normalized names of the batch (multivalued: ForAllValues,
    // with Null false so that a request without them does not pass). The
    // name, when known, keeps the customer's other zones' records out of
    // reach; Route 53 normalizes names to lower case without the final dot.
    let mut record_conditions = json!({
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsRecordTypes": ["A"],
            "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"]
        },
        "Null": {
            "route53:ChangeResourceRecordSetsRecordTypes": "false",
            "route53:ChangeResourceRecordSetsActions": "false"
        }
    });
    if let Some(name) = &scope.dns_name {
        let normalized = name.trim_end_matches('.').to_ascii_lowercase();
        record_conditions["ForAllValues:StringEquals"]
            ["route53:ChangeResourceRecordSetsNormalizedRecordNames"] = json!([normalized]);
        record_conditions["Null"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"] =
            json!("false");
    }
    let owned = scope.tags("aws:ResourceTag");
    let mut endpoint_create = serde_json::Map::new();
    endpoint_create.insert("StringEquals".into(), scope.tags("aws:RequestTag"));
    if let Some(service) = &scope.service_name {
        endpoint_create["StringEquals"]
            .as_object_mut()
            .expect("an object")
            .insert("ec2:VpceServiceName".into(), json!(service));
    }
    let mut tag_on_create = scope.tags("aws:RequestTag");
    tag_on_create.as_object_mut().expect("an object").insert(
        "ec2:CreateAction".into(),
        json!(["CreateSecurityGroup", "CreateVpcEndpoint"]),
    );
    let vpcs = json!({"route53:VPCs": [scope.route53_vpcs()]});
    let mut policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": READ_ACTIONS, "Resource": "*"},
            // SAR (EC2): DescribeVpcAttribute authorizes `vpc*`.
            {"Sid": "ReadTheVpcDnsAttributes", "Effect": "Allow", "Action": "ec2:DescribeVpcAttribute", "Resource": scope.vpc_arn()},
            // Only `connect --fix-vpc-dns`: turns enableDnsSupport and
            // enableDnsHostnames on. Drop this statement to forbid it.
            {"Sid": "FixTheVpcDnsAttributes", "Effect": "Allow", "Action": "ec2:ModifyVpcAttribute", "Resource": scope.vpc_arn()},
            // SAR (EC2): CreateSecurityGroup authorizes `security-group*`
            // (with `aws:RequestTag`) and the optional `vpc` (without): one
            // statement each.
            {
                "Sid": "CreateTaggedSecurityGroups",
                "Effect": "Allow",
                "Action": "ec2:CreateSecurityGroup",
                "Resource": scope.ec2("security-group/*"),
                "Condition": {"StringEquals": scope.tags("aws:RequestTag")}
            },
            {"Sid": "CreateSecurityGroupsInTheVpc", "Effect": "Allow", "Action": "ec2:CreateSecurityGroup", "Resource": scope.vpc_arn()},
            {
                "Sid": "ChangeOwnSecurityGroups",
                "Effect": "Allow",
                "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
                "Resource": scope.ec2("security-group/*"),
                "Condition": {"StringEquals": owned}
            },
            // SAR (EC2): AuthorizeSecurityGroupIngress also authorizes the
            // optional `security-group-rule` it creates, which carries no
            // resource tag; the group statement above is what limits it.
            {"Sid": "RulesOfOwnSecurityGroups", "Effect": "Allow", "Action": "ec2:AuthorizeSecurityGroupIngress", "Resource": scope.ec2("security-group-rule/*")},
            // SAR (EC2): CreateVpcEndpoint authorizes `vpc-endpoint*` (with
            // `aws:RequestTag` and `ec2:VpceServiceName`), `vpc*`, and the
            // optional `subnet` and `security-group`: one statement each.
            {
                "Sid": "CreateTaggedEndpoints",
                "Effect": "Allow",
                "Action": "ec2:CreateVpcEndpoint",
                "Resource": scope.ec2("vpc-endpoint/*"),
                "Condition": endpoint_create
            },
            {"Sid": "CreateEndpointsInTheVpc", "Effect": "Allow", "Action": "ec2:CreateVpcEndpoint", "Resource": [scope.vpc_arn(), scope.ec2("subnet/*")]},
            {
                "Sid": "CreateEndpointsWithOwnSecurityGroups",
                "Effect": "Allow",
                "Action": "ec2:CreateVpcEndpoint",
                "Resource": scope.ec2("security-group/*"),
                "Condition": {"StringEquals": scope.tags("aws:ResourceTag")}
            },
            // SAR (EC2): the two creates list `ec2:CreateTags` as a
            // dependent action for their TagSpecifications.
            {
                "Sid": "TagOnCreateOnly",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": [scope.ec2("security-group/*"), scope.ec2("vpc-endpoint/*")],
                "Condition": {"StringEquals": tag_on_create}
            },
            // `verify` keeps its outcome as one tag on the endpoint.
            {
                "Sid": "RecordVerificationOnOwnEndpoints",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": scope.ec2("vpc-endpoint/*"),
                "Condition": {
                    "StringEquals": scope.tags("aws:ResourceTag"),
                    "ForAllValues:StringEquals": {"aws:TagKeys": [LAST_VERIFICATION_TAG]}
                }
            },
            {
                "Sid": "ChangeOwnEndpoints",
                "Effect": "Allow",
                "Action": ["ec2:ModifyVpcEndpoint", "ec2:DeleteVpcEndpoints"],
                "Resource": scope.ec2("vpc-endpoint/*"),
                "Condition": {"StringEquals": scope.tags("aws:ResourceTag")}
            },
            // SAR (Route 53): CreateHostedZone has no resource type; it
            // carries `route53:VPCs` (multivalued) and depends on
            // `ec2:DescribeVpcs`. `Null` false: a public zone (no VPC) is
            // not allowed.
            {
                "Sid": "CreatePrivateZonesForTheVpcOnly",
                "Effect": "Allow",
                "Action": "route53:CreateHostedZone",
                "Resource": "*",
                "Condition": {"ForAllValues:StringLike": vpcs, "Null": {"route53:VPCs": "false"}}
            },
            // SAR (Route 53): AssociateVPCWithHostedZone authorizes
            // `hostedzone` and carries `route53:VPCs`. No `Null` here: AWS
            // also checks this action, without that key, when an interface
            // endpoint's private DNS is turned on (SAR, CreateVpcEndpoint
            // dependent actions).
            {
                "Sid": "AssociateTheVpcOnly",
                "Effect": "Allow",
                "Action": "route53:AssociateVPCWithHostedZone",
                "Resource": zones,
                "Condition": {"ForAllValues:StringLike": vpcs}
            },
            // Zone ids are only known once `connect` made them, and a hosted
            // zone carries no condition key (SAR: `hostedzone` has none, and
            // CreateHostedZone takes no tags), so these cover the account's
            // zones. What limits them: record changes are ALIAS A records
            // only (UPSERT, DELETE); Route 53 deletes only empty zones
            // (HostedZoneNotEmpty), so DeleteHostedZone cannot remove a zone
            // that still holds records.
            {
                "Sid": "ReadZones",
                "Effect": "Allow",
                "Action": ["route53:GetHostedZone", "route53:ListResourceRecordSets"],
                "Resource": zones
            },
            {
                "Sid": "ChangeAliasRecordsOnly",
                "Effect": "Allow",
                "Action": "route53:ChangeResourceRecordSets",
                "Resource": zones,
                "Condition": record_conditions
            },
            {"Sid": "DeleteEmptyZones", "Effect": "Allow", "Action": "route53:DeleteHostedZone", "Resource": zones}
        ]
    });
    if scope.service_region.is_some() {
        policy["Statement"]
            .as_array_mut()
            .expect("an array")
            .push(json!({
                "Sid": "ConnectAcrossRegions",
                "Effect": "Allow",
                "Action": CROSS_REGION_ACTIONS,
                "Resource": "*"
            }));
    }
    policy
}

/// What `consumer-cli iam-policy` prints.
#[derive(Debug, serde::Serialize)]
pub struct ConsumerPolicyReport {
    pub account: String,
    pub region: String,
    pub vpc: Option<String>,
    pub service_name: Option<String>,
    pub dns_name: Option<String>,
    pub service_region: Option<String>,
    pub consumer_policy: Value,
}

impl ConsumerPolicyReport {
    pub fn new(scope: &ConsumerScope) -> ConsumerPolicyReport {
        ConsumerPolicyReport {
            account: scope.account.clone().unwrap_or_else(|| "*".into()),
            region: scope.region().to_string(),
            vpc: scope.vpc_id.clone(),
            service_name: scope.service_name.clone(),
            dns_name: scope.dns_name.clone(),
            service_region: scope.service_region.clone(),
            consumer_policy: consumer_policy(scope),
        }
    }
}

impl fmt::Display for ConsumerPolicyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# Consumer policy for connect/verify/status/disconnect (account {}, region {}, VPC {}, service {}, DNS name {}, service region {})",
            self.account,
            self.region,
            self.vpc.as_deref().unwrap_or("any"),
            self.service_name.as_deref().unwrap_or("any"),
            self.dns_name.as_deref().unwrap_or("any"),
            self.service_region.as_deref().unwrap_or("same as region"),
        )?;
        write!(
            f,
            "{}",
            serde_json::to_string_pretty(&self.consumer_policy).unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoped() -> ConsumerScope {
        ConsumerScope {
            account: Some("222222222222".into()),
            region: Some("us-east-1".into()),
            vpc_id: Some("vpc-0abc".into()),
            service_name: Some("com.amazonaws.vpce.us-east-1.vpce-svc-0123".into()),
            dns_name: Some("API.Vendor.Internal.".into()),
            service_region: None,
        }
    }

    #[test]
    fn cross_region_adds_only_allow_multi_region() {
        let same = consumer_policy(&scoped());
        let cross = consumer_policy(&ConsumerScope {
            region: Some("us-west-2".into()),
            service_region: Some("us-east-1".into()),
            ..scoped()
        });
        assert!(!same.to_string().contains("vpce:"), "{same}");
        let added = by_sid(&cross, "ConnectAcrossRegions");
        assert_eq!(list(&added["Action"]), ["vpce:AllowMultiRegion"]);
        assert_eq!(added["Resource"], "*");
        assert_eq!(statements(&cross).len(), statements(&same).len() + 1);
        // The endpoint is the consumer's, in the consumer's Region; the
        // service is named (with its Region) by ec2:VpceServiceName.
        let create = by_sid(&cross, "CreateTaggedEndpoints");
        assert_eq!(
            create["Resource"],
            "arn:aws:ec2:us-west-2:222222222222:vpc-endpoint/*"
        );
        assert_eq!(
            create["Condition"]["StringEquals"]["ec2:VpceServiceName"],
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123"
        );
    }

    #[test]
    fn arns_take_the_partition_of_the_region() {
        let china = consumer_policy(&ConsumerScope {
            region: Some("cn-north-1".into()),
            ..scoped()
        });
        let text = china.to_string();
        assert!(
            text.contains("arn:aws-cn:ec2:cn-north-1:222222222222:vpc/vpc-0abc"),
            "{text}"
        );
        assert!(text.contains("arn:aws-cn:route53:::hostedzone/*"), "{text}");
        assert!(!text.contains("arn:aws:"), "{text}");
    }

    #[test]
    fn record_changes_are_for_the_dns_name_only_when_given() {
        let named = consumer_policy(&scoped());
        let condition = &by_sid(&named, "ChangeAliasRecordsOnly")["Condition"];
        assert_eq!(
            condition["ForAllValues:StringEquals"]
                ["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
            json!(["api.vendor.internal"])
        );
        assert_eq!(
            condition["Null"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
            "false"
        );
        let any = consumer_policy(&ConsumerScope {
            dns_name: None,
            ..scoped()
        });
        let condition = &by_sid(&any, "ChangeAliasRecordsOnly")["Condition"];
        assert!(condition["ForAllValues:StringEquals"]
            .get("route53:ChangeResourceRecordSetsNormalizedRecordNames")
            .is_none());
    }

    fn statements(p: &Value) -> &Vec<Value> {
        p["Statement"].as_array().unwrap()
    }

    fn list(v: &Value) -> Vec<&str> {
        match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }

    fn by_sid<'a>(p: &'a Value, sid: &str) -> &'a Value {
        statements(p)
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid}"))
    }

    #[test]
    fn every_call_of_the_commands_is_allowed_and_nothing_else() {
        let p = consumer_policy(&scoped());
        let mut allowed: Vec<&str> = statements(&p)
            .iter()
            .flat_map(|s| list(&s["Action"]))
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        let mut wanted = CONSUMER_ACTIONS.to_vec();
        wanted.sort_unstable();
        assert_eq!(allowed, wanted);
        assert!(statements(&p).iter().all(|s| s["Effect"] == "Allow"));
        // Sids unique and alphanumeric.
        let mut sids: Vec<&str> = statements(&p)
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert!(sids
            .iter()
            .all(|s| s.chars().all(|c| c.is_ascii_alphanumeric())));
        let n = sids.len();
        sids.sort_unstable();
        sids.dedup();
        assert_eq!(n, sids.len());
    }

    #[test]
    fn star_only_where_aws_has_no_resource_type() {
        let p = consumer_policy(&scoped());
        for s in statements(&p) {
            if s["Resource"] == "*" {
                assert!(
                    ["Read", "CreatePrivateZonesForTheVpcOnly"]
                        .contains(&s["Sid"].as_str().unwrap()),
                    "{s}"
                );
            }
        }
        for action in READ_ACTIONS {
            assert!(
                action.contains(":Describe") || action.contains(":List"),
                "{action}"
            );
        }
    }

    #[test]
    fn writes_are_limited_to_the_vpc_and_the_tagged_resources() {
        let p = consumer_policy(&scoped());
        assert_eq!(
            by_sid(&p, "FixTheVpcDnsAttributes")["Resource"],
            "arn:aws:ec2:us-east-1:222222222222:vpc/vpc-0abc"
        );
        let create = &by_sid(&p, "CreateTaggedEndpoints")["Condition"]["StringEquals"];
        assert_eq!(
            create["aws:RequestTag/privatelink-kit:managed-by"],
            "consumer-cli"
        );
        assert_eq!(
            create["aws:RequestTag/privatelink-kit:consumer-vpc"],
            "vpc-0abc"
        );
        assert_eq!(
            create["ec2:VpceServiceName"],
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123"
        );
        // The VPC and subnets the endpoint goes in are authorized without
        // a tag condition (they are the customer's, untagged by us).
        let placed = by_sid(&p, "CreateEndpointsInTheVpc");
        assert!(placed.get("Condition").is_none());
        assert_eq!(
            list(&placed["Resource"]),
            [
                "arn:aws:ec2:us-east-1:222222222222:vpc/vpc-0abc",
                "arn:aws:ec2:us-east-1:222222222222:subnet/*"
            ]
        );
        let change = &by_sid(&p, "ChangeOwnEndpoints")["Condition"]["StringEquals"];
        assert_eq!(
            change["aws:ResourceTag/privatelink-kit:managed-by"],
            "consumer-cli"
        );
        let record = by_sid(&p, "RecordVerificationOnOwnEndpoints");
        assert_eq!(
            record["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
            json!([LAST_VERIFICATION_TAG])
        );
        let zone = by_sid(&p, "CreatePrivateZonesForTheVpcOnly");
        assert_eq!(
            zone["Condition"]["ForAllValues:StringLike"]["route53:VPCs"],
            json!(["VPCId=vpc-0abc,VPCRegion=us-east-1"])
        );
        let records = by_sid(&p, "ChangeAliasRecordsOnly");
        assert_eq!(
            records["Condition"]["ForAllValues:StringEquals"]
                ["route53:ChangeResourceRecordSetsRecordTypes"],
            json!(["A"])
        );
    }

    #[test]
    fn unknown_parts_are_wildcards() {
        let p = consumer_policy(&ConsumerScope::default());
        assert_eq!(
            by_sid(&p, "FixTheVpcDnsAttributes")["Resource"],
            "arn:aws:ec2:*:*:vpc/*"
        );
        let create = &by_sid(&p, "CreateTaggedEndpoints")["Condition"]["StringEquals"];
        assert!(create.get("ec2:VpceServiceName").is_none());
        assert!(create
            .get("aws:RequestTag/privatelink-kit:consumer-vpc")
            .is_none());
        assert_eq!(
            by_sid(&p, "AssociateTheVpcOnly")["Condition"]["ForAllValues:StringLike"]
                ["route53:VPCs"],
            json!(["VPCId=*,VPCRegion=*"])
        );
        let report = ConsumerPolicyReport::new(&ConsumerScope::default()).to_string();
        assert!(report.starts_with("# Consumer policy"), "{report}");
        assert!(report.contains("\"Version\": \"2012-10-17\""));
    }
}
