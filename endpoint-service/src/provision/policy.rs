//! Every policy document of the stack, built in one place: the SNS topic
//! policy, the approver role's trust and inline policies, and the
//! operator's least-privilege policy for `up`/`status`/`down`. `up` and
//! `iam-policy` call the same functions, so what is printed is what is
//! applied.

use serde_json::{json, Value};

use crate::naming::{StackName, STACK_TAG};

/// Name of the approver role's inline policy.
pub const ROLE_POLICY_NAME: &str = "approver";
/// Statement id of the permission letting SNS invoke the approver.
pub const SNS_PERMISSION_SID: &str = "sns-connection-notifications";
/// Statement id of the permission letting EventBridge run the sweep.
pub const SWEEP_PERMISSION_SID: &str = "scheduled-sweep";
/// The events a connection notification subscribes to.
pub const CONNECTION_EVENTS: [&str; 4] = ["Accept", "Connect", "Delete", "Reject"];

/// Where the policies apply. Unknown parts are `*` (for `iam-policy`
/// before the stack exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub stack: StackName,
    pub region: String,
    pub account: String,
    pub service_id: Option<String>,
}

impl Scope {
    /// The endpoint service's ARN (`vpce-svc-*` while unknown).
    pub fn service_arn(&self) -> String {
        service_arn(
            &self.region,
            &self.account,
            self.service_id.as_deref().unwrap_or("vpce-svc-*"),
        )
    }
    pub fn topic_arn(&self) -> String {
        format!(
            "arn:aws:sns:{}:{}:{}",
            self.region,
            self.account,
            self.stack.topic()
        )
    }
    pub fn role_arn(&self) -> String {
        format!("arn:aws:iam::{}:role/{}", self.account, self.stack.role())
    }
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region,
            self.account,
            self.stack.function()
        )
    }
    pub fn rule_arn(&self) -> String {
        format!(
            "arn:aws:events:{}:{}:rule/{}",
            self.region,
            self.account,
            self.stack.sweep_rule()
        )
    }
}

/// Endpoint connections of this account's services
/// (`vpc-endpoint-connection/vpce-con-*`), the only resources the decision
/// history tags.
fn connection_arns(scope: &Scope) -> String {
    format!(
        "arn:aws:ec2:{}:{}:vpc-endpoint-connection/*",
        scope.region, scope.account
    )
}

/// Only the decision-history tag keys may be written, so the role cannot
/// rewrite other tags (another stack's history, a consumer-facing name).
fn history_tags_only() -> Value {
    json!({"ForAllValues:StringEquals": {"aws:TagKeys": crate::approval::history::HISTORY_TAGS}})
}

/// `arn:aws:ec2:REGION:ACCOUNT:vpc-endpoint-service/ID`.
pub fn service_arn(region: &str, account: &str, service_id: &str) -> String {
    format!("arn:aws:ec2:{region}:{account}:vpc-endpoint-service/{service_id}")
}

/// The topic policy AWS documents for endpoint-service notifications: only
/// `vpce.amazonaws.com` may publish, and only for this service of this
/// account (`aws:SourceArn`, `aws:SourceAccount`: the confused-deputy
/// guard). Nobody else gets any statement.
pub fn topic_policy(topic_arn: &str, region: &str, account: &str, service_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "vpce-connection-notifications",
            "Effect": "Allow",
            "Principal": {"Service": "vpce.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {
                "ArnLike": {"aws:SourceArn": service_arn(region, account, service_id)},
                "StringEquals": {"aws:SourceAccount": account}
            }
        }]
    })
}

/// Who may assume the approver role: the Lambda service only.
pub fn lambda_trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The approver role's inline policy: list connections (Describe actions
/// support no resource scoping), accept or reject them on this endpoint
/// service only, record each decision as tags on the connection (the
/// decision history, see `approval::history`), and write its own logs.
pub fn approver_role_policy(scope: &Scope) -> Value {
    let log_group = format!(
        "arn:aws:logs:{}:{}:log-group:/aws/lambda/{}",
        scope.region,
        scope.account,
        scope.stack.function()
    );
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListConnections",
                "Effect": "Allow",
                "Action": "ec2:DescribeVpcEndpointConnections",
                "Resource": "*"
            },
            {
                "Sid": "DecideConnectionsOfThisServiceOnly",
                "Effect": "Allow",
                "Action": ["ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"],
                "Resource": scope.service_arn()
            },
            {
                "Sid": "RecordDecisionsOnConnections",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": connection_arns(scope),
                "Condition": history_tags_only()
            },
            {
                "Sid": "OwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_group.clone(), format!("{log_group}:*")]
            }
        ]
    })
}

/// Read-only calls `up`, `plan`, `status` and `down` make; none of them
/// supports resource-level scoping.
pub const OPERATOR_READ_ACTIONS: &[&str] = &[
    "sts:GetCallerIdentity",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ec2:DescribeVpcEndpointServicePermissions",
    "ec2:DescribeVpcEndpointConnectionNotifications",
    "ec2:DescribeVpcEndpointConnections",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTags",
    "route53:ListHostedZonesByName",
];

