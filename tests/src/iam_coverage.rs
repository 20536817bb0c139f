//! IAM action coverage: does each binary's generated policy allow every AWS
//! call that binary really made?
//!
//! The emulator records every request (`GET /_privatelink/calls`), with the
//! `app/NAME` token of the caller's User-Agent (each binary sets its own, see
//! `privatelink_core::aws::app`). For every recorded call this module derives
//! what IAM authorizes for it on real AWS, per the Service Authorization
//! Reference (SAR): the action (`service:Action`, the prefix being the SigV4
//! signing name), every resource ARN the action authorizes (all resources of
//! a multi-resource action such as `ec2:CreateVpcEndpoint`: the new endpoint,
//! the VPC, each subnet and security group), the actions AWS requires on top
//! (tag-on-create `ec2:CreateTags`/`elasticloadbalancing:AddTags`/
//! `sns:TagResource`/`iam:TagRole`/`lambda:TagResource`/`dynamodb:TagResource`,
//! each item of a DynamoDB `TransactWriteItems` as its single-item action,
//! `iam:PassRole` for a
//! function's role, `lambda:ListTags` with `GetFunction`, `ec2:DescribeVpcs`
//! for a private hosted zone), and the request context the policy's
//! conditions can see. Then it evaluates the binary's policy (`Allow`
//! statements, explicit `Deny` wins) with IAM's wildcard matching:
//! case-insensitive actions, case-sensitive ARNs. An action that supports no
//! resource-level permissions is authorized against `*`, so only a statement
//! whose `Resource` matches `*` itself allows it.
//!
//! Conditions, and what is not evaluated:
//! - evaluated from the request: `aws:RequestTag/K` and `aws:TagKeys` (on the
//!   resources a request creates or tags, absent elsewhere: AWS evaluates them
//!   per resource type, the RunInstances rule), `ec2:CreateAction` and
//!   `elasticloadbalancing:CreateAction` (tag-on-create), `iam:PassedToService`,
//!   `iam:PermissionsBoundary` (the request's, or the one the run created the
//!   role with), `iam:PolicyARN`, `ec2:VpceServiceName` (new endpoint),
//!   `sns:Protocol`/`sns:Endpoint`, `lambda:Principal`, `events:TargetArn`,
//!   `route53:VPCs`, `route53:ChangeResourceRecordSetsRecordTypes`/`Actions`/`NormalizedRecordNames`,
//!   `aws:RequestedRegion`, `ec2:Region`;
//! - `aws:ResourceTag/K` (and `ec2:ResourceTag/K`): absent on new resources
//!   and on actions without resource-level permissions; on an existing
//!   resource, evaluated against the tags the run gave it (see `TagLedger`:
//!   tag-on-create and tagging calls of any caller in the run);
//! - NOT evaluated: `aws:ResourceTag/K` on a resource the run neither
//!   created nor tagged, and any key this module does not model. Such
//!   conditions are assumed to hold: an `Allow` they let through is listed in
//!   the report ("assumed"), a `Deny` stands and its gap names them, so
//!   nothing passes silently.
//!
//! The SAR entries below were checked against the SAR data for EC2 (resource
//! types per action: e.g. `CreateVpcEndpoint` authorizes vpc, subnet,
//! security-group, route-table and vpc-endpoint; the connection-notification
//! actions authorize the endpoint service; `DescribeVpcAttribute` and
//! `DescribeVpcEndpointServicePermissions` have resource-level permissions,
//! the other `Describe*` calls only `*`), and against the services' guides
//! for the dependent actions (ELB and Lambda tag-on-create, Lambda
//! `GetFunction` needing `ListTags` for tagged functions).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;

/// One recorded AWS request.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub account: String,
    pub region: String,
    /// The SigV4 signing name (`ec2`, `elasticloadbalancing`, ...).
    pub service: String,
    pub action: String,
    pub app: Option<String>,
    pub params: Value,
    pub status: u16,
}

/// Parses the emulator's `{"calls": [...]}`.
pub fn parse_calls(log: &Value) -> Result<Vec<Call>> {
    let calls = log
        .get("calls")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("no `calls` array in the emulator's call log"))?;
    let text = |c: &Value, key: &str| c.get(key).and_then(Value::as_str).map(str::to_string);
    calls
        .iter()
        .map(|c| {
            Ok(Call {
                account: text(c, "account").unwrap_or_default(),
                region: text(c, "region").unwrap_or_default(),
                service: text(c, "service").unwrap_or_default(),
                action: text(c, "action").ok_or_else(|| anyhow!("a call without action: {c}"))?,
                app: text(c, "app"),
                params: c.get("params").cloned().unwrap_or(Value::Null),
                status: c.get("status").and_then(Value::as_u64).unwrap_or(0) as u16,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Policies

/// The statements of one or more policy documents.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
struct Statement {
    sid: String,
    allow: bool,
    actions: Vec<String>,
    not_actions: Vec<String>,
    resources: Vec<String>,
    not_resources: Vec<String>,
    condition: Option<Value>,
}

fn strings(value: Option<&Value>) -> Result<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow!("not a string: {i}"))
            })
            .collect(),
        Some(other) => bail!("expected a string or a list of strings, got {other}"),
    }
}

