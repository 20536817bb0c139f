//! Every policy document of the stack, built in one place: the SNS topic
//! policy, the approver role's trust and inline policies, the approver
//! role's permissions boundary, and the operator's least-privilege policy
//! for `up`/`plan`/`status`/`down` and the operator commands. `up` and
//! `iam-policy` call the same functions, so what is printed is what is
//! applied.
//!
//! Every resource type, condition key and implicit action below comes from
//! AWS's Service Authorization Reference (SAR), "Actions, resources, and
//! condition keys for …": <https://docs.aws.amazon.com/service-authorization/latest/reference/>
//! pages `list_amazonec2.html`, `list_awselasticloadbalancingv2.html`,
//! `list_amazonsns.html`, `list_awslambda.html`,
//! `list_awsidentityandaccessmanagementiam.html`, `list_amazonroute53.html`,
//! `list_amazoneventbridge.html`, `list_amazoncloudwatchlogs.html`,
//! `list_amazondynamodb.html`. The rule
//! that matters most: AWS authorizes an action once per resource type it
//! touches, and a statement's condition must hold for each of them. A
//! condition on a key that a resource type does not carry (for example
//! `aws:RequestTag` on the existing VPC that `CreateSubnet` also
//! authorizes) denies, so each statement here is written per resource type.
//! `tests/tools/lint-iam.sh` lints every document with parliament in CI.

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
    /// The tenant registry's region when it is not `region` (a stack in
    /// several regions keeps one registry, in its home region).
    pub registry_region: Option<String>,
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
    /// The ARN partition of the stack's region ([`crate::arn::partition`]).
    pub fn partition(&self) -> &'static str {
        crate::arn::partition(&self.region)
    }
    pub fn topic_arn(&self) -> String {
        format!(
            "arn:{}:sns:{}:{}:{}",
            self.partition(),
            self.region,
            self.account,
            self.stack.topic()
        )
    }
    pub fn role_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            self.partition(),
            self.account,
            self.stack.role()
        )
    }
    /// The approver role's permissions boundary (a customer managed policy).
    pub fn boundary_arn(&self) -> String {
        boundary_arn(&self.region, &self.account, &self.stack)
    }
    pub fn function_arn(&self) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition(),
            self.region,
            self.account,
            self.stack.function()
        )
    }
    pub fn rule_arn(&self) -> String {
        format!(
            "arn:{}:events:{}:{}:rule/{}",
            self.partition(),
            self.region,
            self.account,
            self.stack.sweep_rule()
        )
    }
    /// The tenant registry's table,
    /// `arn:PARTITION:dynamodb:REGION:ACCOUNT:table/STACK-tenants`, in the
    /// registry's region.
    pub fn table_arn(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition(),
            self.registry_region.as_deref().unwrap_or(&self.region),
            self.account,
            self.stack.tenants_table()
        )
    }
    /// `arn:PARTITION:ec2:REGION:ACCOUNT:TYPE/*`: every EC2 resource of a
    /// type in the stack's region and account.
    fn ec2_all(&self, resource_type: &str) -> String {
        format!(
            "arn:{}:ec2:{}:{}:{resource_type}/*",
            self.partition(),
            self.region,
            self.account
        )
    }
}

/// `arn:PARTITION:iam::ACCOUNT:policy/STACK-approver-boundary`, in the
/// partition of `region` (IAM is global, but its ARNs name the partition).
pub fn boundary_arn(region: &str, account: &str, stack: &StackName) -> String {
    format!(
        "arn:{}:iam::{account}:policy/{}",
        crate::arn::partition(region),
        stack.boundary()
    )
}

/// The private DNS name whose verification TXT record `up` writes in a
/// public Route 53 zone of the operator's account. Without one, the stack
/// makes no Route 53 call and the operator policy grants none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateDns {
    /// The service's private DNS name (`api.example.com` or `*.example.com`).
    pub name: String,
    /// The public hosted zone holding it (`Z…`); `None`: any zone of the
    /// account (the id is not known before `up` finds it).
    pub hosted_zone_id: Option<String>,
}

impl PrivateDns {
    /// The domain under which the record is written, normalized the way
    /// Route 53 compares `route53:ChangeResourceRecordSetsNormalizedRecordNames`:
    /// lowercase, no trailing dot (Route 53 developer guide, "Normalizing
    /// Route 53 condition key values", specifying-conditions-route53.html).
    pub fn normalized_domain(&self) -> String {
        self.name
            .trim_start_matches("*.")
            .trim_end_matches('.')
            .to_ascii_lowercase()
    }
    fn zone_arn(&self, partition: &str) -> String {
        let id = self
            .hosted_zone_id
            .as_deref()
            .map(|z| z.trim_start_matches("/hostedzone/"))
            .unwrap_or("*");
        format!("arn:{partition}:route53:::hostedzone/{id}")
    }
}