/// EC2 creates, allowed only when the request tags the new resource with
/// this stack.
pub const OPERATOR_EC2_CREATE_ACTIONS: &[&str] = &[
    "ec2:CreateVpc",
    "ec2:CreateSubnet",
    "ec2:CreateVpcEndpointServiceConfiguration",
];

/// EC2 changes, allowed only on resources tagged with this stack.
pub const OPERATOR_EC2_OWNED_ACTIONS: &[&str] = &[
    "ec2:DeleteVpc",
    "ec2:DeleteSubnet",
    "ec2:ModifyVpcEndpointServiceConfiguration",
    "ec2:ModifyVpcEndpointServicePermissions",
    "ec2:DeleteVpcEndpointServiceConfigurations",
    "ec2:AcceptVpcEndpointConnections",
    "ec2:RejectVpcEndpointConnections",
    "ec2:CreateVpcEndpointConnectionNotification",
    "ec2:ModifyVpcEndpointConnectionNotification",
    "ec2:DeleteVpcEndpointConnectionNotifications",
];

pub const OPERATOR_ELB_ACTIONS: &[&str] = &[
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeleteLoadBalancer",
];

pub const OPERATOR_SNS_ACTIONS: &[&str] = &[
    "sns:CreateTopic",
    "sns:TagResource",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:ListTagsForResource",
    "sns:ListSubscriptionsByTopic",
    "sns:Subscribe",
    "sns:Unsubscribe",
    "sns:DeleteTopic",
];

pub const OPERATOR_IAM_ACTIONS: &[&str] = &[
    "iam:CreateRole",
    "iam:TagRole",
    "iam:GetRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:GetRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:DeleteRole",
];

pub const OPERATOR_LAMBDA_ACTIONS: &[&str] = &[
    "lambda:CreateFunction",
    "lambda:TagResource",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:GetPolicy",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:AddPermission",
    "lambda:RemovePermission",
    "lambda:DeleteFunction",
];

pub const OPERATOR_EVENTS_ACTIONS: &[&str] = &[
    "events:PutRule",
    "events:TagResource",
    "events:DescribeRule",
    "events:ListTagsForResource",
    "events:ListTargetsByRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:DeleteRule",
];

/// Route 53 changes: only TXT records (the private DNS verification).
pub const OPERATOR_ROUTE53_ACTIONS: &[&str] = &[
    "route53:ListResourceRecordSets",
    "route53:ChangeResourceRecordSets",
];

/// The least-privilege policy for the operator who runs `up`, `plan`,
/// `status` and `down` for this stack: reads everywhere (AWS offers no
/// scoping for them), EC2 writes only on resources carrying the stack's tag
/// (or creating them with it), and every other write only on the stack's
/// deterministic names.
pub fn operator_policy(scope: &Scope) -> Value {
    let (r, a, s) = (&scope.region, &scope.account, scope.stack.as_str());
    let tag_condition = |key: &str| json!({"StringEquals": {format!("{key}/{STACK_TAG}"): s}});
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": OPERATOR_READ_ACTIONS, "Resource": "*"},
            {
                "Sid": "CreateTaggedWithThisStack",
                "Effect": "Allow",
                "Action": OPERATOR_EC2_CREATE_ACTIONS,
                "Resource": "*",
                "Condition": tag_condition("aws:RequestTag")
            },
            {
                "Sid": "TagOnCreateOnly",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": "*",
                "Condition": {"StringEquals": {"ec2:CreateAction": OPERATOR_EC2_CREATE_ACTIONS.iter().map(|a| a.trim_start_matches("ec2:")).collect::<Vec<_>>()}}
            },
            {
                "Sid": "RecordDecisionsOnConnections",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": connection_arns(scope),
                "Condition": history_tags_only()
            },
            {
                "Sid": "ChangeOnlyThisStacksEc2Resources",
                "Effect": "Allow",
                "Action": OPERATOR_EC2_OWNED_ACTIONS,
                "Resource": "*",
                "Condition": tag_condition("aws:ResourceTag")
            },
            {
                "Sid": "LoadBalancerOfThisStack",
                "Effect": "Allow",
                "Action": OPERATOR_ELB_ACTIONS,
                "Resource": [
                    format!("arn:aws:elasticloadbalancing:{r}:{a}:loadbalancer/net/{s}-nlb/*"),
                    format!("arn:aws:elasticloadbalancing:{r}:{a}:listener/net/{s}-nlb/*"),
                    format!("arn:aws:elasticloadbalancing:{r}:{a}:targetgroup/{s}-tg-*/*")
                ]
            },
            {"Sid": "TopicOfThisStack", "Effect": "Allow", "Action": OPERATOR_SNS_ACTIONS, "Resource": scope.topic_arn()},
            {"Sid": "ApproverRoleOfThisStack", "Effect": "Allow", "Action": OPERATOR_IAM_ACTIONS, "Resource": scope.role_arn()},
            {
                "Sid": "PassTheApproverRoleToLambdaOnly",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": scope.role_arn(),
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
            },
            {"Sid": "ApproverFunctionOfThisStack", "Effect": "Allow", "Action": OPERATOR_LAMBDA_ACTIONS, "Resource": scope.function_arn()},
            {"Sid": "SweepRuleOfThisStack", "Effect": "Allow", "Action": OPERATOR_EVENTS_ACTIONS, "Resource": scope.rule_arn()},
            {
                "Sid": "PrivateDnsVerificationRecordOnly",
                "Effect": "Allow",
                "Action": OPERATOR_ROUTE53_ACTIONS,
                "Resource": "arn:aws:route53:::hostedzone/*",
                "Condition": {"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}}
            }
        ]
    })
}