impl Policy {
    /// The statements of these documents (`{"Version", "Statement": ...}`).
    pub fn from_documents<'a>(documents: impl IntoIterator<Item = &'a Value>) -> Result<Policy> {
        let mut statements = Vec::new();
        for document in documents {
            let list = match document.get("Statement") {
                Some(Value::Array(list)) => list.clone(),
                Some(single @ Value::Object(_)) => vec![single.clone()],
                _ => bail!("not a policy document (no Statement): {document}"),
            };
            for (i, s) in list.iter().enumerate() {
                if s.get("Principal").is_some() || s.get("NotPrincipal").is_some() {
                    bail!(
                        "statement {i} has a Principal: a resource policy, not an identity policy"
                    );
                }
                let sid = s
                    .get("Sid")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("#{i}"));
                let effect = s.get("Effect").and_then(Value::as_str).unwrap_or("");
                statements.push(Statement {
                    allow: match effect {
                        "Allow" => true,
                        "Deny" => false,
                        other => bail!("statement {sid}: Effect {other:?}"),
                    },
                    actions: strings(s.get("Action")).with_context(|| format!("{sid}: Action"))?,
                    not_actions: strings(s.get("NotAction"))
                        .with_context(|| format!("{sid}: NotAction"))?,
                    resources: strings(s.get("Resource"))
                        .with_context(|| format!("{sid}: Resource"))?,
                    not_resources: strings(s.get("NotResource"))
                        .with_context(|| format!("{sid}: NotResource"))?,
                    condition: s.get("Condition").cloned(),
                    sid,
                });
            }
        }
        Ok(Policy { statements })
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` exactly one.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative glob matching with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

// ---------------------------------------------------------------------------
// What IAM authorizes for a call

/// How a resource relates to the request; decides which condition keys the
/// request context has for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The action supports no resource-level permissions: `Resource` `*`.
    Star,
    /// The request creates it (`aws:RequestTag` applies, `aws:ResourceTag` does not).
    New,
    /// It exists (`aws:ResourceTag` applies, with values unknown here).
    Existing,
}

/// One authorization IAM makes for a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// `service:Action`.
    pub action: String,
    /// The resource ARN, or `*`.
    pub arn: String,
    pub kind: Kind,
    /// Condition keys with known values (lower-cased keys).
    pub context: BTreeMap<String, Vec<String>>,
    /// Why it is needed (the call's own action, or what requires it).
    pub why: String,
    /// For an existing resource: the tags the run gave it (lower-cased
    /// keys), when the run created or tagged it; `None`: unknown.
    pub resource_tags: Option<BTreeMap<String, Vec<String>>>,
}

/// What the run knows beyond the recorded parameters: the endpoint
/// services of the vendor's stack (a connection-notification call names
/// only the notification, but IAM authorizes it on its service), and the
/// approver function's name (for its log group).
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub service_ids: Vec<String>,
    pub function_name: Option<String>,
    /// Role ARN → its permissions boundary, from the run's `CreateRole`
    /// calls (IAM evaluates `iam:PermissionsBoundary` of later role calls
    /// against the role's boundary). Filled by [`check`].
    pub role_boundaries: BTreeMap<String, String>,
}

impl RunFacts {
    /// Learns what later calls need from earlier ones (the boundary each
    /// role was created with).
    fn learn(&mut self, calls: &[Call]) {
        for call in calls {
            if call.service == "iam" && call.action == "CreateRole" {
                if let (Some(role), Some(boundary)) = (
                    role_arn(&call.account, &call.params),
                    param(&call.params, "PermissionsBoundary"),
                ) {
                    self.role_boundaries.insert(role, boundary);
                }
            }
        }
    }
}

/// Calls that need no permission at all (AWS always allows them).
fn needs_no_permission(service: &str, action: &str) -> bool {
    service == "sts" && action == "GetCallerIdentity"
}

struct Ctx<'a> {
    call: &'a Call,
    out: Vec<Authorization>,
}

impl<'a> Ctx<'a> {
    fn base(&self) -> BTreeMap<String, Vec<String>> {
        let mut c = BTreeMap::new();
        c.insert("aws:requestedregion".into(), vec![self.call.region.clone()]);
        if self.call.service == "ec2" {
            c.insert("ec2:region".into(), vec![self.call.region.clone()]);
        }
        c
    }
    fn push(&mut self, action: &str, arn: String, kind: Kind, extra: &[(&str, Vec<String>)]) {
        let why = self.call.action.clone();
        self.push_why(action, arn, kind, extra, why);
    }
    fn push_why(
        &mut self,
        action: &str,
        arn: String,
        kind: Kind,
        extra: &[(&str, Vec<String>)],
        why: String,
    ) {
        let mut context = self.base();
        for (k, v) in extra {
            context.insert(k.to_ascii_lowercase(), v.clone());
        }
        let arn = if kind == Kind::Star { "*".into() } else { arn };
        self.out.push(Authorization {
            action: action.into(),
            arn,
            kind,
            context,
            why,
            resource_tags: None,
        });
    }
    fn own(&self) -> String {
        format!("{}:{}", self.call.service, self.call.action)
    }
    fn star(&mut self) {
        let action = self.own();
        self.push(&action, "*".into(), Kind::Star, &[]);
    }
    fn r(&self) -> &str {
        &self.call.region
    }
    fn a(&self) -> &str {
        &self.call.account
    }
    fn ec2_arn(&self, kind: &str, id: &str) -> String {
        format!("arn:aws:ec2:{}:{}:{kind}/{id}", self.r(), self.a())
    }
    /// `name_or_arn` as given when it is an ARN (Lambda and EventBridge
    /// take either), else `arn:aws:SERVICE:REGION:ACCOUNT:PATH_PREFIXname`.
    fn arn_of(&self, service: &str, path_prefix: &str, name_or_arn: &str) -> String {
        if name_or_arn.starts_with("arn:") {
            name_or_arn.to_string()
        } else {
            format!(
                "arn:aws:{service}:{}:{}:{path_prefix}{name_or_arn}",
                self.r(),
                self.a()
            )
        }
    }
    fn param(&self, key: &str) -> Result<String> {
        param(&self.call.params, key).ok_or_else(|| {
            anyhow!(
                "{} has no `{key}` parameter: {}",
                self.call.action,
                self.call.params
            )
        })
    }
}

/// A top-level string parameter, or one in a REST call's labels/query/body.
fn param(params: &Value, key: &str) -> Option<String> {
    let direct = params.get(key);
    let nested = || {
        ["labels", "query", "body"]
            .iter()
            .find_map(|part| params.get(part).and_then(|p| p.get(key)))
    };
    match direct.or_else(nested)? {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Values of a query-protocol list: `Key.1`, `Key.2`, ... (EC2) or
/// `Key.member.1`, ... (ELBv2, SNS, IAM), in index order.
fn list(params: &Value, key: &str) -> Vec<String> {
    let Some(map) = params.as_object() else {
        return Vec::new();
    };
    let mut found: Vec<(u32, String)> = map
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(key)?.strip_prefix('.')?;
            let index = rest.strip_prefix("member.").unwrap_or(rest);
            let n: u32 = index.parse().ok()?;
            Some((n, v.as_str()?.to_string()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, v)| v).collect()
}

/// EC2 `TagSpecification.N.ResourceType` / `.Tag.M.Key` / `.Value`:
/// resource type → tags.
fn ec2_tag_specs(params: &Value) -> BTreeMap<String, Vec<(String, String)>> {
    let mut specs = BTreeMap::new();
    let Some(map) = params.as_object() else {
        return specs;
    };
    for n in 1..=20 {
        let Some(kind) = map
            .get(&format!("TagSpecification.{n}.ResourceType"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let tags = numbered_tags(map, &format!("TagSpecification.{n}.Tag"));
        specs.insert(kind.to_string(), tags);
    }
    specs
}

/// `PREFIX.M.Key` / `PREFIX.M.Value` (EC2) or `PREFIX.member.M.Key` (query).
fn numbered_tags(map: &serde_json::Map<String, Value>, prefix: &str) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    for m in 1..=60 {
        for form in [format!("{prefix}.{m}"), format!("{prefix}.member.{m}")] {
            if let Some(key) = map.get(&format!("{form}.Key")).and_then(Value::as_str) {
                let value = map
                    .get(&format!("{form}.Value"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                tags.push((key.to_string(), value.to_string()));
            }
        }
    }
    tags
}

/// Tags in a JSON body: `{"Tags": {"k": "v"}}` (Lambda) or
/// `{"Tags": [{"Key", "Value"}]}` (EventBridge).
fn json_tags(body: Option<&Value>) -> Vec<(String, String)> {
    match body.and_then(|b| b.get("Tags")) {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|t| {
                Some((
                    t.get("Key")?.as_str()?.to_string(),
                    t.get("Value")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Context entries for tags in a request: `aws:RequestTag/K` and `aws:TagKeys`.
fn tag_context(tags: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    if tags.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<(String, Vec<String>)> = tags
        .iter()
        .map(|(k, v)| (format!("aws:RequestTag/{k}"), vec![v.clone()]))
        .collect();
    out.push((
        "aws:TagKeys".into(),
        tags.iter().map(|(k, _)| k.clone()).collect(),
    ));
    out
}

fn borrowed(extra: &[(String, Vec<String>)]) -> Vec<(&str, Vec<String>)> {
    extra.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

/// The EC2 resource type of an id (`vpc-…`, `vpce-con-…`, ...).
fn ec2_kind_of(id: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 9] = [
        ("vpce-svc-", "vpc-endpoint-service"),
        ("vpce-con-", "vpc-endpoint-connection"),
        ("vpce-", "vpc-endpoint"),
        ("vpc-", "vpc"),
        ("subnet-", "subnet"),
        ("sgr-", "security-group-rule"),
        ("sg-", "security-group"),
        ("eni-", "network-interface"),
        ("rtb-", "route-table"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| id.starts_with(p))
        .map(|(_, k)| *k)
}

/// Every authorization a call needs (empty for calls AWS always allows).
/// An error means the call is not in this module's SAR table, or lacks a
/// parameter the table needs: the test reports it as uncovered.
pub fn authorizations(call: &Call, facts: &RunFacts) -> Result<Vec<Authorization>> {
    if needs_no_permission(&call.service, &call.action) {
        return Ok(Vec::new());
    }
    let mut c = Ctx {
        call,
        out: Vec::new(),
    };
    match call.service.as_str() {
        "ec2" => ec2(&mut c, facts)?,
        "elasticloadbalancing" => elb(&mut c)?,
        "sns" => sns(&mut c)?,
        "iam" => iam(&mut c, facts)?,
        "lambda" => lambda(&mut c)?,
        "events" => events(&mut c)?,
        "route53" => route53(&mut c)?,
        "dynamodb" => dynamodb(&mut c)?,
        "sts" => bail!("sts:{} is not in the SAR table of this test", call.action),
        other => bail!(
            "{other}:{} is not in the SAR table of this test",
            call.action
        ),
    }
    Ok(c.out)
}

fn ec2(c: &mut Ctx<'_>, facts: &RunFacts) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    let specs = ec2_tag_specs(&params);
    // Tag-on-create: the create action on the new resource sees the request
    // tags, and AWS also authorizes ec2:CreateTags on it with
    // ec2:CreateAction = the create action.
    let new = |c: &mut Ctx<'_>, kind: &str| {
        let arn = c.ec2_arn(kind, "*");
        let tags = specs.get(kind).cloned().unwrap_or_default();
        let ctx = tag_context(&tags);
        c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
        if !tags.is_empty() {
            let mut extra = ctx.clone();
            extra.push(("ec2:CreateAction".into(), vec![action.clone()]));
            c.push_why(
                "ec2:CreateTags",
                arn,
                Kind::New,
                &borrowed(&extra),
                format!("{action} with TagSpecifications (tag on create)"),
            );
        }
    };
    let existing = |c: &mut Ctx<'_>, kind: &str, id: &str| {
        let arn = c.ec2_arn(kind, id);
        c.push(&own, arn, Kind::Existing, &[]);
    };
    match action.as_str() {
        // List/describe calls without resource-level permissions.
        "DescribeAvailabilityZones"
        | "DescribeAccountAttributes"
        | "DescribeVpcs"
        | "DescribeSubnets"
        | "DescribeSecurityGroups"
        | "DescribeSecurityGroupRules"
        | "DescribeNetworkInterfaces"
        | "DescribeRouteTables"
        | "DescribeTags"
        | "DescribeVpcEndpoints"
        | "DescribeVpcEndpointServices"
        | "DescribeVpcEndpointServiceConfigurations"
        | "DescribeVpcEndpointConnections"
        | "DescribeVpcEndpointConnectionNotifications" => c.star(),
        "DescribeVpcAttribute" | "ModifyVpcAttribute" | "DeleteVpc" => {
            let id = c.param("VpcId")?;
            existing(c, "vpc", &id);
        }
        "DescribeVpcEndpointServicePermissions"
        | "ModifyVpcEndpointServiceConfiguration"
        | "StartVpcEndpointServicePrivateDnsVerification"
        | "ModifyVpcEndpointServicePermissions"
        | "AcceptVpcEndpointConnections"
        | "RejectVpcEndpointConnections" => {
            let id = c.param("ServiceId")?;
            existing(c, "vpc-endpoint-service", &id);
            // Changing the service's SupportedRegions is also authorized as
            // the permission-only `vpce:AllowMultiRegion` (PrivateLink guide,
            // cross-Region access; SAR (PrivateLink): no resource type).
            let regions = ["AddSupportedRegion", "RemoveSupportedRegion"];
            if action == "ModifyVpcEndpointServiceConfiguration"
                && regions.iter().any(|key| !list(&params, key).is_empty())
            {
                c.push("vpce:AllowMultiRegion", "*".into(), Kind::Star, &[]);
            }
        }
        "DeleteVpcEndpointServiceConfigurations" => {
            for id in list(&params, "ServiceId") {
                existing(c, "vpc-endpoint-service", &id);
            }
        }
        "CreateVpc" => new(c, "vpc"),
        "CreateSubnet" => {
            new(c, "subnet");
            let vpc = c.param("VpcId")?;
            existing(c, "vpc", &vpc);
        }
        "DeleteSubnet" => {
            let id = c.param("SubnetId")?;
            existing(c, "subnet", &id);
        }
        "CreateSecurityGroup" => {
            new(c, "security-group");
            let vpc = c.param("VpcId")?;
            existing(c, "vpc", &vpc);
        }
        "DeleteSecurityGroup" => {
            let id = c.param("GroupId")?;
            existing(c, "security-group", &id);
        }
        "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress" => {
            let id = c.param("GroupId")?;
            existing(c, "security-group", &id);
            if specs.contains_key("security-group-rule") {
                new(c, "security-group-rule");
            }
        }
        "RevokeSecurityGroupIngress" | "RevokeSecurityGroupEgress" => {
            let id = c.param("GroupId")?;
            existing(c, "security-group", &id);
        }
        "CreateVpcEndpoint" => {
            // The new endpoint carries ec2:VpceServiceName.
            let service = c.param("ServiceName")?;
            let arn = c.ec2_arn("vpc-endpoint", "*");
            let tags = specs.get("vpc-endpoint").cloned().unwrap_or_default();
            let mut ctx = tag_context(&tags);
            ctx.push(("ec2:VpceServiceName".into(), vec![service]));
            c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
            if !tags.is_empty() {
                let mut extra = tag_context(&tags);
                extra.push(("ec2:CreateAction".into(), vec![action.clone()]));
                c.push_why(
                    "ec2:CreateTags",
                    arn,
                    Kind::New,
                    &borrowed(&extra),
                    format!("{action} with TagSpecifications (tag on create)"),
                );
            }
            let vpc = c.param("VpcId")?;
            existing(c, "vpc", &vpc);
            for id in list(&params, "SubnetId") {
                existing(c, "subnet", &id);
            }
            for id in list(&params, "SecurityGroupId") {
                existing(c, "security-group", &id);
            }
            for id in list(&params, "RouteTableId") {
                existing(c, "route-table", &id);
            }
        }
        "DeleteVpcEndpoints" => {
            for id in list(&params, "VpcEndpointId") {
                existing(c, "vpc-endpoint", &id);
            }
        }
        "CreateVpcEndpointServiceConfiguration" => new(c, "vpc-endpoint-service"),
        "CreateVpcEndpointConnectionNotification" => {
            match (param(&params, "ServiceId"), param(&params, "VpcEndpointId")) {
                (Some(id), _) => existing(c, "vpc-endpoint-service", &id),
                (None, Some(id)) => existing(c, "vpc-endpoint", &id),
                (None, None) => bail!("{action} names neither a service nor an endpoint"),
            }
        }
        // The request names only the notification; IAM authorizes it on the
        // service (or endpoint) it belongs to: the stack's service here.
        "ModifyVpcEndpointConnectionNotification" | "DeleteVpcEndpointConnectionNotifications" => {
            if facts.service_ids.is_empty() {
                bail!("{action}: the run's endpoint service is unknown");
            }
            for id in &facts.service_ids {
                existing(c, "vpc-endpoint-service", id);
            }
        }
        "CreateTags" => {
            let tags = params
                .as_object()
                .map(|m| numbered_tags(m, "Tag"))
                .unwrap_or_default();
            let ctx = tag_context(&tags);
            for id in list(&params, "ResourceId") {
                let kind = ec2_kind_of(&id)
                    .ok_or_else(|| anyhow!("CreateTags on {id}: unknown EC2 resource type"))?;
                let arn = c.ec2_arn(kind, &id);
                c.push(&own, arn, Kind::Existing, &borrowed(&ctx));
            }
        }
        other => bail!("ec2:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

fn elb(c: &mut Ctx<'_>) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    let base = format!("arn:aws:elasticloadbalancing:{}:{}", c.r(), c.a());
    let tags = params
        .as_object()
        .map(|m| numbered_tags(m, "Tags"))
        .unwrap_or_default();
    // Tags in a create call: AddTags is authorized on the new resource too,
    // with elasticloadbalancing:CreateAction (ELB user guide, "API
    // permissions to tag resources during creation").
    let new = |c: &mut Ctx<'_>, arn: String| {
        let ctx = tag_context(&tags);
        c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
        if !tags.is_empty() {
            let mut extra = ctx.clone();
            extra.push((
                "elasticloadbalancing:CreateAction".into(),
                vec![action.clone()],
            ));
            c.push_why(
                "elasticloadbalancing:AddTags",
                arn,
                Kind::New,
                &borrowed(&extra),
                format!("{action} with Tags (tag on create)"),
            );
        }
    };
    match action.as_str() {
        "DescribeLoadBalancers"
        | "DescribeLoadBalancerAttributes"
        | "DescribeTargetGroups"
        | "DescribeTargetGroupAttributes"
        | "DescribeTargetHealth"
        | "DescribeListeners"
        | "DescribeListenerAttributes"
        | "DescribeTags" => c.star(),
        "CreateLoadBalancer" => {
            let name = c.param("Name")?;
            let kind = match param(&params, "Type").as_deref() {
                Some("network") => "net",
                Some("gateway") => "gwy",
                _ => "app",
            };
            new(c, format!("{base}:loadbalancer/{kind}/{name}/*"));
        }
        "CreateTargetGroup" => {
            let name = c.param("Name")?;
            new(c, format!("{base}:targetgroup/{name}/*"));
        }
        "CreateListener" => {
            let lb = c.param("LoadBalancerArn")?;
            c.push(&own, lb.clone(), Kind::Existing, &[]);
            if !tags.is_empty() {
                // listener/net/NAME/LB-ID/LISTENER-ID
                let listener = format!("{}/*", lb.replacen(":loadbalancer/", ":listener/", 1));
                let mut extra = tag_context(&tags);
                extra.push((
                    "elasticloadbalancing:CreateAction".into(),
                    vec![action.clone()],
                ));
                c.push_why(
                    "elasticloadbalancing:AddTags",
                    listener,
                    Kind::New,
                    &borrowed(&extra),
                    format!("{action} with Tags (tag on create)"),
                );
            }
        }
        "ModifyLoadBalancerAttributes"
        | "SetSubnets"
        | "SetSecurityGroups"
        | "DeleteLoadBalancer" => {
            let arn = c.param("LoadBalancerArn")?;
            c.push(&own, arn, Kind::Existing, &[]);
        }
        "ModifyTargetGroup"
        | "ModifyTargetGroupAttributes"
        | "RegisterTargets"
        | "DeregisterTargets"
        | "DeleteTargetGroup" => {
            let arn = c.param("TargetGroupArn")?;
            c.push(&own, arn, Kind::Existing, &[]);
        }
        "ModifyListener" | "DeleteListener" => {
            let arn = c.param("ListenerArn")?;
            c.push(&own, arn, Kind::Existing, &[]);
        }
        "AddTags" | "RemoveTags" => {
            let ctx = tag_context(&tags);
            for arn in list(&params, "ResourceArns") {
                c.push(&own, arn, Kind::Existing, &borrowed(&ctx));
            }
        }
        other => bail!("elasticloadbalancing:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

fn sns(c: &mut Ctx<'_>) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    match action.as_str() {
        "ListTopics" | "ListSubscriptions" => c.star(),
        "CreateTopic" => {
            let name = c.param("Name")?;
            let arn = format!("arn:aws:sns:{}:{}:{name}", c.r(), c.a());
            let tags = params
                .as_object()
                .map(|m| numbered_tags(m, "Tags"))
                .unwrap_or_default();
            let ctx = tag_context(&tags);
            c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
            if !tags.is_empty() {
                c.push_why(
                    "sns:TagResource",
                    arn,
                    Kind::New,
                    &borrowed(&ctx),
                    "CreateTopic with Tags (tag on create)".into(),
                );
            }
        }
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            let arn = c.param("ResourceArn")?;
            let tags = params
                .as_object()
                .map(|m| numbered_tags(m, "Tags"))
                .unwrap_or_default();
            c.push(&own, arn, Kind::Existing, &borrowed(&tag_context(&tags)));
        }
        // SAR (SNS): Unsubscribe has no resource type.
        "Unsubscribe" => c.star(),
        "Subscribe" => {
            let arn = c.param("TopicArn")?;
            let protocol = param(&params, "Protocol").into_iter().collect();
            let endpoint = param(&params, "Endpoint").into_iter().collect();
            c.push(
                &own,
                arn,
                Kind::Existing,
                &[("sns:Protocol", protocol), ("sns:Endpoint", endpoint)],
            );
        }
        "GetSubscriptionAttributes" | "SetSubscriptionAttributes" => {
            // arn:aws:sns:R:A:TOPIC:SUBSCRIPTION-ID → the topic.
            let sub = c.param("SubscriptionArn")?;
            let topic = sub
                .rsplit_once(':')
                .map(|(t, _)| t.to_string())
                .ok_or_else(|| anyhow!("{action}: odd subscription ARN {sub}"))?;
            c.push(&own, topic, Kind::Existing, &[]);
        }
        "GetTopicAttributes"
        | "SetTopicAttributes"
        | "ListSubscriptionsByTopic"
        | "Publish"
        | "DeleteTopic" => {
            let arn = c.param("TopicArn")?;
            c.push(&own, arn, Kind::Existing, &[]);
        }
        other => bail!("sns:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

fn role_arn(account: &str, params: &Value) -> Option<String> {
    let name = param(params, "RoleName")?;
    let path = param(params, "Path").unwrap_or_else(|| "/".into());
    Some(format!("arn:aws:iam::{account}:role{path}{name}"))
}

fn iam(c: &mut Ctx<'_>, facts: &RunFacts) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    let arn = role_arn(c.a(), &params);
    let tags = params
        .as_object()
        .map(|m| numbered_tags(m, "Tags"))
        .unwrap_or_default();
    match action.as_str() {
        "CreateRole" => {
            let arn = arn.ok_or_else(|| anyhow!("CreateRole without RoleName"))?;
            let ctx = tag_context(&tags);
            // iam:PermissionsBoundary: absent (empty) when the request sets none.
            let boundary: Vec<String> = param(&params, "PermissionsBoundary").into_iter().collect();
            let mut with_boundary = borrowed(&ctx);
            with_boundary.push(("iam:PermissionsBoundary", boundary));
            c.push(&own, arn.clone(), Kind::New, &with_boundary);
            if !tags.is_empty() {
                c.push_why(
                    "iam:TagRole",
                    arn,
                    Kind::New,
                    &borrowed(&ctx),
                    "CreateRole with Tags (tag on create)".into(),
                );
            }
        }
        "GetRole"
        | "DeleteRole"
        | "UpdateAssumeRolePolicy"
        | "PutRolePolicy"
        | "GetRolePolicy"
        | "DeleteRolePolicy"
        | "ListRolePolicies"
        | "ListAttachedRolePolicies"
        | "AttachRolePolicy"
        | "DetachRolePolicy"
        | "PutRolePermissionsBoundary"
        | "DeleteRolePermissionsBoundary"
        | "ListRoleTags"
        | "TagRole"
        | "UntagRole" => {
            // Role-level calls name the role without its path; the kit's
            // roles have the default path.
            let name = c.param("RoleName")?;
            let arn = format!("arn:aws:iam::{}:role/{name}", c.a());
            let mut ctx = tag_context(&tags);
            // iam:PermissionsBoundary: the one in the request, else the
            // role's (known when the run created the role).
            let boundary = match action.as_str() {
                "PutRolePermissionsBoundary" => param(&params, "PermissionsBoundary"),
                _ => facts.role_boundaries.get(&arn).cloned(),
            };
            if let Some(boundary) = boundary {
                ctx.push(("iam:PermissionsBoundary".into(), vec![boundary]));
            }
            if let Some(policy) = param(&params, "PolicyArn") {
                ctx.push(("iam:PolicyARN".into(), vec![policy]));
            }
            c.push(&own, arn, Kind::Existing, &borrowed(&ctx));
        }
        "CreatePolicy" => {
            let name = c.param("PolicyName")?;
            let path = param(&params, "Path").unwrap_or_else(|| "/".into());
            let arn = format!("arn:aws:iam::{}:policy{path}{name}", c.a());
            let ctx = tag_context(&tags);
            c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
            if !tags.is_empty() {
                c.push_why(
                    "iam:TagPolicy",
                    arn,
                    Kind::New,
                    &borrowed(&ctx),
                    "CreatePolicy with Tags (tag on create)".into(),
                );
            }
        }
        "GetPolicy"
        | "DeletePolicy"
        | "GetPolicyVersion"
        | "ListPolicyVersions"
        | "CreatePolicyVersion"
        | "DeletePolicyVersion"
        | "SetDefaultPolicyVersion"
        | "ListPolicyTags"
        | "TagPolicy"
        | "UntagPolicy" => {
            let arn = c.param("PolicyArn")?;
            c.push(&own, arn, Kind::Existing, &borrowed(&tag_context(&tags)));
        }
        other => bail!("iam:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

fn lambda(c: &mut Ctx<'_>) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    let function_arn = |c: &Ctx<'_>, name: &str| c.arn_of("lambda", "function:", name);
    let body = params.get("body").cloned();
    let pass_role = |c: &mut Ctx<'_>, why: &str| {
        if let Some(role) = body
            .as_ref()
            .and_then(|b| b.get("Role"))
            .and_then(Value::as_str)
        {
            c.push_why(
                "iam:PassRole",
                role.to_string(),
                Kind::Existing,
                &[("iam:PassedToService", vec!["lambda.amazonaws.com".into()])],
                format!("{why} with a Role"),
            );
        }
    };
    match action.as_str() {
        "ListFunctions" => c.star(),
        "CreateFunction" => {
            let name = c.param("FunctionName")?;
            let arn = function_arn(c, &name);
            let tags = json_tags(body.as_ref());
            let ctx = tag_context(&tags);
            c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
            if !tags.is_empty() {
                c.push_why(
                    "lambda:TagResource",
                    arn,
                    Kind::New,
                    &borrowed(&ctx),
                    "CreateFunction with Tags (tag on create)".into(),
                );
            }
            pass_role(c, "CreateFunction");
        }
        "UpdateFunctionConfiguration" => {
            let name = c.param("FunctionName")?;
            let arn = function_arn(c, &name);
            c.push(&own, arn, Kind::Existing, &[]);
            pass_role(c, "UpdateFunctionConfiguration");
        }
        "GetFunction" => {
            let name = c.param("FunctionName")?;
            let arn = function_arn(c, &name);
            c.push(&own, arn.clone(), Kind::Existing, &[]);
            // GetFunction returns a tagged function's tags only with ListTags
            // (Lambda guide, "Permissions required for working with tags").
            c.push_why(
                "lambda:ListTags",
                arn,
                Kind::Existing,
                &[],
                "GetFunction (returns the tags only with ListTags)".into(),
            );
        }
        "AddPermission" => {
            let name = c.param("FunctionName")?;
            let arn = function_arn(c, &name);
            let principal = body
                .as_ref()
                .and_then(|b| b.get("Principal"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .into_iter()
                .collect();
            c.push(
                &own,
                arn,
                Kind::Existing,
                &[("lambda:Principal", principal)],
            );
        }
        "GetFunctionConfiguration"
        | "GetPolicy"
        | "UpdateFunctionCode"
        | "RemovePermission"
        | "DeleteFunction"
        | "InvokeFunction" => {
            let name = c.param("FunctionName")?;
            let arn = function_arn(c, &name);
            c.push(&own, arn, Kind::Existing, &[]);
        }
        "ListTags" | "TagResource" | "UntagResource" => {
            let arn = param(&params, "Resource")
                .or_else(|| param(&params, "ARN"))
                .ok_or_else(|| anyhow!("{action} without a resource ARN: {params}"))?;
            let tags = json_tags(body.as_ref());
            c.push(&own, arn, Kind::Existing, &borrowed(&tag_context(&tags)));
        }
        other => bail!("lambda:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

fn events(c: &mut Ctx<'_>) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    let rule_arn = |c: &Ctx<'_>, name: &str| c.arn_of("events", "rule/", name);
    match action.as_str() {
        "ListRules" => c.star(),
        "PutRule" => {
            let name = c.param("Name")?;
            let arn = rule_arn(c, &name);
            let tags = json_tags(Some(&params));
            let ctx = tag_context(&tags);
            // PutRule creates or updates; with tags it is a tag-on-create.
            c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
            if !tags.is_empty() {
                c.push_why(
                    "events:TagResource",
                    arn,
                    Kind::New,
                    &borrowed(&ctx),
                    "PutRule with Tags (conservatively: tags on create need TagResource)".into(),
                );
            }
        }
        "DescribeRule" | "DeleteRule" | "EnableRule" | "DisableRule" => {
            let name = c.param("Name")?;
            let arn = rule_arn(c, &name);
            c.push(&own, arn, Kind::Existing, &[]);
        }
        "PutTargets" => {
            let name = c.param("Rule")?;
            let arn = rule_arn(c, &name);
            let targets = params
                .get("Targets")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(|t| t.get("Arn").and_then(Value::as_str).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            c.push(&own, arn, Kind::Existing, &[("events:TargetArn", targets)]);
        }
        "RemoveTargets" | "ListTargetsByRule" => {
            let name = c.param("Rule")?;
            let arn = rule_arn(c, &name);
            c.push(&own, arn, Kind::Existing, &[]);
        }
        "ListTagsForResource" | "TagResource" | "UntagResource" => {
            let arn = c.param("ResourceARN")?;
            let tags = json_tags(Some(&params));
            c.push(&own, arn, Kind::Existing, &borrowed(&tag_context(&tags)));
        }
        other => bail!("events:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

/// DynamoDB (JSON protocol: the body is the call's `params`). SAR
/// (DynamoDB): the table actions authorize `table*`; `ListTables` has no
/// resource type; `CreateTable` with `Tags` also needs `TagResource` on the
/// new table (DynamoDB developer guide, "Tagging resources: IAM policy
/// examples"); `TransactWriteItems` and `TransactGetItems` are no IAM
/// actions of their own: DynamoDB authorizes each item as the single call
/// (Put → PutItem, Update → UpdateItem, Delete → DeleteItem,
/// ConditionCheck → ConditionCheckItem, Get → GetItem); `BatchGetItem` is
/// authorized on every table it reads.
fn dynamodb(c: &mut Ctx<'_>) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    let table = |c: &Ctx<'_>, name: &str| c.arn_of("dynamodb", "table/", name);
    match action.as_str() {
        "ListTables" => c.star(),
        "CreateTable" => {
            let name = c.param("TableName")?;
            let arn = table(c, &name);
            let tags = json_tags(Some(&params));
            let ctx = tag_context(&tags);
            c.push(&own, arn.clone(), Kind::New, &borrowed(&ctx));
            if !tags.is_empty() {
                c.push_why(
                    "dynamodb:TagResource",
                    arn,
                    Kind::New,
                    &borrowed(&ctx),
                    "CreateTable with Tags (tag on create)".into(),
                );
            }
        }
        "DescribeTable"
        | "DeleteTable"
        | "UpdateTable"
        | "UpdateContinuousBackups"
        | "DescribeContinuousBackups"
        | "Scan"
        | "Query"
        | "GetItem"
        | "PutItem"
        | "UpdateItem"
        | "DeleteItem" => {
            let name = c.param("TableName")?;
            let arn = table(c, &name);
            c.push(&own, arn, Kind::Existing, &[]);
        }
        "TagResource" | "UntagResource" | "ListTagsOfResource" => {
            let arn = c.param("ResourceArn")?;
            let tags = json_tags(Some(&params));
            c.push(&own, arn, Kind::Existing, &borrowed(&tag_context(&tags)));
        }
        "BatchGetItem" | "BatchWriteItem" => {
            let tables = params
                .get("RequestItems")
                .and_then(Value::as_object)
                .ok_or_else(|| anyhow!("{action} without RequestItems: {params}"))?;
            for name in tables.keys() {
                let arn = table(c, name);
                c.push(&own, arn, Kind::Existing, &[]);
            }
        }
        "TransactWriteItems" | "TransactGetItems" => {
            let items = params
                .get("TransactItems")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("{action} without TransactItems: {params}"))?;
            for item in items {
                let (kind, single) = [
                    ("Put", "dynamodb:PutItem"),
                    ("Update", "dynamodb:UpdateItem"),
                    ("Delete", "dynamodb:DeleteItem"),
                    ("ConditionCheck", "dynamodb:ConditionCheckItem"),
                    ("Get", "dynamodb:GetItem"),
                ]
                .into_iter()
                .find(|(kind, _)| item.get(*kind).is_some())
                .ok_or_else(|| anyhow!("{action}: an item of no known kind: {item}"))?;
                let name = item[kind]
                    .get("TableName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{action}: a {kind} without TableName"))?;
                let arn = table(c, name);
                c.push_why(
                    single,
                    arn,
                    Kind::Existing,
                    &[],
                    format!("{action} ({kind} item)"),
                );
            }
        }
        other => bail!("dynamodb:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

/// The hosted zone id of a Route 53 REST call (`Id` label, `/hostedzone/` cut).
fn zone_id(params: &Value) -> Option<String> {
    let raw = param(params, "Id").or_else(|| param(params, "ResourceId"))?;
    Some(raw.trim_start_matches("/hostedzone/").to_string())
}

/// Record types and actions in a ChangeResourceRecordSets body.
/// A ChangeResourceRecordSets batch's condition keys: record types,
/// actions, and names normalized as Route 53 does for
/// `route53:ChangeResourceRecordSetsNormalizedRecordNames` (lower case,
/// without the final dot).
fn record_changes(params: &Value) -> (Vec<String>, Vec<String>, Vec<String>) {
    let changes = params
        .pointer("/body/ChangeBatch/Changes/Change")
        .cloned()
        .unwrap_or(Value::Null);
    let list = match changes {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        single => vec![single],
    };
    let mut types = BTreeSet::new();
    let mut actions = BTreeSet::new();
    let mut names = BTreeSet::new();
    for change in &list {
        if let Some(a) = change.get("Action").and_then(Value::as_str) {
            actions.insert(a.to_string());
        }
        if let Some(t) = change
            .pointer("/ResourceRecordSet/Type")
            .and_then(Value::as_str)
        {
            types.insert(t.to_string());
        }
        if let Some(n) = change
            .pointer("/ResourceRecordSet/Name")
            .and_then(Value::as_str)
        {
            names.insert(n.trim_end_matches('.').to_ascii_lowercase());
        }
    }
    (
        types.into_iter().collect(),
        actions.into_iter().collect(),
        names.into_iter().collect(),
    )
}

fn route53(c: &mut Ctx<'_>) -> Result<()> {
    let action = c.call.action.clone();
    let own = c.own();
    let params = c.call.params.clone();
    let zone = |id: &str| format!("arn:aws:route53:::hostedzone/{id}");
    // A private hosted zone's VPC: Route 53 checks it with ec2:DescribeVpcs
    // (a dependent action of CreateHostedZone and the VPC association calls).
    // route53:VPCs: `VPCId=vpc-…,VPCRegion=…` of the request's VPC.
    let vpcs: Vec<String> = params
        .pointer("/body/VPC")
        .map(|v| {
            format!(
                "VPCId={},VPCRegion={}",
                v.get("VPCId").and_then(Value::as_str).unwrap_or(""),
                v.get("VPCRegion").and_then(Value::as_str).unwrap_or("")
            )
        })
        .into_iter()
        .collect();
    let describe_vpcs = |c: &mut Ctx<'_>| {
        if params.pointer("/body/VPC").is_some() {
            c.push_why(
                "ec2:DescribeVpcs",
                "*".into(),
                Kind::Star,
                &[],
                format!("{action} with a VPC (Route 53 reads it)"),
            );
        }
    };
    match action.as_str() {
        "ListHostedZones" | "ListHostedZonesByName" | "ListHostedZonesByVPC" => c.star(),
        "CreateHostedZone" => {
            c.push(
                &own,
                "*".into(),
                Kind::Star,
                &[("route53:VPCs", vpcs.clone())],
            );
            describe_vpcs(c);
        }
        "AssociateVPCWithHostedZone" | "DisassociateVPCFromHostedZone" => {
            let id = zone_id(&params).ok_or_else(|| anyhow!("{action} without a zone id"))?;
            c.push(
                &own,
                zone(&id),
                Kind::Existing,
                &[("route53:VPCs", vpcs.clone())],
            );
            describe_vpcs(c);
        }
        "GetHostedZone" | "DeleteHostedZone" | "ListResourceRecordSets" => {
            let id = zone_id(&params).ok_or_else(|| anyhow!("{action} without a zone id"))?;
            c.push(&own, zone(&id), Kind::Existing, &[]);
        }
        "ChangeResourceRecordSets" => {
            let id = zone_id(&params).ok_or_else(|| anyhow!("{action} without a zone id"))?;
            let (types, actions, names) = record_changes(&params);
            c.push(
                &own,
                zone(&id),
                Kind::Existing,
                &[
                    ("route53:ChangeResourceRecordSetsRecordTypes", types),
                    ("route53:ChangeResourceRecordSetsActions", actions),
                    (
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                        names,
                    ),
                ],
            );
        }
        "ChangeTagsForResource" | "ListTagsForResource" => {
            let id = zone_id(&params).ok_or_else(|| anyhow!("{action} without a zone id"))?;
            c.push(&own, zone(&id), Kind::Existing, &[]);
        }
        "GetChange" => {
            let id = param(&params, "Id").ok_or_else(|| anyhow!("GetChange without an id"))?;
            let id = id.trim_start_matches("/change/").to_string();
            c.push(
                &own,
                format!("arn:aws:route53:::change/{id}"),
                Kind::Existing,
                &[],
            );
        }
        other => bail!("route53:{other} is not in the SAR table of this test"),
    }
    Ok(())
}

/// What AWS needs of the approver's role that no SDK call of its own shows:
/// Lambda writes the function's logs with the execution role.
pub fn approver_runtime_authorizations(
    region: &str,
    account: &str,
    function: &str,
) -> Vec<Authorization> {
    let group = format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{function}");
    let mut context = BTreeMap::new();
    context.insert("aws:requestedregion".into(), vec![region.to_string()]);
    [
        ("logs:CreateLogGroup", group.clone()),
        ("logs:CreateLogStream", format!("{group}:log-stream:*")),
        ("logs:PutLogEvents", format!("{group}:log-stream:*")),
    ]
    .into_iter()
    .map(|(action, arn)| Authorization {
        action: action.into(),
        arn,
        kind: Kind::Existing,
        context: context.clone(),
        why: "the Lambda runtime writes the function's logs with its role".into(),
        resource_tags: None,
    })
    .collect()
}

// ---------------------------------------------------------------------------
// Evaluation

/// The outcome of one authorization against a policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Allowed by this statement; conditions taken as holding without
    /// evaluation are listed.
    Allowed {
        statement: String,
        assumed: Vec<String>,
    },
    /// Not allowed; why.
    Denied(String),
}

/// Condition keys this module models: absent unless the context has them.
fn modeled(key: &str) -> bool {
    const PREFIXES: [&str; 3] = ["aws:requesttag/", "aws:resourcetag/", "ec2:resourcetag/"];
    const KEYS: [&str; 11] = [
        "route53:vpcs",
        "aws:tagkeys",
        "ec2:createaction",
        "elasticloadbalancing:createaction",
        "iam:passedtoservice",
        "route53:changeresourcerecordsetsrecordtypes",
        "route53:changeresourcerecordsetsactions",
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:requestedregion",
        "ec2:region",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || KEYS.contains(&key)
}

enum KeyState<'a> {
    Present(&'a [String]),
    Absent,
    /// Present with values this module cannot know.
    Unknown,
}

fn key_state<'a>(auth: &'a Authorization, key: &str) -> KeyState<'a> {
    if let Some(values) = auth.context.get(key) {
        // An empty list: the request has no value for the key.
        if values.is_empty() {
            return KeyState::Absent;
        }
        return KeyState::Present(values);
    }
    let tag = key
        .strip_prefix("aws:resourcetag/")
        .or_else(|| key.strip_prefix("ec2:resourcetag/"));
    if let (Some(tag), Kind::Existing) = (tag, auth.kind) {
        return match &auth.resource_tags {
            None => KeyState::Unknown,
            Some(tags) => match tags.get(tag) {
                Some(values) if !values.is_empty() => KeyState::Present(values),
                _ => KeyState::Absent,
            },
        };
    }
    if modeled(key) {
        KeyState::Absent
    } else {
        KeyState::Unknown
    }
}

fn value_matches(op: &str, pattern: &str, value: &str) -> Option<bool> {
    Some(match op {
        "stringequals" | "arnequals" => pattern == value,
        "stringequalsignorecase" => pattern.eq_ignore_ascii_case(value),
        "stringlike" | "arnlike" => wildcard_match(pattern, value, false),
        "bool" => pattern.eq_ignore_ascii_case(value),
        _ => return None,
    })
}

/// Evaluates a Condition block. `Err(reason)` when it does not hold.
fn conditions_hold(
    condition: &Value,
    auth: &Authorization,
    assumed: &mut Vec<String>,
) -> std::result::Result<(), String> {
    let Some(operators) = condition.as_object() else {
        return Err(format!("Condition is not an object: {condition}"));
    };
    for (raw_op, block) in operators {
        let mut op = raw_op.to_ascii_lowercase();
        let set = if let Some(rest) = op.strip_prefix("forallvalues:") {
            op = rest.to_string();
            Some(true)
        } else if let Some(rest) = op.strip_prefix("foranyvalue:") {
            op = rest.to_string();
            Some(false)
        } else {
            None
        };
        let if_exists = op.ends_with("ifexists");
        if if_exists {
            op.truncate(op.len() - "ifexists".len());
        }
        let (negated, base) = match op.as_str() {
            "stringnotequals" => (true, "stringequals"),
            "stringnotequalsignorecase" => (true, "stringequalsignorecase"),
            "stringnotlike" => (true, "stringlike"),
            "arnnotequals" => (true, "arnequals"),
            "arnnotlike" => (true, "arnlike"),
            other => (false, other),
        };
        let Some(keys) = block.as_object() else {
            return Err(format!("{raw_op}: not an object"));
        };
        for (raw_key, wanted) in keys {
            let key = raw_key.to_ascii_lowercase();
            let wanted = strings(Some(wanted)).map_err(|e| format!("{raw_op} {raw_key}: {e}"))?;
            let state = key_state(auth, &key);
            if base == "null" {
                let absent = matches!(state, KeyState::Absent);
                let want_absent = wanted.iter().any(|w| w.eq_ignore_ascii_case("true"));
                match state {
                    KeyState::Unknown => assumed.push(format!("{raw_op} {raw_key}")),
                    _ if absent == want_absent => {}
                    _ => return Err(format!("{raw_op} {raw_key} does not hold")),
                }
                continue;
            }
            let values = match state {
                KeyState::Unknown => {
                    assumed.push(format!("{raw_op} {raw_key} {wanted:?}"));
                    continue;
                }
                KeyState::Absent => {
                    let holds = if_exists || negated || set == Some(true);
                    if holds {
                        continue;
                    }
                    return Err(format!(
                        "{raw_op} {raw_key}: the key is absent from this request"
                    ));
                }
                KeyState::Present(values) => values,
            };
            let matches_one = |v: &str| -> Option<bool> {
                let mut any = false;
                for w in &wanted {
                    any |= value_matches(base, w, v)?;
                }
                Some(any)
            };
            let mut results = Vec::new();
            for v in values {
                match matches_one(v) {
                    Some(m) => results.push(m),
                    None => {
                        assumed.push(format!("{raw_op} {raw_key} (operator not modelled)"));
                        results.clear();
                        break;
                    }
                }
            }
            if results.is_empty() && !values.is_empty() {
                continue; // assumed above
            }
            let holds = match (set, negated) {
                (Some(true), false) => results.iter().all(|m| *m),
                (Some(true), true) => results.iter().all(|m| !*m),
                (Some(false), false) | (None, false) => results.iter().any(|m| *m),
                (Some(false), true) => results.iter().any(|m| !*m),
                (None, true) => !results.iter().any(|m| *m),
            };
            if !holds {
                return Err(format!(
                    "{raw_op} {raw_key} {wanted:?} does not hold for {values:?}"
                ));
            }
        }
    }
    Ok(())
}

fn statement_applies(s: &Statement, auth: &Authorization) -> bool {
    let action_ok = if s.not_actions.is_empty() {
        s.actions
            .iter()
            .any(|p| wildcard_match(p, &auth.action, true))
    } else {
        !s.not_actions
            .iter()
            .any(|p| wildcard_match(p, &auth.action, true))
    };
    let resource_ok = if s.not_resources.is_empty() {
        s.resources
            .iter()
            .any(|p| wildcard_match(p, &auth.arn, false))
    } else {
        !s.not_resources
            .iter()
            .any(|p| wildcard_match(p, &auth.arn, false))
    };
    action_ok && resource_ok
}

/// Evaluates one authorization: an explicit Deny wins, then any Allow.
pub fn evaluate(policy: &Policy, auth: &Authorization) -> Verdict {
    let mut allowed = None;
    let mut near_misses = Vec::new();
    for s in &policy.statements {
        if !statement_applies(s, auth) {
            continue;
        }
        let mut assumed = Vec::new();
        let outcome = match &s.condition {
            None => Ok(()),
            Some(condition) => conditions_hold(condition, auth, &mut assumed),
        };
        match (s.allow, outcome) {
            (false, Ok(())) if assumed.is_empty() => {
                return Verdict::Denied(format!("explicitly denied by {}", s.sid))
            }
            (false, Ok(())) => {
                return Verdict::Denied(format!(
                    "explicitly denied by {} (if its unevaluated conditions hold: {})",
                    s.sid,
                    assumed.join("; ")
                ))
            }
            (true, Ok(())) => {
                if allowed.is_none() {
                    allowed = Some(Verdict::Allowed {
                        statement: s.sid.clone(),
                        assumed,
                    });
                }
            }
            (true, Err(why)) => near_misses.push(format!("{}: {why}", s.sid)),
            (false, Err(_)) => {}
        }
    }
    allowed.unwrap_or_else(|| {
        Verdict::Denied(if near_misses.is_empty() {
            "no statement allows this action on this resource".into()
        } else {
            format!("condition not met ({})", near_misses.join("; "))
        })
    })
}

/// The tags the run gave resources: at creation (tag-on-create, any
/// caller, the test harness's fixtures included) and by tagging calls.
/// `aws:ResourceTag` conditions on existing resources are evaluated against
/// it. A new EC2 or ELB resource's id is not in its request (only in the
/// response, which is not recorded), so its entry is the ARN pattern of the
/// create (`…:vpc/*`): an existing resource then sees the tags of every
/// resource of its type the run created in that account. That cannot catch
/// a tag on the wrong one of two same-typed resources, but it does catch a
/// condition on a tag the kit never sets.
struct TagLedger {
    entries: Vec<(String, BTreeMap<String, Vec<String>>)>,
}

impl TagLedger {
    fn from_calls(calls: &[Call], facts: &RunFacts) -> TagLedger {
        let mut entries = Vec::new();
        for call in calls.iter().filter(|c| (200..300).contains(&c.status)) {
            let Ok(auths) = authorizations(call, facts) else {
                continue;
            };
            for auth in auths {
                let tagging = [
                    "CreateTags",
                    "AddTags",
                    "TagResource",
                    "TagRole",
                    "TagPolicy",
                ]
                .iter()
                .any(|t| auth.action.ends_with(&format!(":{t}")));
                if auth.kind == Kind::Star || (auth.kind == Kind::Existing && !tagging) {
                    continue;
                }
                let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for (key, values) in &auth.context {
                    if let Some(tag) = key.strip_prefix("aws:requesttag/") {
                        tags.entry(tag.to_string())
                            .or_default()
                            .extend(values.iter().cloned());
                    }
                }
                // A create without tags still creates the resource: it is
                // known, with no tags.
                entries.push((auth.arn, tags));
            }
        }
        TagLedger { entries }
    }

    /// The tags the run gave `arn`, or `None` if the run neither created
    /// nor tagged anything that matches it.
    fn tags_of(&self, arn: &str) -> Option<BTreeMap<String, Vec<String>>> {
        let mut found = None;
        for (pattern, tags) in &self.entries {
            if wildcard_match(pattern, arn, false) {
                let merged: &mut BTreeMap<String, Vec<String>> =
                    found.get_or_insert_with(BTreeMap::new);
                for (k, v) in tags {
                    let values = merged.entry(k.clone()).or_default();
                    for value in v {
                        if !values.contains(value) {
                            values.push(value.clone());
                        }
                    }
                }
            }
        }
        found
    }
}

// ---------------------------------------------------------------------------
// The report

/// One binary, its policy and its calls.
pub struct Subject<'a> {
    /// The `app/NAME` of the binary.
    pub app: &'a str,
    /// Where the policy comes from (for the report).
    pub policy_source: String,
    pub policy: Policy,
    /// A permissions boundary on the same principal: an action is allowed
    /// only if both the policy and the boundary allow it.
    pub boundary: Option<Policy>,
    /// Authorizations AWS needs of it that no recorded call shows.
    pub extra: Vec<Authorization>,
}

/// An authorization the policy does not cover.
#[derive(Debug, Clone)]
pub struct Gap {
    pub app: String,
    pub action: String,
    pub arn: String,
    pub why: String,
    pub reason: String,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} needs {} on {} (for {}): {}",
            self.app, self.action, self.arn, self.why, self.reason
        )
    }
}

/// Per binary: what it called and what its policy covers.
#[derive(Debug, Clone, Default)]
pub struct AppReport {
    pub app: String,
    pub policy_source: String,
    pub calls: usize,
    /// Distinct `service:Action` it called.
    pub actions: BTreeSet<String>,
    /// Distinct (action, ARN) authorizations, dependent actions included.
    pub authorizations: usize,
    pub covered: usize,
    /// Conditions assumed to hold (not evaluated), with how often.
    pub assumed: BTreeMap<String, usize>,
    pub gaps: Vec<Gap>,
}

/// The whole check.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub apps: Vec<AppReport>,
    /// Calls by callers that are not one of the subjects (the test
    /// harness's own fixtures and checks), by app name.
    pub other_calls: BTreeMap<String, usize>,
}

impl Report {
    pub fn gaps(&self) -> Vec<&Gap> {
        self.apps.iter().flat_map(|a| a.gaps.iter()).collect()
    }
}

/// Checks every call of every subject against that subject's policy.
pub fn check(calls: &[Call], subjects: &[Subject<'_>], facts: &RunFacts) -> Report {
    let mut facts = facts.clone();
    facts.learn(calls);
    let facts = &facts;
    let ledger = TagLedger::from_calls(calls, facts);
    let mut report = Report::default();
    for call in calls {
        let app = call.app.as_deref().unwrap_or("(no app name)");
        if !subjects.iter().any(|s| s.app == app) {
            *report.other_calls.entry(app.to_string()).or_default() += 1;
        }
    }
    for subject in subjects {
        let mut app = AppReport {
            app: subject.app.to_string(),
            policy_source: subject.policy_source.clone(),
            ..Default::default()
        };
        let mut seen = BTreeSet::new();
        let mut auths = Vec::new();
        for call in calls
            .iter()
            .filter(|c| c.app.as_deref() == Some(subject.app))
        {
            app.calls += 1;
            app.actions
                .insert(format!("{}:{}", call.service, call.action));
            match authorizations(call, facts) {
                Ok(list) => auths.extend(list),
                Err(e) => {
                    let gap = Gap {
                        app: subject.app.to_string(),
                        action: format!("{}:{}", call.service, call.action),
                        arn: "?".into(),
                        why: call.action.clone(),
                        reason: format!("{e:#}"),
                    };
                    if seen.insert((gap.action.clone(), gap.reason.clone())) {
                        app.gaps.push(gap);
                    }
                }
            }
        }
        auths.extend(subject.extra.iter().cloned());
        let mut distinct = BTreeSet::new();
        for auth in &mut auths {
            // One verdict per distinct authorization (same action, ARN and context).
            let key = format!("{}|{}|{:?}", auth.action, auth.arn, auth.context);
            if !distinct.insert(key) {
                continue;
            }
            if auth.kind == Kind::Existing {
                auth.resource_tags = ledger.tags_of(&auth.arn);
            }
            let auth = &*auth;
            app.authorizations += 1;
            let verdict = match (evaluate(&subject.policy, auth), &subject.boundary) {
                (Verdict::Allowed { statement, assumed }, Some(boundary)) => {
                    match evaluate(boundary, auth) {
                        Verdict::Allowed { assumed: more, .. } => Verdict::Allowed {
                            statement,
                            assumed: assumed.into_iter().chain(more).collect(),
                        },
                        Verdict::Denied(why) => {
                            Verdict::Denied(format!("outside the permissions boundary: {why}"))
                        }
                    }
                }
                (verdict, _) => verdict,
            };
            match verdict {
                Verdict::Allowed { assumed, .. } => {
                    app.covered += 1;
                    for a in assumed {
                        *app.assumed.entry(a).or_default() += 1;
                    }
                }
                Verdict::Denied(reason) => app.gaps.push(Gap {
                    app: subject.app.to_string(),
                    action: auth.action.clone(),
                    arn: auth.arn.clone(),
                    why: auth.why.clone(),
                    reason,
                }),
            }
        }
        if app.calls == 0 {
            app.gaps.push(Gap {
                app: subject.app.to_string(),
                action: "-".into(),
                arn: "-".into(),
                why: "the run".into(),
                reason: "no call recorded with this app name: is the binary setting it?".into(),
            });
        }
        report.apps.push(app);
    }
    report
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "IAM action coverage (recorded calls vs generated policies)"
        )?;
        writeln!(
            f,
            "  {:<18} {:>6} {:>8} {:>15} {:>8}  policy",
            "binary", "calls", "actions", "authorizations", "covered"
        )?;
        for a in &self.apps {
            writeln!(
                f,
                "  {:<18} {:>6} {:>8} {:>15} {:>8}  {}",
                a.app,
                a.calls,
                a.actions.len(),
                a.authorizations,
                a.covered,
                a.policy_source
            )?;
        }
        for a in &self.apps {
            let mut line = String::new();
            for (i, action) in a.actions.iter().enumerate() {
                let _ = write!(line, "{}{action}", if i == 0 { "" } else { ", " });
            }
            writeln!(f, "  {} actions: {line}", a.app)?;
            for (cond, n) in &a.assumed {
                writeln!(f, "  {} assumed (not evaluated) x{n}: {cond}", a.app)?;
            }
        }
        if !self.other_calls.is_empty() {
            let others: Vec<String> = self
                .other_calls
                .iter()
                .map(|(app, n)| format!("{app} {n}"))
                .collect();
            writeln!(
                f,
                "  not checked (test harness, no policy of the kit): {}",
                others.join(", ")
            )?;
        }
        let gaps = self.gaps();
        if gaps.is_empty() {
            write!(f, "  all covered")
        } else {
            writeln!(f, "  UNCOVERED ({}):", gaps.len())?;
            for g in gaps {
                writeln!(f, "    {g}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(service: &str, action: &str, params: Value) -> Call {
        Call {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            service: service.into(),
            action: action.into(),
            app: Some("x".into()),
            params,
            status: 200,
        }
    }

    #[test]
    fn wildcards_follow_iam() {
        let cases = [
            ("*", "anything", false, true),
            ("ec2:Describe*", "ec2:DescribeVpcs", false, true),
            ("ec2:describe*", "ec2:DescribeVpcs", true, true),
            ("ec2:describe*", "ec2:DescribeVpcs", false, false),
            (
                "arn:aws:sns:*:1:t?",
                "arn:aws:sns:us-east-1:1:tx",
                false,
                true,
            ),
            (
                "arn:aws:sns:*:1:t?",
                "arn:aws:sns:us-east-1:1:txy",
                false,
                false,
            ),
            ("a*b*c", "aXXbYYc", false, true),
            ("a*b*c", "aXXbYY", false, false),
            ("arn:aws:ec2:r:a:vpc/*", "*", false, false),
            ("*", "*", false, true),
        ];
        for (p, t, ci, want) in cases {
            assert_eq!(wildcard_match(p, t, ci), want, "{p} vs {t}");
        }
    }

    #[test]
    fn create_vpc_endpoint_authorizes_every_resource_it_touches() {
        let c = call(
            "ec2",
            "CreateVpcEndpoint",
            json!({
                "VpcId": "vpc-1", "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-1", "SubnetId.1": "subnet-1", "SubnetId.2": "subnet-2",
                "SecurityGroupId.1": "sg-1",
                "TagSpecification.1.ResourceType": "vpc-endpoint",
                "TagSpecification.1.Tag.1.Key": "k", "TagSpecification.1.Tag.1.Value": "v"
            }),
        );
        let auths = authorizations(&c, &RunFacts::default()).unwrap();
        let got: Vec<(&str, &str, Kind)> = auths
            .iter()
            .map(|a| (a.action.as_str(), a.arn.as_str(), a.kind))
            .collect();
        let p = "arn:aws:ec2:us-east-1:111111111111";
        assert_eq!(
            got,
            vec![
                (
                    "ec2:CreateVpcEndpoint",
                    &*format!("{p}:vpc-endpoint/*"),
                    Kind::New
                ),
                ("ec2:CreateTags", &*format!("{p}:vpc-endpoint/*"), Kind::New),
                (
                    "ec2:CreateVpcEndpoint",
                    &*format!("{p}:vpc/vpc-1"),
                    Kind::Existing
                ),
                (
                    "ec2:CreateVpcEndpoint",
                    &*format!("{p}:subnet/subnet-1"),
                    Kind::Existing
                ),
                (
                    "ec2:CreateVpcEndpoint",
                    &*format!("{p}:subnet/subnet-2"),
                    Kind::Existing
                ),
                (
                    "ec2:CreateVpcEndpoint",
                    &*format!("{p}:security-group/sg-1"),
                    Kind::Existing
                ),
            ]
        );
        assert_eq!(
            auths[1].context["ec2:createaction"],
            vec!["CreateVpcEndpoint"]
        );
        assert_eq!(auths[0].context["aws:requesttag/k"], vec!["v"]);
        assert_eq!(
            auths[0].context["ec2:vpceservicename"],
            vec!["com.amazonaws.vpce.us-east-1.vpce-svc-1"]
        );
        // The VPC is not created: no request tags in its context.
        assert!(!auths[2].context.contains_key("aws:tagkeys"));
    }

    #[test]
    fn changing_supported_regions_also_needs_vpce_allow_multi_region() {
        let actions = |params: Value| -> Vec<String> {
            let c = call("ec2", "ModifyVpcEndpointServiceConfiguration", params);
            authorizations(&c, &RunFacts::default())
                .unwrap()
                .into_iter()
                .map(|a| format!("{} {}", a.action, a.arn))
                .collect()
        };
        let service = "ec2:ModifyVpcEndpointServiceConfiguration \
                       arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-service/vpce-svc-1";
        assert_eq!(
            actions(json!({"ServiceId": "vpce-svc-1", "AcceptanceRequired": "true"})),
            [service]
        );
        for key in ["AddSupportedRegion.1", "RemoveSupportedRegion.1"] {
            assert_eq!(
                actions(json!({"ServiceId": "vpce-svc-1", key: "eu-west-1"})),
                [service, "vpce:AllowMultiRegion *"],
                "{key}"
            );
        }
    }

    #[test]
    fn dynamodb_transactions_are_authorized_item_by_item_and_tags_on_create() {
        let facts = RunFacts::default();
        let table = "arn:aws:dynamodb:us-east-1:111111111111:table/acme-tenants";
        let got = |c: &Call| -> Vec<(String, String, Kind)> {
            authorizations(c, &facts)
                .unwrap()
                .into_iter()
                .map(|a| (a.action, a.arn, a.kind))
                .collect()
        };
        let create = call(
            "dynamodb",
            "CreateTable",
            json!({"TableName": "acme-tenants", "Tags": [{"Key": "k", "Value": "v"}]}),
        );
        assert_eq!(
            got(&create),
            [
                ("dynamodb:CreateTable".into(), table.into(), Kind::New),
                ("dynamodb:TagResource".into(), table.into(), Kind::New)
            ]
        );
        let transaction = call(
            "dynamodb",
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": "acme-tenants", "Item": {}}},
                {"ConditionCheck": {"TableName": "acme-tenants", "Key": {}}}
            ]}),
        );
        assert_eq!(
            got(&transaction),
            [
                ("dynamodb:PutItem".into(), table.into(), Kind::Existing),
                (
                    "dynamodb:ConditionCheckItem".into(),
                    table.into(),
                    Kind::Existing
                )
            ]
        );
        let batch = call(
            "dynamodb",
            "BatchGetItem",
            json!({"RequestItems": {"acme-tenants": {"Keys": []}}}),
        );
        assert_eq!(
            got(&batch),
            [("dynamodb:BatchGetItem".into(), table.into(), Kind::Existing)]
        );
        let odd = call(
            "dynamodb",
            "TransactWriteItems",
            json!({"TransactItems": [{"Shout": {}}]}),
        );
        assert!(authorizations(&odd, &facts).is_err());
    }

    #[test]
    fn request_tag_conditions_hold_only_on_the_created_resource() {
        let policy = Policy::from_documents([&json!({"Statement": [{
            "Effect": "Allow", "Action": "ec2:CreateVpcEndpoint", "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/k": "v"}}
        }]})])
        .unwrap();
        let c = call(
            "ec2",
            "CreateVpcEndpoint",
            json!({"VpcId": "vpc-1", "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-1", "TagSpecification.1.ResourceType": "vpc-endpoint",
                   "TagSpecification.1.Tag.1.Key": "k", "TagSpecification.1.Tag.1.Value": "v"}),
        );
        let auths = authorizations(&c, &RunFacts::default()).unwrap();
        assert!(matches!(
            evaluate(&policy, &auths[0]),
            Verdict::Allowed { .. }
        ));
        // The VPC: the RunInstances rule, the key is absent there.
        let vpc = auths.iter().find(|a| a.arn.ends_with("vpc/vpc-1")).unwrap();
        assert!(matches!(evaluate(&policy, vpc), Verdict::Denied(_)));
    }

    #[test]
    fn star_only_actions_need_a_star_resource() {
        let scoped = Policy::from_documents([&json!({"Statement": [{
            "Effect": "Allow", "Action": "ec2:DescribeVpcs",
            "Resource": "arn:aws:ec2:us-east-1:111111111111:vpc/*"
        }]})])
        .unwrap();
        let star = Policy::from_documents([&json!({"Statement": [{
            "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"
        }]})])
        .unwrap();
        let c = call("ec2", "DescribeVpcs", json!({}));
        let auth = &authorizations(&c, &RunFacts::default()).unwrap()[0];
        assert_eq!(auth.arn, "*");
        assert!(matches!(evaluate(&scoped, auth), Verdict::Denied(_)));
        assert!(matches!(evaluate(&star, auth), Verdict::Allowed { .. }));
    }

    #[test]
    fn resource_tag_conditions_are_assumed_on_existing_resources_only() {
        let policy = Policy::from_documents([&json!({"Statement": [{
            "Effect": "Allow",
            "Action": ["ec2:DeleteVpcEndpointConnectionNotifications", "ec2:DescribeVpcEndpointConnections"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/privatelink-kit:stack": "s"}}
        }]})])
        .unwrap();
        let facts = RunFacts {
            service_ids: vec!["vpce-svc-1".into()],
            function_name: None,
            role_boundaries: BTreeMap::new(),
        };
        let delete = call("ec2", "DeleteVpcEndpointConnectionNotifications", json!({}));
        let auth = &authorizations(&delete, &facts).unwrap()[0];
        assert_eq!(
            auth.arn,
            "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-service/vpce-svc-1"
        );
        match evaluate(&policy, auth) {
            Verdict::Allowed { assumed, .. } => assert_eq!(assumed.len(), 1),
            other => panic!("{other:?}"),
        }
        // A `*`-only action has no resource, so no resource tag: never matches.
        let describe = call("ec2", "DescribeVpcEndpointConnections", json!({}));
        let auth = &authorizations(&describe, &facts).unwrap()[0];
        assert!(matches!(evaluate(&policy, auth), Verdict::Denied(_)));
    }

    #[test]
    fn dependent_actions_are_required() {
        let create = call(
            "lambda",
            "CreateFunction",
            json!({"path": "/2015-03-31/functions", "labels": {}, "query": {},
                   "body": {"FunctionName": "f", "Role": "arn:aws:iam::111111111111:role/r",
                            "Tags": {"k": "v"}}}),
        );
        let actions: Vec<String> = authorizations(&create, &RunFacts::default())
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {}", a.action, a.arn))
            .collect();
        assert_eq!(
            actions,
            vec![
                "lambda:CreateFunction arn:aws:lambda:us-east-1:111111111111:function:f",
                "lambda:TagResource arn:aws:lambda:us-east-1:111111111111:function:f",
                "iam:PassRole arn:aws:iam::111111111111:role/r",
            ]
        );
        let get = call(
            "lambda",
            "GetFunction",
            json!({"path": "/2015-03-31/functions/f", "labels": {"FunctionName": "f"}, "query": {}, "body": null}),
        );
        let auths = authorizations(&get, &RunFacts::default()).unwrap();
        assert_eq!(auths[1].action, "lambda:ListTags");
    }

    #[test]
    fn conditions_evaluate_like_iam() {
        let auth = Authorization {
            action: "ec2:CreateTags".into(),
            arn: "arn:aws:ec2:r:a:vpc-endpoint-connection/vpce-con-1".into(),
            kind: Kind::Existing,
            context: BTreeMap::from([
                ("aws:tagkeys".into(), vec!["a".into(), "b".into()]),
                ("aws:requesttag/a".into(), vec!["1".into()]),
            ]),
            why: "t".into(),
            resource_tags: None,
        };
        let eval = |cond: Value| {
            let policy = Policy::from_documents([&json!({"Statement": [{
                "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*", "Condition": cond
            }]})])
            .unwrap();
            matches!(evaluate(&policy, &auth), Verdict::Allowed { .. })
        };
        assert!(eval(
            json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b", "c"]}})
        ));
        assert!(!eval(
            json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}})
        ));
        assert!(eval(
            json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}})
        ));
        assert!(eval(json!({"StringEquals": {"aws:RequestTag/a": "1"}})));
        assert!(!eval(json!({"StringEquals": {"aws:RequestTag/z": "1"}})));
        assert!(eval(
            json!({"StringEqualsIfExists": {"aws:RequestTag/z": "1"}})
        ));
        assert!(eval(json!({"StringLike": {"aws:RequestTag/a": "*"}})));
        assert!(!eval(
            json!({"StringEquals": {"ec2:CreateAction": "CreateVpc"}})
        ));
        assert!(eval(json!({"Null": {"ec2:CreateAction": "true"}})));
        // Explicit deny wins.
        let policy = Policy::from_documents([&json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "no", "Effect": "Deny", "Action": "ec2:CreateTags", "Resource": "*"}
        ]})])
        .unwrap();
        assert!(matches!(evaluate(&policy, &auth), Verdict::Denied(_)));
    }

    #[test]
    fn query_lists_and_tags_are_read_in_both_forms() {
        let params = json!({
            "ResourceArns.member.2": "b", "ResourceArns.member.1": "a",
            "Tags.member.1.Key": "k", "Tags.member.1.Value": "v",
            "ServiceId.1": "vpce-svc-1"
        });
        assert_eq!(list(&params, "ResourceArns"), vec!["a", "b"]);
        assert_eq!(list(&params, "ServiceId"), vec!["vpce-svc-1"]);
        assert_eq!(
            numbered_tags(params.as_object().unwrap(), "Tags"),
            vec![("k".to_string(), "v".to_string())]
        );
    }

    fn subject(policy: Value) -> Subject<'static> {
        Subject {
            app: "x",
            policy_source: "test".into(),
            policy: Policy::from_documents([&policy]).unwrap(),
            boundary: None,
            extra: Vec::new(),
        }
    }

    #[test]
    fn resource_tags_are_those_the_run_gave() {
        let create = call(
            "ec2",
            "CreateVpc",
            json!({"TagSpecification.1.ResourceType": "vpc",
                   "TagSpecification.1.Tag.1.Key": "stack", "TagSpecification.1.Tag.1.Value": "s"}),
        );
        let delete = call("ec2", "DeleteVpc", json!({"VpcId": "vpc-1"}));
        let policy = |tag: &str| {
            subject(json!({"Statement": [
                {"Effect": "Allow", "Action": ["ec2:CreateVpc", "ec2:CreateTags"], "Resource": "*"},
                {"Effect": "Allow", "Action": "ec2:DeleteVpc", "Resource": "*",
                 "Condition": {"StringEquals": {format!("aws:ResourceTag/{tag}"): "s"}}}
            ]}))
        };
        let calls = [create, delete];
        let report = check(&calls, &[policy("stack")], &RunFacts::default());
        assert!(report.gaps().is_empty(), "{report}");
        assert!(report.apps[0].assumed.is_empty(), "{report}");
        // A condition on a tag the run never set is a gap, not an assumption.
        let report = check(&calls, &[policy("other")], &RunFacts::default());
        assert_eq!(report.gaps().len(), 1, "{report}");
    }

    #[test]
    fn a_role_keeps_the_boundary_it_was_created_with() {
        let boundary = "arn:aws:iam::111111111111:policy/b";
        let calls = [
            call(
                "iam",
                "CreateRole",
                json!({"RoleName": "r", "PermissionsBoundary": boundary}),
            ),
            call(
                "iam",
                "PutRolePolicy",
                json!({"RoleName": "r", "PolicyName": "p"}),
            ),
        ];
        let policy = subject(json!({"Statement": [
            {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:PutRolePolicy"], "Resource": "*"},
            {"Sid": "Outside", "Effect": "Deny", "Action": ["iam:CreateRole", "iam:PutRolePolicy"],
             "Resource": "*", "Condition": {"StringNotLike": {"iam:PermissionsBoundary": boundary}}}
        ]}));
        let report = check(&calls, &[policy], &RunFacts::default());
        assert!(report.gaps().is_empty(), "{report}");
        // Without the boundary both are denied.
        let calls = [
            call("iam", "CreateRole", json!({"RoleName": "r"})),
            call(
                "iam",
                "PutRolePolicy",
                json!({"RoleName": "r", "PolicyName": "p"}),
            ),
        ];
        let policy = subject(json!({"Statement": [
            {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:PutRolePolicy"], "Resource": "*"},
            {"Sid": "Outside", "Effect": "Deny", "Action": ["iam:CreateRole", "iam:PutRolePolicy"],
             "Resource": "*", "Condition": {"StringNotLike": {"iam:PermissionsBoundary": boundary}}}
        ]}));
        let report = check(&calls, &[policy], &RunFacts::default());
        assert_eq!(report.gaps().len(), 2, "{report}");
    }

    #[test]
    fn calls_outside_the_table_are_gaps_not_passes() {
        let c = call("ec2", "RunInstances", json!({}));
        assert!(authorizations(&c, &RunFacts::default()).is_err());
        let report = check(
            &[c],
            &[Subject {
                app: "x",
                policy_source: "test".into(),
                policy: Policy::from_documents([&json!({"Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"}]})])
                .unwrap(),
                boundary: None,
                extra: Vec::new(),
            }],
            &RunFacts::default(),
        );
        assert_eq!(report.gaps().len(), 1);
    }
}