/// Endpoint connections of this account's services
/// (`vpc-endpoint-connection/vpce-con-*`), the only resources the decision
/// history tags.
///
/// Not narrower, because AWS offers nothing to narrow it with: per the SAR
/// (EC2, resource type `vpc-endpoint-connection`), a connection carries only
/// `aws:RequestTag`, `aws:ResourceTag`, `aws:TagKeys`, `ec2:ResourceTag` and
/// `ec2:Region`: no key names the connection's endpoint service (there is
/// no `ec2:VpceServiceName` on it) and AWS puts no tag of ours on it, so no
/// condition can tell this stack's connections from another stack's. What
/// limits the statement instead: only these tag keys
/// ([`history_tags_only`]), only connections (the ARN), only this account
/// and region.
fn connection_arns(scope: &Scope) -> String {
    scope.ec2_all("vpc-endpoint-connection")
}

/// Only the decision-history tag keys may be written, so the role cannot
/// rewrite other tags (a consumer-facing name, say).
fn history_tags_only() -> Value {
    json!({"ForAllValues:StringEquals": {"aws:TagKeys": crate::approval::history::HISTORY_TAGS}})
}

/// `arn:PARTITION:ec2:REGION:ACCOUNT:vpc-endpoint-service/ID`.
pub fn service_arn(region: &str, account: &str, service_id: &str) -> String {
    let partition = crate::arn::partition(region);
    format!("arn:{partition}:ec2:{region}:{account}:vpc-endpoint-service/{service_id}")
}

/// The topic policy AWS documents for endpoint-service notifications: only
/// `vpce.amazonaws.com` may publish, and only for this service of this
/// account (`aws:SourceArn`, `aws:SourceAccount`: the confused-deputy
/// guard). Nobody else gets any statement.
pub fn topic_policy(topic_arn: &str, region: &str, account: &str, service_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "VpceConnectionNotifications",
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

/// What the approver may do with the tenant registry: read the tenants it
/// decides on (GetItem, BatchGetItem), on its stack's table only.
pub const APPROVER_DYNAMODB_ACTIONS: &[&str] = &["dynamodb:GetItem", "dynamodb:BatchGetItem"];

/// The approver's statements; `decide` is the one that accepts and rejects
/// (scoped by service id in the inline policy, by the stack tag in the
/// boundary).
fn approver_statements(scope: &Scope, decide: Value) -> Value {
    let log_group = format!(
        "arn:{}:logs:{}:{}:log-group:/aws/lambda/{}",
        scope.partition(),
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
            decide,
            {
                "Sid": "RecordDecisionsOnConnections",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": connection_arns(scope),
                "Condition": history_tags_only()
            },
            // SAR (DynamoDB): GetItem and BatchGetItem authorize `table*`.
            // Reads of this stack's registry only, nothing else of DynamoDB:
            // the approver never writes a tenant.
            {
                "Sid": "ReadTheTenantsOfThisStack",
                "Effect": "Allow",
                "Action": APPROVER_DYNAMODB_ACTIONS,
                "Resource": scope.table_arn()
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

/// The approver role's inline policy: list connections (Describe actions
/// support no resource scoping), accept or reject them on this endpoint
/// service only, record each decision as tags on the connection (the
/// decision history, see `approval::history`), read the tenants of its
/// stack's registry, and write its own logs.
pub fn approver_role_policy(scope: &Scope) -> Value {
    approver_statements(
        scope,
        json!({
            "Sid": "DecideConnectionsOfThisServiceOnly",
            "Effect": "Allow",
            "Action": ["ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"],
            "Resource": scope.service_arn()
        }),
    )
}

/// The approver role's permissions boundary: the same statements as the
/// inline policy ([`approver_role_policy`]), except that the endpoint
/// service is the one carrying this stack's tag rather than the one with
/// this id. So the boundary depends only on the stack, region and account:
/// it never needs a new version over the stack's life (a new service id
/// changes the inline policy, not the boundary), and the operator policy
/// can deny every way of changing it. The role's effective permissions are
/// the intersection, i.e. exactly the inline policy; whatever the operator
/// puts on the role (`PutRolePolicy`) or runs as it (`UpdateFunctionCode`),
/// the role can never do more than this.
///
/// SAR (EC2): `AcceptVpcEndpointConnections` and
/// `RejectVpcEndpointConnections` authorize `vpc-endpoint-service*`, which
/// carries `aws:ResourceTag/${TagKey}`.
pub fn approver_boundary_policy(scope: &Scope) -> Value {
    approver_statements(
        scope,
        json!({
            "Sid": "DecideConnectionsOfThisStacksServiceOnly",
            "Effect": "Allow",
            "Action": ["ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"],
            "Resource": scope.ec2_all("vpc-endpoint-service"),
            "Condition": {"StringEquals": {format!("aws:ResourceTag/{STACK_TAG}"): scope.stack.as_str()}}
        }),
    )
}

/// The administrator's policy for the boundary policy alone: create it once
/// (by running the first `up`, or by hand from `approver_boundary_policy`)
/// and delete it after the last `down`. Kept out of the operator's policy:
/// whoever may write the boundary may grant the approver role anything, and
/// the operator may change that role's inline policy.
pub fn boundary_admin_policy(scope: &Scope) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TheApproverBoundaryOfThisStack",
            "Effect": "Allow",
            "Action": BOUNDARY_ADMIN_ACTIONS,
            "Resource": scope.boundary_arn()
        }]
    })
}