/// Every action the operator policy allows (for checks and docs).
pub fn operator_actions() -> Vec<&'static str> {
    [
        OPERATOR_READ_ACTIONS,
        OPERATOR_EC2_CREATE_ACTIONS,
        &["ec2:CreateTags", "iam:PassRole"],
        OPERATOR_EC2_OWNED_ACTIONS,
        OPERATOR_ELB_ACTIONS,
        OPERATOR_SNS_ACTIONS,
        OPERATOR_IAM_ACTIONS,
        OPERATOR_LAMBDA_ACTIONS,
        OPERATOR_EVENTS_ACTIONS,
        OPERATOR_ROUTE53_ACTIONS,
    ]
    .concat()
}

/// Parses a policy document as AWS returns it: plain JSON (SNS, Lambda) or
/// URL-encoded JSON (IAM's `GetRole`/`GetRolePolicy`; the SDK does not
/// decode it).
pub fn parse_document(raw: &str) -> Option<Value> {
    serde_json::from_str(raw)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(raw)?).ok())
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = raw.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            stack: StackName::parse("acme").unwrap(),
            region: "us-east-1".into(),
            account: "111111111111".into(),
            service_id: Some("vpce-svc-0123456789abcdef0".into()),
        }
    }

    #[test]
    fn the_approver_may_decide_only_for_its_own_service() {
        let policy = approver_role_policy(&scope());
        let statements = policy["Statement"].as_array().unwrap();
        let decide = &statements[1];
        assert_eq!(
            decide["Resource"],
            "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-service/vpce-svc-0123456789abcdef0"
        );
        let all_actions: Vec<String> = statements
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                _ => vec![],
            })
            .collect();
        assert!(all_actions.iter().all(|a| a.starts_with("logs:")
            || a.ends_with("VpcEndpointConnections")
            || a == "ec2:CreateTags"));
        // Tags (the decision history) only on endpoint connections.
        let tagging = statements
            .iter()
            .find(|s| s["Action"] == "ec2:CreateTags")
            .unwrap();
        assert_eq!(
            tagging["Resource"],
            "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-connection/*"
        );
        let keys = &tagging["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"];
        assert_eq!(keys.as_array().map(Vec::len), Some(5));
        assert!(keys
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.as_str().unwrap().starts_with("privatelink-kit:")));
        // Nothing but the describe call is unscoped.
        for s in statements {
            if s["Resource"] == "*" {
                assert_eq!(s["Action"], "ec2:DescribeVpcEndpointConnections");
            }
        }
    }

    #[test]
    fn the_topic_accepts_only_vpce_for_this_service() {
        let p = topic_policy(
            "arn:aws:sns:us-east-1:111111111111:acme-connections",
            "us-east-1",
            "111111111111",
            "vpce-svc-1",
        );
        let s = &p["Statement"][0];
        assert_eq!(s["Principal"]["Service"], "vpce.amazonaws.com");
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            "111111111111"
        );
        assert_eq!(
            s["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-service/vpce-svc-1"
        );
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn operator_writes_are_scoped_to_the_stack() {
        let p = operator_policy(&scope());
        for s in p["Statement"].as_array().unwrap() {
            if s["Resource"] == "*" && s["Sid"] != "Read" {
                assert!(s.get("Condition").is_some(), "unscoped write: {s}");
            }
        }
        let text = p.to_string();
        assert!(text.contains("loadbalancer/net/acme-nlb/*"));
        assert!(text.contains("aws:RequestTag/privatelink-kit:stack"));
        assert!(operator_actions().contains(&"lambda:CreateFunction"));
    }

    #[test]
    fn documents_are_read_plain_or_url_encoded() {
        let plain = r#"{"a":"b c"}"#;
        let encoded = "%7B%22a%22%3A%22b%20c%22%7D";
        assert_eq!(parse_document(plain), parse_document(encoded));
        assert_eq!(parse_document(plain).unwrap()["a"], "b c");
        assert!(parse_document("%zz").is_none());
    }
}