/// The gateway's role (`gateway/`, the NLB's target, on the vendor's
/// hosts): read-only. It lists the connections of the service to learn each
/// VPC endpoint's owner, and reads that owner's tenant from the stack's
/// registry; it never accepts, rejects, tags or writes anything.
///
/// SAR (EC2): `DescribeVpcEndpointConnections` is a List action with no
/// resource type (its one condition key is `ec2:Region`, which names no
/// service), so it is granted on `*` (the approver's `ListConnections` is
/// the same statement): IAM cannot limit the listing to one service, only
/// the gateway's `service-id` filter does. SAR (DynamoDB): `GetItem` and `BatchGetItem` authorize `table*`,
/// so they are granted on this stack's registry table only.
pub fn gateway_role_policy(scope: &Scope) -> Value {
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
                "Sid": "ReadTheTenantsOfThisStack",
                "Effect": "Allow",
                "Action": APPROVER_DYNAMODB_ACTIONS,
                "Resource": scope.table_arn()
            }
        ]
    })
}

/// Read-only calls the commands make; none of them supports resource-level
/// scoping (SAR: no resource type for these actions).
pub const OPERATOR_READ_ACTIONS: &[&str] = &[
    "sts:GetCallerIdentity",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ec2:DescribeVpcEndpointConnectionNotifications",
    "ec2:DescribeVpcEndpointConnections",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTags",
];

/// EC2 creates, allowed only when the request tags the new resource with
/// this stack.
pub const OPERATOR_EC2_CREATE_ACTIONS: &[&str] = &[
    "ec2:CreateVpc",
    "ec2:CreateSubnet",
    "ec2:CreateVpcEndpointServiceConfiguration",
];

/// EC2 calls on existing resources, allowed only on resources tagged with
/// this stack (`DescribeVpcEndpointServicePermissions` is the one read that
/// has a resource type, `vpc-endpoint-service*`).
pub const OPERATOR_EC2_OWNED_ACTIONS: &[&str] = &[
    "ec2:DescribeVpcEndpointServicePermissions",
    "ec2:DeleteVpc",
    "ec2:DeleteSubnet",
    "ec2:ModifyVpcEndpointServiceConfiguration",
    // `up` starts private DNS name verification (SAR: authorizes
    // `vpc-endpoint-service*`, with `aws:ResourceTag`).
    "ec2:StartVpcEndpointServicePrivateDnsVerification",
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
    // PROXY protocol v2 on the target groups, with a `[gateway]`.
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeleteLoadBalancer",
];

/// SNS actions on the stack's topic (`Subscribe` and `Unsubscribe` have
/// statements of their own).
pub const OPERATOR_SNS_ACTIONS: &[&str] = &[
    "sns:CreateTopic",
    "sns:TagResource",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:ListTagsForResource",
    "sns:ListSubscriptionsByTopic",
    "sns:DeleteTopic",
];

/// IAM actions on the approver role that cannot widen what it may do.
pub const OPERATOR_IAM_ACTIONS: &[&str] = &[
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:TagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:DeleteRole",
];

/// IAM actions that set what the approver role may do: allowed only while
/// the role's permissions boundary is the stack's boundary policy.
pub const OPERATOR_IAM_BOUNDED_ACTIONS: &[&str] = &[
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:PutRolePermissionsBoundary",
];

/// What `up` and `status` read of the boundary policy. Creating and
/// deleting it are [`BOUNDARY_ADMIN_ACTIONS`]: with them the operator could
/// write a boundary that allows anything, then a role policy that uses it.
pub const OPERATOR_BOUNDARY_ACTIONS: &[&str] = &["iam:GetPolicy", "iam:GetPolicyVersion"];

/// The administrator's one-time rights on the boundary policy: create it
/// (before the first `up`, or by running that `up`) and delete it (after the
/// last `down`). Never part of the operator's policy.
pub const BOUNDARY_ADMIN_ACTIONS: &[&str] = &[
    "iam:CreatePolicy",
    "iam:TagPolicy",
    "iam:GetPolicy",
    "iam:DeletePolicy",
];

pub const OPERATOR_LAMBDA_ACTIONS: &[&str] = &[
    "lambda:CreateFunction",
    "lambda:TagResource",
    "lambda:GetFunction",
    "lambda:ListTags",
    "lambda:GetFunctionConfiguration",
    "lambda:GetPolicy",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:RemovePermission",
    "lambda:DeleteFunction",
];

pub const OPERATOR_EVENTS_ACTIONS: &[&str] = &[
    "events:PutRule",
    "events:TagResource",
    "events:DescribeRule",
    "events:ListTagsForResource",
    "events:ListTargetsByRule",
    "events:RemoveTargets",
    "events:DeleteRule",
];

/// DynamoDB on the stack's tenant registry table: what `up`, `status` and
/// `down` do with the table (CreateTable, with its tags: TagResource; the
/// SDK waiters poll DescribeTable; point-in-time recovery; DeleteTable only
/// with `down --delete-tenants`), and what `up` and the `tenants` commands
/// do with its items. SAR (DynamoDB): every one of these authorizes
/// `table*`. `TransactWriteItems` is no IAM action of its own: DynamoDB
/// authorizes each of its items as the single call (Put → PutItem; the
/// registry's transactions hold Put items only, so no ConditionCheckItem,
/// UpdateItem or DeleteItem is needed for them).
pub const OPERATOR_DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:TagResource",
    "dynamodb:ListTagsOfResource",
    "dynamodb:Scan",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
];

/// Route 53 calls for the private DNS verification TXT record, granted only
/// when the stack has a private DNS name.
pub const OPERATOR_ROUTE53_ACTIONS: &[&str] = &[
    "route53:ListHostedZonesByName",
    "route53:ListResourceRecordSets",
    "route53:ChangeResourceRecordSets",
    "route53:GetChange",
];

/// The actions with statements of their own (conditions that apply to
/// them alone).
pub const OPERATOR_SINGLE_ACTIONS: &[&str] = &[
    "ec2:CreateTags",
    "iam:CreateServiceLinkedRole",
    "iam:PassRole",
    "sns:Subscribe",
    "sns:Unsubscribe",
    "lambda:AddPermission",
    "events:PutTargets",
    "vpce:AllowMultiRegion",
];

/// The operator's policy for a stack without a private DNS name.
pub fn operator_policy(scope: &Scope) -> Value {
    operator_policy_for(scope, None)
}

/// The least-privilege policy for the operator who runs `up`, `plan`,
/// `status`, `down` and the operator commands for this stack: reads
/// everywhere (AWS offers no scoping for them), EC2 writes only on
/// resources carrying the stack's tag (or creating them with it), every
/// other write only on the stack's deterministic names, and nothing that
/// lets the operator give the approver role (or code running as it) more
/// than its boundary allows.
pub fn operator_policy_for(scope: &Scope, dns: Option<&PrivateDns>) -> Value {
    let (p, r, a, s) = (
        scope.partition(),
        &scope.region,
        &scope.account,
        scope.stack.as_str(),
    );
    let tag_condition = |key: &str| json!({"StringEquals": {format!("{key}/{STACK_TAG}"): s}});
    let stack_ec2 = [
        scope.ec2_all("vpc"),
        scope.ec2_all("subnet"),
        scope.ec2_all("vpc-endpoint-service"),
    ];
    let create_actions: Vec<&str> = OPERATOR_EC2_CREATE_ACTIONS
        .iter()
        .map(|a| a.trim_start_matches("ec2:"))
        .collect();
    let boundary = scope.boundary_arn();
    let mut statements = vec![
        json!({"Sid": "Read", "Effect": "Allow", "Action": OPERATOR_READ_ACTIONS, "Resource": "*"}),
        // SAR (EC2): CreateVpc authorizes `vpc*`, CreateSubnet `subnet*`,
        // CreateVpcEndpointServiceConfiguration `vpc-endpoint-service*`, each
        // with `aws:RequestTag/${TagKey}`: the resource being created.
        json!({
            "Sid": "CreateTaggedWithThisStack",
            "Effect": "Allow",
            "Action": OPERATOR_EC2_CREATE_ACTIONS,
            "Resource": stack_ec2,
            "Condition": tag_condition("aws:RequestTag")
        }),
        // SAR (EC2): CreateSubnet also authorizes the existing `vpc*`, whose
        // row has `aws:ResourceTag` but no `aws:RequestTag`: the statement
        // above cannot allow it, this one does (the stack's own VPC only).
        json!({
            "Sid": "CreateSubnetsInThisStacksVpcOnly",
            "Effect": "Allow",
            "Action": "ec2:CreateSubnet",
            "Resource": scope.ec2_all("vpc"),
            "Condition": tag_condition("aws:ResourceTag")
        }),
        // SAR (EC2): the three creates list `ec2:CreateTags` as a dependent
        // action when they tag (TagSpecifications); `ec2:CreateAction` limits
        // it to those requests.
        json!({
            "Sid": "TagOnCreateOnly",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": stack_ec2,
            "Condition": {"StringEquals": {
                "ec2:CreateAction": create_actions,
                format!("aws:RequestTag/{STACK_TAG}"): s
            }}
        }),
        json!({
            "Sid": "RecordDecisionsOnConnections",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": connection_arns(scope),
            "Condition": history_tags_only()
        }),
        // SAR (EC2): each of these authorizes `vpc*`, `subnet*` or
        // `vpc-endpoint-service*` (the notification calls: the optional
        // `vpc-endpoint-service`), all with `aws:ResourceTag/${TagKey}`.
        json!({
            "Sid": "ChangeOnlyThisStacksEc2Resources",
            "Effect": "Allow",
            "Action": OPERATOR_EC2_OWNED_ACTIONS,
            "Resource": stack_ec2,
            "Condition": tag_condition("aws:ResourceTag")
        }),
        // SAR (ELBv2): load balancer actions authorize
        // `loadbalancer/net/${LoadBalancerName}/${LoadBalancerId}`, listener
        // actions (ModifyListener, DeleteListener) the listener,
        // `listener/net/${LoadBalancerName}/${LoadBalancerId}/${ListenerId}`,
        // target group actions `targetgroup/${TargetGroupName}/${TargetGroupId}`;
        // a create with tags also authorizes `AddTags` on the new resource.
        json!({
            "Sid": "LoadBalancerOfThisStack",
            "Effect": "Allow",
            "Action": OPERATOR_ELB_ACTIONS,
            "Resource": [
                format!("arn:{p}:elasticloadbalancing:{r}:{a}:loadbalancer/net/{s}-nlb/*"),
                format!("arn:{p}:elasticloadbalancing:{r}:{a}:listener/net/{s}-nlb/*/*"),
                format!("arn:{p}:elasticloadbalancing:{r}:{a}:targetgroup/{s}-tg-*/*")
            ]
        }),
        // The first load balancer or target group of an account makes ELB
        // create its service-linked role, which needs this permission of the
        // caller (ELB user guide, elb-service-linked-roles.html).
        json!({
            "Sid": "ElasticLoadBalancingServiceLinkedRole",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": format!("arn:{p}:iam::{a}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"),
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}
        }),
        json!({"Sid": "TopicOfThisStack", "Effect": "Allow", "Action": OPERATOR_SNS_ACTIONS, "Resource": scope.topic_arn()}),
        // SAR (SNS): Subscribe carries `sns:Protocol` and `sns:Endpoint`.
        json!({
            "Sid": "SubscribeTheApproverOnly",
            "Effect": "Allow",
            "Action": "sns:Subscribe",
            "Resource": scope.topic_arn(),
            "Condition": {
                "StringEquals": {"sns:Protocol": "lambda"},
                "StringLike": {"sns:Endpoint": scope.function_arn()}
            }
        }),
        // SAR (SNS): Unsubscribe has no resource type, so only `*` works.
        json!({"Sid": "UnsubscribeHasNoResourceType", "Effect": "Allow", "Action": "sns:Unsubscribe", "Resource": "*"}),
        // `supported_regions`: a ModifyVpcEndpointServiceConfiguration that
        // adds or removes SupportedRegions is also authorized as the
        // permission-only action `vpce:AllowMultiRegion` (PrivateLink guide,
        // cross-Region access; SAR (PrivateLink): no resource type, no
        // condition key), besides the EC2 action on the stack's service.
        json!({"Sid": "CrossRegionHasNoResourceType", "Effect": "Allow", "Action": "vpce:AllowMultiRegion", "Resource": "*"}),
        json!({"Sid": "ApproverRoleOfThisStack", "Effect": "Allow", "Action": OPERATOR_IAM_ACTIONS, "Resource": scope.role_arn()}),
        // SAR (IAM): CreateRole, PutRolePolicy and PutRolePermissionsBoundary
        // carry `iam:PermissionsBoundary` (the boundary in the request, or
        // the role's). The role exists only inside the boundary, and its
        // policy can be changed only while the boundary is in place.
        // StringLike (and StringLike for the ARN conditions below): with an
        // unknown account the ARN holds a `*`, which must match as a wildcard.
        json!({
            "Sid": "ChangeTheApproverRoleOnlyInsideItsBoundary",
            "Effect": "Allow",
            "Action": OPERATOR_IAM_BOUNDED_ACTIONS,
            "Resource": scope.role_arn(),
            "Condition": {"StringLike": {"iam:PermissionsBoundary": boundary}}
        }),
        // The same, as denials, so that no other policy of the operator can
        // take the role out of its boundary either.
        json!({
            "Sid": "DenyTheApproverRoleOutsideItsBoundary",
            "Effect": "Deny",
            "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"],
            "Resource": scope.role_arn(),
            "Condition": {"StringNotLike": {"iam:PermissionsBoundary": boundary}}
        }),
        json!({
            "Sid": "DenyRemovingTheBoundary",
            "Effect": "Deny",
            "Action": "iam:DeleteRolePermissionsBoundary",
            "Resource": scope.role_arn()
        }),
        // `up` reads the boundary (an administrator creates and deletes it:
        // boundary_admin_policy). Its content never changes over the stack's
        // life (see approver_boundary_policy), so no version may be added or
        // switched: that would change what the role may do in place.
        json!({"Sid": "ApproverBoundaryOfThisStack", "Effect": "Allow", "Action": OPERATOR_BOUNDARY_ACTIONS, "Resource": boundary}),
        json!({
            "Sid": "DenyChangingTheBoundary",
            "Effect": "Deny",
            "Action": ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicyVersion"],
            "Resource": boundary
        }),
        json!({
            "Sid": "PassTheApproverRoleToLambdaOnly",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": scope.role_arn(),
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
        }),
        // lambda:ListTags: GetFunction returns the function's tags (which
        // prove it is the stack's) only to a caller allowed lambda:ListTags
        // (Lambda API reference, GetFunction, response element Tags).
        json!({"Sid": "ApproverFunctionOfThisStack", "Effect": "Allow", "Action": OPERATOR_LAMBDA_ACTIONS, "Resource": scope.function_arn()}),
        // SAR (Lambda): AddPermission carries `lambda:Principal`.
        json!({
            "Sid": "InvokableBySnsAndEventBridgeOnly",
            "Effect": "Allow",
            "Action": "lambda:AddPermission",
            "Resource": scope.function_arn(),
            "Condition": {"StringEquals": {"lambda:Principal": ["sns.amazonaws.com", "events.amazonaws.com"]}}
        }),
        json!({"Sid": "SweepRuleOfThisStack", "Effect": "Allow", "Action": OPERATOR_EVENTS_ACTIONS, "Resource": scope.rule_arn()}),
        // The tenant registry: its deterministic name, as the other
        // resources named after the stack.
        json!({"Sid": "TenantRegistryOfThisStack", "Effect": "Allow", "Action": OPERATOR_DYNAMODB_ACTIONS, "Resource": scope.table_arn()}),
        // SAR (EventBridge): PutTargets carries `events:TargetArn`.
        json!({
            "Sid": "SweepTargetIsTheApproverOnly",
            "Effect": "Allow",
            "Action": "events:PutTargets",
            "Resource": scope.rule_arn(),
            "Condition": {"ForAllValues:ArnEquals": {"events:TargetArn": scope.function_arn()}}
        }),
    ];
    if let Some(dns) = dns {
        statements.extend(route53_statements(dns, p));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Route 53 for the verification record: find the zone (ListHostedZonesByName
/// has no resource type), read the record (ListResourceRecordSets authorizes
/// `hostedzone*` and carries no condition key), and UPSERT a TXT record under
/// the private DNS name only (ChangeResourceRecordSets carries
/// `route53:ChangeResourceRecordSetsNormalizedRecordNames`, `…RecordTypes`
/// and `…Actions`, all multivalued: `ForAllValues`, with `Null` false so that
/// a request without them does not pass). SAR (Route 53).
fn route53_statements(dns: &PrivateDns, partition: &str) -> Vec<Value> {
    let zone = dns.zone_arn(partition);
    vec![
        json!({"Sid": "FindTheVerificationZone", "Effect": "Allow", "Action": "route53:ListHostedZonesByName", "Resource": "*"}),
        json!({"Sid": "ReadTheVerificationRecord", "Effect": "Allow", "Action": "route53:ListResourceRecordSets", "Resource": zone}),
        // `up` waits for its record change to be INSYNC before asking EC2 to
        // verify (SAR: GetChange authorizes `change*`).
        json!({"Sid": "WaitForTheVerificationRecord", "Effect": "Allow", "Action": "route53:GetChange", "Resource": format!("arn:{partition}:route53:::change/*")}),
        json!({
            "Sid": "WriteTheVerificationRecordOnly",
            "Effect": "Allow",
            "Action": "route53:ChangeResourceRecordSets",
            "Resource": zone,
            "Condition": {
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                    "route53:ChangeResourceRecordSetsActions": ["UPSERT"]
                },
                "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": [format!("*.{}", dns.normalized_domain())]
                },
                "Null": {
                    "route53:ChangeResourceRecordSetsRecordTypes": "false",
                    "route53:ChangeResourceRecordSetsActions": "false",
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": "false"
                }
            }
        }),
    ]
}

/// Every action the operator policy allows, with a private DNS name (for
/// checks and docs).
pub fn operator_actions() -> Vec<&'static str> {
    [
        OPERATOR_READ_ACTIONS,
        OPERATOR_EC2_CREATE_ACTIONS,
        OPERATOR_EC2_OWNED_ACTIONS,
        OPERATOR_ELB_ACTIONS,
        OPERATOR_SNS_ACTIONS,
        OPERATOR_IAM_ACTIONS,
        OPERATOR_IAM_BOUNDED_ACTIONS,
        OPERATOR_BOUNDARY_ACTIONS,
        OPERATOR_LAMBDA_ACTIONS,
        OPERATOR_EVENTS_ACTIONS,
        OPERATOR_ROUTE53_ACTIONS,
        OPERATOR_DYNAMODB_ACTIONS,
        OPERATOR_SINGLE_ACTIONS,
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

/// IAM URL-encodes documents as RFC 3986 says (`%XX`; a literal `+` is
/// `%2B`), which is what `percent_decode_str` undoes.
fn percent_decode(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            registry_region: None,
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
            || a == "ec2:CreateTags"
            || a == "dynamodb:GetItem"
            || a == "dynamodb:BatchGetItem"));
        // DynamoDB: reads of this stack's registry only.
        let registry: Vec<&Value> = statements
            .iter()
            .filter(|s| s["Sid"] == "ReadTheTenantsOfThisStack")
            .collect();
        assert_eq!(registry.len(), 1);
        assert_eq!(
            registry[0]["Resource"],
            "arn:aws:dynamodb:us-east-1:111111111111:table/acme-tenants"
        );
        assert_eq!(
            registry[0]["Action"],
            json!(["dynamodb:GetItem", "dynamodb:BatchGetItem"])
        );
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
        assert_eq!(keys.as_array().map(Vec::len), Some(6));
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

    fn dns() -> PrivateDns {
        PrivateDns {
            name: "API.Acme.example.".into(),
            hosted_zone_id: Some("/hostedzone/Z0123".into()),
        }
    }

    fn statements(policy: &Value) -> &Vec<Value> {
        policy["Statement"].as_array().unwrap()
    }

    fn actions(statement: &Value) -> Vec<&str> {
        match &statement["Action"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }

    fn resources(statement: &Value) -> Vec<&str> {
        match &statement["Resource"] {
            Value::String(r) => vec![r.as_str()],
            Value::Array(r) => r.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }

    fn by_sid<'a>(policy: &'a Value, sid: &str) -> &'a Value {
        statements(policy)
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no statement {sid}"))
    }

    #[test]
    fn operator_writes_are_scoped_to_the_stack() {
        let p = operator_policy_for(&scope(), Some(&dns()));
        // `*` only where AWS offers no resource type (SAR).
        for s in statements(&p) {
            if s["Resource"] == "*" {
                assert!(
                    [
                        "Read",
                        "UnsubscribeHasNoResourceType",
                        "CrossRegionHasNoResourceType",
                        "FindTheVerificationZone"
                    ]
                    .contains(&s["Sid"].as_str().unwrap()),
                    "unscoped statement: {s}"
                );
            }
        }
        let text = p.to_string();
        assert!(text.contains("loadbalancer/net/acme-nlb/*"));
        assert!(text.contains("listener/net/acme-nlb/*/*"));
        assert!(text.contains("aws:RequestTag/privatelink-kit:stack"));
        assert!(operator_actions().contains(&"lambda:CreateFunction"));
        // Every action of the document is in operator_actions and back.
        let mut in_document: Vec<&str> = statements(&p)
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .flat_map(actions)
            .collect();
        in_document.sort_unstable();
        in_document.dedup();
        let mut listed = operator_actions();
        listed.sort_unstable();
        listed.dedup();
        assert_eq!(in_document, listed);
        // Sids are unique and alphanumeric (IAM's rule).
        let mut sids: Vec<&str> = statements(&p)
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert!(sids
            .iter()
            .all(|s| s.chars().all(|c| c.is_ascii_alphanumeric())));
        sids.sort_unstable();
        let n = sids.len();
        sids.dedup();
        assert_eq!(sids.len(), n);
    }

    #[test]
    fn every_resource_type_a_create_authorizes_has_a_statement_that_fits_it() {
        let p = operator_policy(&scope());
        // CreateSubnet also authorizes the existing VPC, which has no
        // request tag: some statement must allow it by resource tag.
        let vpc = "arn:aws:ec2:us-east-1:111111111111:vpc/*";
        let fits_vpc = statements(&p).iter().any(|s| {
            s["Effect"] == "Allow"
                && actions(s).contains(&"ec2:CreateSubnet")
                && resources(s).contains(&vpc)
                && s["Condition"]["StringEquals"]
                    .as_object()
                    .is_some_and(|c| c.keys().all(|k| k.starts_with("aws:ResourceTag/")))
        });
        assert!(fits_vpc, "{p:#}");
        // No Allow statement conditions on aws:RequestTag for an action
        // that also authorizes an existing resource, except together with
        // the created resource's own statement.
        let create = by_sid(&p, "CreateTaggedWithThisStack");
        assert_eq!(
            create["Condition"]["StringEquals"]["aws:RequestTag/privatelink-kit:stack"],
            "acme"
        );
    }

    #[test]
    fn the_operator_cannot_widen_the_approver_role() {
        let p = operator_policy(&scope());
        let boundary = "arn:aws:iam::111111111111:policy/acme-approver-boundary";
        let bounded = by_sid(&p, "ChangeTheApproverRoleOnlyInsideItsBoundary");
        assert_eq!(
            bounded["Condition"]["StringLike"]["iam:PermissionsBoundary"],
            boundary
        );
        for action in [
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:PutRolePermissionsBoundary",
        ] {
            assert!(actions(bounded).contains(&action));
            // Nowhere else allowed without the condition.
            for s in statements(&p) {
                if s["Effect"] == "Allow" && s["Sid"] != bounded["Sid"] {
                    assert!(!actions(s).contains(&action), "{s}");
                }
            }
        }
        let denied: Vec<&str> = statements(&p)
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .flat_map(actions)
            .collect();
        for action in [
            "iam:DeleteRolePermissionsBoundary",
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
        ] {
            assert!(denied.contains(&action), "{action}");
        }
        assert!(!operator_actions().contains(&"iam:AttachRolePolicy"));
        assert_eq!(
            by_sid(&p, "ApproverBoundaryOfThisStack")["Resource"],
            boundary
        );
        // The function's invokers and the rule's target are pinned too.
        assert_eq!(
            by_sid(&p, "SweepTargetIsTheApproverOnly")["Condition"]["ForAllValues:ArnEquals"]
                ["events:TargetArn"],
            "arn:aws:lambda:us-east-1:111111111111:function:acme-approver"
        );
        assert!(operator_actions().contains(&"lambda:ListTags"));
    }

    #[test]
    fn the_boundary_allows_what_the_role_policy_allows_whatever_the_service_id() {
        let role = approver_role_policy(&scope());
        let boundary = approver_boundary_policy(&scope());
        let mut other = scope();
        other.service_id = Some("vpce-svc-0fffffffffffffff0".into());
        assert_eq!(approver_boundary_policy(&other), boundary);
        assert_ne!(approver_role_policy(&other), role);
        let (r, b) = (statements(&role), statements(&boundary));
        assert_eq!(r.len(), b.len());
        for (r, b) in r.iter().zip(b) {
            assert_eq!(actions(r), actions(b));
            if r["Sid"] == "DecideConnectionsOfThisServiceOnly" {
                assert_eq!(
                    b["Resource"],
                    "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-service/*"
                );
                assert_eq!(
                    b["Condition"]["StringEquals"]["aws:ResourceTag/privatelink-kit:stack"],
                    "acme"
                );
            } else {
                assert_eq!(r, b);
            }
        }
    }

    #[test]
    fn route53_is_granted_only_for_the_verification_record() {
        assert!(!operator_policy(&scope()).to_string().contains("route53:"));
        let p = operator_policy_for(&scope(), Some(&dns()));
        let read = by_sid(&p, "ReadTheVerificationRecord");
        assert_eq!(read["Resource"], "arn:aws:route53:::hostedzone/Z0123");
        assert!(read.get("Condition").is_none());
        let write = by_sid(&p, "WriteTheVerificationRecordOnly");
        assert_eq!(write["Resource"], "arn:aws:route53:::hostedzone/Z0123");
        let c = &write["Condition"];
        assert_eq!(
            c["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"],
            json!(["TXT"])
        );
        assert_eq!(
            c["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsActions"],
            json!(["UPSERT"])
        );
        assert_eq!(
            c["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"],
            json!(["*.api.acme.example"])
        );
        let any_zone = PrivateDns {
            name: "*.acme.example".into(),
            hosted_zone_id: None,
        };
        let p = operator_policy_for(&scope(), Some(&any_zone));
        assert_eq!(
            by_sid(&p, "WriteTheVerificationRecordOnly")["Resource"],
            "arn:aws:route53:::hostedzone/*"
        );
        assert!(p.to_string().contains("*.acme.example"));
    }

    #[test]
    fn the_operator_uses_only_this_stacks_registry_table() {
        let p = operator_policy(&scope());
        let registry = by_sid(&p, "TenantRegistryOfThisStack");
        assert_eq!(
            registry["Resource"],
            "arn:aws:dynamodb:us-east-1:111111111111:table/acme-tenants"
        );
        // What `up`/`status`/`down` and the `tenants` commands need.
        for action in [
            "dynamodb:CreateTable",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:DeleteTable",
            "dynamodb:Scan",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
        ] {
            assert!(actions(registry).contains(&action), "{action}");
        }
        for s in statements(&p) {
            if s["Sid"] != registry["Sid"] {
                assert!(
                    !actions(s).iter().any(|a| a.starts_with("dynamodb:")),
                    "{s}"
                );
            }
        }
        let mut china = scope();
        china.region = "cn-north-1".into();
        assert_eq!(
            china.table_arn(),
            "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/acme-tenants"
        );
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
