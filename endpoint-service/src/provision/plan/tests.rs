//! The plan, table-driven: a converged observation plans nothing; each
//! drift plans exactly the step that fixes it, carrying what `apply` runs;
//! unsafe changes are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::json;

use super::*;
use crate::approval::config::ENV_SERVICE_ID;
use crate::approval::{AccountId, Tenant};
use crate::provision::observe::*;
use crate::provision::spec::{Architecture, HealthCheckSpec, Overrides, StackSpec, TargetKind};

const SHA: &str = "c2hhMjU2";

fn spec(extra: &str) -> StackSpec {
    let text = format!(
        r#"
name = "acme"
[network]
vpc_cidr = "10.40.0.0/16"
[service]
ports = [443]
target_port = 8443
targets = ["10.40.0.10"]
[access]
allowlist = ["111111111111"]
[approver]
package = "bootstrap.zip"
{extra}"#
    );
    StackSpec::parse(Path::new("s.toml"), &text, &Overrides::default()).expect("valid spec")
}

fn zones() -> Vec<Zone> {
    ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, z)| Zone {
            name: format!("us-east-1{z}"),
            id: format!("use1-az{}", i + 1),
        })
        .collect()
}

fn empty() -> Observed {
    Observed {
        account: "999999999999".into(),
        region: "us-east-1".into(),
        zones: zones(),
        now: NOW,
        ..Default::default()
    }
}

/// The moment the plan judges expiry at.
const NOW: i64 = 1_000_000;

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

/// A seeded tenant as the registry holds it.
fn tenant(id: &str) -> Tenant {
    Tenant {
        updated_by: Some("config".into()),
        version: 1,
        ..Tenant::active(account(id), id)
    }
}

/// What AWS would report for a stack `up` built from `spec`.
fn converged(spec: &StackSpec) -> Observed {
    let mut o = empty();
    o.tenants_table = Some(TenantsTableObs {
        name: "acme-tenants".into(),
        arn: "arn:aws:dynamodb:us-east-1:999999999999:table/acme-tenants".into(),
        status: "ACTIVE".into(),
        pitr: true,
        tags: crate::provision::resources::StackTags::new(&spec.name, &spec.tags)
            .pairs()
            .into_iter()
            .collect(),
    });
    o.tenants = spec.allowlist.iter().map(|a| tenant(a.as_str())).collect();
    o.vpc = Some(VpcObs {
        id: "vpc-1".into(),
        cidr: "10.40.0.0/16".into(),
        owned: true,
    });
    o.subnets = o
        .zones
        .iter()
        .enumerate()
        .map(|(i, z)| SubnetObs {
            id: format!("subnet-{i}"),
            vpc_id: "vpc-1".into(),
            zone_name: z.name.clone(),
            zone_id: z.id.clone(),
            cidr: format!("10.40.{}.0/20", i * 16),
            owned: true,
        })
        .collect();
    o.load_balancer = Some(LoadBalancerObs {
        arn: "arn:lb".into(),
        name: "acme-nlb".into(),
        state: "active".into(),
        scheme: "internal".into(),
        subnet_ids: o.subnets.iter().map(|s| s.id.clone()).collect(),
        zone_names: o.zones.iter().map(|z| z.name.clone()).collect(),
        cross_zone: true,
    });
    o.target_groups = spec
        .ports
        .iter()
        .map(|&port| TargetGroupObs {
            arn: format!("arn:tg-{port}"),
            name: format!("acme-tg-{port}"),
            port,
            target_type: "ip".into(),
            health_check: HealthCheckObs {
                protocol: "TCP".into(),
                port: "traffic-port".into(),
                path: None,
                interval_seconds: 10,
                healthy_threshold: 3,
                unhealthy_threshold: 3,
            },
            proxy_protocol_v2: spec.proxy_protocol_v2(),
            targets: spec
                .targets
                .ids
                .iter()
                .map(|id| TargetObs {
                    id: id.clone(),
                    port: spec.target_port.unwrap_or(port),
                    health: "healthy".into(),
                    reason: None,
                })
                .collect(),
        })
        .collect();
    o.listeners = spec
        .ports
        .iter()
        .map(|&port| ListenerObs {
            arn: format!("arn:l-{port}"),
            port,
            target_group_arn: Some(format!("arn:tg-{port}")),
        })
        .collect();
    o.service = Some(ServiceObs {
        id: "vpce-svc-1".into(),
        name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
        state: "Available".into(),
        acceptance_required: true,
        load_balancer_arns: BTreeSet::from(["arn:lb".to_string()]),
        zone_names: vec![],
        zone_ids: vec![],
        principals: desired_principals(spec, &o),
        private_dns_name: spec.private_dns_name.clone(),
        private_dns: spec.private_dns_name.as_ref().map(|_| PrivateDnsObs {
            state: Some("verified".into()),
            record_type: Some("TXT".into()),
            name: Some("_v".into()),
            value: Some("vpce:abc".into()),
        }),
        // AWS lists the home region among the supported ones.
        supported_regions: std::iter::once(o.region.clone())
            .chain(spec.supported_regions.iter().cloned())
            .collect(),
    });
    let scope = scope(spec, &o);
    o.topic = Some(TopicObs {
        arn: scope.topic_arn(),
        policy: Some(policy::topic_policy(
            &scope.topic_arn(),
            "us-east-1",
            "999999999999",
            "vpce-svc-1",
        )),
    });
    o.notification = Some(NotificationObs {
        id: "vpce-nfn-1".into(),
        topic_arn: scope.topic_arn(),
        events: policy::CONNECTION_EVENTS
            .iter()
            .map(|e| e.to_string())
            .collect(),
        state: Some("Enabled".into()),
    });
    o.boundary = Some(BoundaryObs {
        arn: scope.boundary_arn(),
        document: Some(policy::approver_boundary_policy(&scope)),
    });
    o.role = Some(RoleObs {
        arn: scope.role_arn(),
        trust: Some(policy::lambda_trust_policy()),
        policy: Some(policy::approver_role_policy(&scope)),
        boundary: Some(scope.boundary_arn()),
    });
    o.function = Some(FunctionObs {
        arn: scope.function_arn(),
        runtime: Some(RUNTIME.into()),
        handler: Some(HANDLER.into()),
        role: Some(scope.role_arn()),
        architecture: Some("x86_64".into()),
        code_sha256: Some(SHA.into()),
        environment: desired_environment(spec, "vpce-svc-1"),
        state: Some("Active".into()),
        permissions: BTreeMap::from([
            (
                SNS_PERMISSION_SID.to_string(),
                invoke_permission("sns.amazonaws.com", &scope.topic_arn(), &scope.account),
            ),
            (
                SWEEP_PERMISSION_SID.to_string(),
                invoke_permission("events.amazonaws.com", &scope.rule_arn(), &scope.account),
            ),
        ]),
    });
    o.subscriptions = vec![SubscriptionObs {
        arn: "arn:sub".into(),
        endpoint: scope.function_arn(),
    }];
    o.rule = Some(RuleObs {
        arn: scope.rule_arn(),
        schedule: Some(spec.approver.sweep_schedule.clone()),
        state: Some("ENABLED".into()),
        target_arns: vec![scope.function_arn()],
    });
    o
}

/// The steps as `plan --output json` names them: (action, resource kind).
fn kinds(plan: &Plan) -> Vec<(Action, String)> {
    plan.steps
        .iter()
        .map(|s| {
            (
                s.action(),
                serde_json::to_value(&s.change).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn a_converged_stack_plans_nothing() {
    for extra in [
        "",
        "[health_check]\nprotocol = \"http\"\npath = \"/healthz\"",
    ] {
        let spec = spec(extra);
        let mut observed = converged(&spec);
        for tg in &mut observed.target_groups {
            tg.health_check.protocol = spec.health_check.protocol.as_str().to_string();
            tg.health_check.path = spec.health_check.path.clone();
        }
        let plan = plan(&spec, &observed, SHA).unwrap();
        assert!(plan.is_empty(), "{extra}: {plan}");
        assert!(plan.to_string().contains("up to date"));
    }
}

#[test]
fn from_empty_everything_is_created_in_dependency_order() {
    let spec = spec("");
    let plan = plan(&spec, &empty(), SHA).unwrap();
    let kinds: Vec<String> = kinds(&plan).into_iter().map(|(_, k)| k).collect();
    let order = [
        "tenants_table",
        "tenants_table_backups",
        "tenants",
        "vpc",
        "subnet",
        "subnet",
        "subnet",
        "target_group",
        "targets",
        "load_balancer",
        "cross_zone",
        "listener",
        "service",
        "topic",
        "topic_policy",
        "notification",
        "boundary",
        "role",
        "role_policy",
        "function",
        "sns_permission",
        "subscription",
        "sweep_rule",
        "sweep_permission",
        "sweep_target",
        // Last: consumers are allowed once the approver answers them.
        "principals",
    ];
    assert_eq!(kinds, order);
    // The subnets are carved from the VPC, one per AZ.
    let cidrs: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.change {
            Change::CreateSubnet { cidr, zone_id, .. } => Some(format!("{zone_id}={cidr}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        cidrs,
        [
            "use1-az1=10.40.0.0/20",
            "use1-az2=10.40.16.0/20",
            "use1-az3=10.40.32.0/20"
        ]
    );
    // The steps carry what `apply` runs: nothing of it is left to derive.
    let change = |kind: &str| {
        plan.steps
            .iter()
            .map(|s| &s.change)
            .find(|c| serde_json::to_value(c).unwrap()["kind"] == kind)
            .unwrap()
            .clone()
    };
    assert_eq!(
        change("vpc"),
        Change::CreateVpc {
            cidr: crate::provision::spec::Ipv4Cidr::parse("10.40.0.0/16").unwrap()
        }
    );
    assert_eq!(
        change("target_group"),
        Change::CreateTargetGroup {
            port: 443,
            target_type: TargetKind::Ip,
            health_check: HealthCheckSpec::default(),
        }
    );
    assert_eq!(
        change("targets"),
        Change::RegisterTargets {
            port: 443,
            targets: vec![("10.40.0.10".to_string(), 8443)]
        }
    );
    assert_eq!(
        change("boundary"),
        Change::CreateBoundary {
            document: policy::approver_boundary_policy(&scope(&spec, &empty()))
        }
    );
    // The service id is the one value unknown before the run creates the
    // service: `apply` adds it.
    let mut environment = desired_environment(&spec, "vpce-svc-1");
    environment.remove(ENV_SERVICE_ID);
    assert_eq!(
        change("function"),
        Change::CreateFunction {
            architecture: Architecture::X86_64,
            environment,
        }
    );
    assert_eq!(
        change("sweep_rule"),
        Change::CreateSweepRule {
            schedule: spec.approver.sweep_schedule.clone()
        }
    );
    assert_eq!(
        change("principals"),
        Change::SetPrincipals {
            add: vec!["arn:aws:iam::111111111111:root".into()],
            remove: vec![]
        }
    );
    // What people read: the action word, what it acts on, why.
    let text = plan.to_string();
    assert!(
        text.contains("create subnet 10.40.0.0/20 in us-east-1a (use1-az1)")
            && text.contains(
                "update allowed principals\n       allow [arn:aws:iam::111111111111:root]"
            ),
        "{text}"
    );
    // And what `--output json` readers read.
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["steps"][2],
        json!({
            "action": "create",
            "resource": {"kind": "tenants", "accounts": ["111111111111"]},
            "reason": "active, name = account id; 1 from access.allowlist (111111111111)"
        })
    );
}

/// (what drifted, how, the steps that fix it)
#[test]
fn each_drift_plans_exactly_its_fix() {
    type Drift = fn(&mut Observed);
    type Case = (&'static str, Drift, Vec<(Action, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "cross-zone off",
            |o| o.load_balancer.as_mut().unwrap().cross_zone = false,
            vec![(Action::Update, "cross_zone")],
        ),
        (
            "a target missing",
            |o| o.target_groups[0].targets.clear(),
            vec![(Action::Update, "targets")],
        ),
        (
            "a stray target",
            |o| {
                let extra = TargetObs {
                    id: "10.40.0.99".into(),
                    port: 8443,
                    health: "healthy".into(),
                    reason: None,
                };
                o.target_groups[0].targets.push(extra)
            },
            vec![(Action::Update, "targets")],
        ),
        (
            "health check changed",
            |o| o.target_groups[0].health_check.interval_seconds = 30,
            vec![(Action::Update, "health_check")],
        ),
        (
            "a principal added by hand",
            |o| {
                o.service.as_mut().unwrap().principals.insert("*".into());
            },
            vec![(Action::Update, "principals")],
        ),
        (
            "acceptance turned off",
            |o| o.service.as_mut().unwrap().acceptance_required = false,
            vec![(Action::Update, "service")],
        ),
        (
            "topic policy replaced",
            |o| o.topic.as_mut().unwrap().policy = Some(json!({"Statement": []})),
            vec![(Action::Update, "topic_policy")],
        ),
        (
            "notification deleted",
            |o| o.notification = None,
            vec![(Action::Create, "notification")],
        ),
        (
            "role policy widened",
            |o| o.role.as_mut().unwrap().policy = Some(json!({"Statement": [{"Action": "*"}]})),
            vec![(Action::Update, "role_policy")],
        ),
        (
            "a role without the boundary (made before the kit had one)",
            |o| o.role.as_mut().unwrap().boundary = None,
            vec![(Action::Update, "role_boundary")],
        ),
        (
            "another boundary on the role",
            |o| {
                o.role.as_mut().unwrap().boundary =
                    Some("arn:aws:iam::999999999999:policy/AdministratorAccess".into())
            },
            vec![(Action::Update, "role_boundary")],
        ),
        (
            "the boundary policy deleted",
            |o| o.boundary = None,
            vec![(Action::Create, "boundary")],
        ),
        (
            "code changed",
            |o| o.function.as_mut().unwrap().code_sha256 = Some("other".into()),
            vec![(Action::Update, "function_code")],
        ),
        (
            "environment edited",
            |o| {
                o.function
                    .as_mut()
                    .unwrap()
                    .environment
                    .insert("APPROVER_DRY_RUN".into(), "true".into());
            },
            vec![(Action::Update, "function_configuration")],
        ),
        (
            "subscription removed",
            |o| o.subscriptions.clear(),
            vec![(Action::Create, "subscription")],
        ),
        (
            "sns permission removed",
            |o| {
                o.function
                    .as_mut()
                    .unwrap()
                    .permissions
                    .remove(SNS_PERMISSION_SID);
            },
            vec![(Action::Create, "sns_permission")],
        ),
        (
            "rule disabled",
            |o| o.rule.as_mut().unwrap().state = Some("DISABLED".into()),
            vec![(Action::Update, "sweep_rule")],
        ),
        (
            "rule target removed",
            |o| o.rule.as_mut().unwrap().target_arns.clear(),
            vec![(Action::Create, "sweep_target")],
        ),
        (
            "a subnet deleted",
            |o| {
                o.subnets.pop();
            },
            vec![
                (Action::Create, "subnet"),
                (Action::Update, "load_balancer_subnets"),
                (Action::Update, "service"),
            ],
        ),
        (
            "the service deleted",
            |o| o.service = None,
            vec![
                (Action::Create, "service"),
                (Action::Update, "topic_policy"),
                (Action::Create, "notification"),
                (Action::Update, "role_policy"),
                (Action::Update, "function_configuration"),
                (Action::Update, "principals"),
            ],
        ),
    ];
    let spec = spec("");
    for (name, drift, expected) in cases {
        let mut observed = converged(&spec);
        drift(&mut observed);
        let plan = plan(&spec, &observed, SHA).unwrap();
        let expected: Vec<(Action, String)> = expected
            .into_iter()
            .map(|(a, k)| (a, k.to_string()))
            .collect();
        assert_eq!(kinds(&plan), expected, "{name}: {plan}");
    }
}

#[test]
fn spec_changes_plan_updates() {
    let before = spec("");
    let observed = converged(&before);
    let more = spec("").clone();
    let mut wider = more.clone();
    wider.allowlist = crate::approval::Allowlist::parse("111111111111,222222222222").unwrap();
    let p = plan(&wider, &observed, SHA).unwrap();
    assert_eq!(
        kinds(&p),
        // The new account is a tenant before the service allows it; the
        // approver's configuration does not change (it reads the registry).
        [
            (Action::Create, "tenants".to_string()),
            (Action::Update, "principals".to_string())
        ]
    );
    assert_eq!(
        p.steps[0].change,
        Change::CreateTenants {
            accounts: vec![account("222222222222")]
        }
    );
    assert_eq!(
        p.steps[1].change,
        Change::SetPrincipals {
            add: vec!["arn:aws:iam::222222222222:root".into()],
            remove: vec![]
        }
    );
    let mut ports = more.clone();
    ports.ports = vec![443, 8443];
    ports.target_port = None;
    let kinds_ports = kinds(&plan(&ports, &observed, SHA).unwrap());
    assert!(
        kinds_ports.contains(&(Action::Create, "target_group".into())),
        "{kinds_ports:?}"
    );
    assert!(
        kinds_ports.contains(&(Action::Create, "listener".into())),
        "{kinds_ports:?}"
    );
    let mut fewer = more.clone();
    fewer.ports = vec![8443];
    let p = plan(&fewer, &observed, SHA).unwrap();
    let deletes: Vec<&Change> = p
        .steps
        .iter()
        .map(|s| &s.change)
        .filter(|c| c.action() == Action::Delete)
        .collect();
    // The listener first: it uses the target group.
    assert_eq!(
        deletes,
        [
            &Change::DeleteListener {
                port: 443,
                arn: "arn:l-443".into()
            },
            &Change::DeleteTargetGroup {
                port: 443,
                arn: "arn:tg-443".into()
            }
        ],
        "{p}"
    );
    let mut any = more;
    any.allow_any_principal = true;
    let p = plan(&any, &observed, SHA).unwrap();
    // `*` alone: listing accounts beside it would allow no one more.
    assert!(
        p.steps[0]
            .reason
            .contains("add [*], remove [arn:aws:iam::111111111111:root]"),
        "{p}"
    );
    assert_eq!(
        p.steps[0].change,
        Change::SetPrincipals {
            add: vec!["*".into()],
            remove: vec!["arn:aws:iam::111111111111:root".into()]
        }
    );
    let mut schedule = before.clone();
    schedule.approver.sweep_schedule = "rate(1 hour)".into();
    assert_eq!(
        plan(&schedule, &observed, SHA).unwrap().steps,
        [Step {
            change: Change::UpdateSweepRule {
                schedule: "rate(1 hour)".into()
            },
            reason: "rate(1 hour), enabled".into()
        }]
    );
}

#[test]
fn unsafe_or_impossible_changes_are_refused() {
    let spec_a = spec("");
    let mut observed = converged(&spec_a);
    observed.vpc.as_mut().unwrap().cidr = "10.50.0.0/16".into();
    let err = plan(&spec_a, &observed, SHA).unwrap_err();
    assert!(
        matches!(err, ProvisionError::Refused(ref m) if m.contains("cannot be changed")),
        "{err}"
    );

    // A boundary that is not the generated one is never rewritten by `up`
    // (the operator may not change it): refused, with what to do.
    let mut widened = converged(&spec_a);
    widened.boundary.as_mut().unwrap().document =
        Some(json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}));
    let err = plan(&spec_a, &widened, SHA).unwrap_err();
    assert!(
        matches!(err, ProvisionError::Refused(ref m) if m.contains("iam-policy")),
        "{err}"
    );

    let mut instance = spec_a.clone();
    instance.targets.kind = crate::provision::spec::TargetKind::Instance;
    let err = plan(&instance, &converged(&spec_a), SHA).unwrap_err();
    assert!(err.to_string().contains("type"), "{err}");
}

#[test]
fn existing_subnets_must_cover_every_zone_unless_allowed() {
    let mut existing = spec("");
    existing.network = NetworkSpec::Existing {
        vpc_id: "vpc-9".into(),
        subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
    };
    let mut observed = empty();
    observed.vpc = Some(VpcObs {
        id: "vpc-9".into(),
        cidr: "10.0.0.0/16".into(),
        owned: false,
    });
    observed.subnets = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, z)| SubnetObs {
            id: format!("subnet-{z}"),
            vpc_id: "vpc-9".into(),
            zone_name: format!("us-east-1{z}"),
            zone_id: format!("use1-az{}", i + 1),
            cidr: String::new(),
            owned: false,
        })
        .collect();
    let err = plan(&existing, &observed, SHA).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cover 2 of the 3") && message.contains("us-east-1c (use1-az3)"),
        "{message}"
    );
    existing.allow_partial_az_coverage = true;
    let ok = plan(&existing, &observed, SHA).unwrap();
    assert!(!kinds(&ok).iter().any(|(_, k)| k == "vpc" || k == "subnet"));

    // Two subnets in one AZ, or one outside the VPC, are input errors.
    observed.subnets[1].zone_id = "use1-az1".into();
    assert!(plan(&existing, &observed, SHA)
        .unwrap_err()
        .to_string()
        .contains("one subnet per Availability Zone"));
    observed.subnets[1].zone_id = "use1-az2".into();
    observed.subnets[1].vpc_id = "vpc-other".into();
    assert!(plan(&existing, &observed, SHA)
        .unwrap_err()
        .to_string()
        .contains("not in network.vpc_id"));
}

#[test]
fn the_verification_record_is_written_with_a_new_name_or_when_missing() {
    let with_dns = spec("").clone();
    let mut named = with_dns.clone();
    named.private_dns_name = Some("api.acme.example".into());
    // A new name: set it, write its record, ask AWS to verify it.
    let k = kinds(&plan(&named, &converged(&with_dns), SHA).unwrap());
    assert_eq!(
        k,
        [
            (Action::Update, "private_dns_name".to_string()),
            (Action::Create, "verification_record".to_string()),
            (Action::Update, "private_dns_verification".to_string())
        ]
    );
    // Converged with the record present: nothing; record deleted: rewrite.
    let mut observed = converged(&named);
    let record = VerificationObs {
        zone_id: "Z1".into(),
        zone_name: "acme.example".into(),
        record_name: "_v.api.acme.example.".into(),
        value: "vpce:abc".into(),
        present: true,
    };
    observed.verification = Some(record.clone());
    assert!(plan(&named, &observed, SHA).unwrap().is_empty());
    observed.verification = Some(VerificationObs {
        present: false,
        ..record
    });
    assert_eq!(
        kinds(&plan(&named, &observed, SHA).unwrap()),
        [(Action::Create, "verification_record".to_string())]
    );
    // No public zone in the account: nothing to do here (status says so).
    observed.verification = None;
    assert!(plan(&named, &observed, SHA).unwrap().is_empty());
}

#[test]
fn verification_is_asked_for_until_the_name_is_verified() {
    let mut named = spec("").clone();
    named.private_dns_name = Some("api.acme.example".into());
    let mut observed = converged(&named);
    assert!(plan(&named, &observed, SHA).unwrap().is_empty());
    for state in ["pendingVerification", "failed"] {
        if let Some(dns) = observed
            .service
            .as_mut()
            .and_then(|s| s.private_dns.as_mut())
        {
            dns.state = Some(state.into());
        }
        assert_eq!(
            kinds(&plan(&named, &observed, SHA).unwrap()),
            [(Action::Update, "private_dns_verification".to_string())],
            "{state}"
        );
    }
}

/// A Lambda resource-policy statement as AWS (and the emulator) returns it
/// for `AddPermission` with a source ARN and account.
fn invoke_permission(service: &str, source_arn: &str, account: &str) -> serde_json::Value {
    json!({
        "Sid": "x",
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:acme-approver",
        "Condition": {
            "ArnLike": {"AWS:SourceArn": source_arn},
            "StringEquals": {"AWS:SourceAccount": account}
        }
    })
}

#[test]
fn a_broadened_invoke_permission_is_replaced() {
    use crate::provision::resources::approver::permission_matches;
    let exact = invoke_permission("sns.amazonaws.com", "arn:aws:sns:us-east-1:1:t", "1");
    assert!(permission_matches(
        &exact,
        "sns.amazonaws.com",
        "arn:aws:sns:us-east-1:1:t",
        "1"
    ));
    let mut wildcard = exact.clone();
    wildcard["Condition"]["ArnLike"]["AWS:SourceArn"] = json!("arn:aws:sns:us-east-1:1:t*");
    assert!(!permission_matches(
        &wildcard,
        "sns.amazonaws.com",
        "arn:aws:sns:us-east-1:1:t",
        "1"
    ));
    let mut no_account = exact.clone();
    no_account["Condition"]
        .as_object_mut()
        .unwrap()
        .remove("StringEquals");
    assert!(!permission_matches(
        &no_account,
        "sns.amazonaws.com",
        "arn:aws:sns:us-east-1:1:t",
        "1"
    ));
}

#[test]
fn the_approver_learns_a_new_account_before_the_service_allows_it() {
    let spec = spec("");
    // A tenant added with `tenants add` to a stack whose approver still
    // reads a legacy allowlist: the approver is rewritten to read the
    // registry before the service allows the tenant's account, with the
    // families between them (here the topic policy) where they belong.
    let mut observed = converged(&spec);
    observed.tenants.push(tenant("444444444444"));
    let env = &mut observed.function.as_mut().unwrap().environment;
    env.remove(crate::approval::config::ENV_TABLE);
    env.insert(
        crate::approval::config::LEGACY_ENV_ALLOWLIST.into(),
        "111111111111".into(),
    );
    observed.topic.as_mut().unwrap().policy = None;
    let p = plan(&spec, &observed, SHA).unwrap();
    assert_eq!(
        kinds(&p),
        [
            (Action::Update, "topic_policy".to_string()),
            (Action::Update, "function_configuration".to_string()),
            (Action::Update, "principals".to_string()),
        ],
        "{p}"
    );
    let mut environment = desired_environment(&spec, "vpce-svc-1");
    environment.remove(ENV_SERVICE_ID);
    assert_eq!(
        p.steps[1].change,
        Change::UpdateFunctionConfiguration { environment }
    );
    // A new approver too: created before the account is allowed.
    observed.function = None;
    let k = kinds(&plan(&spec, &observed, SHA).unwrap());
    let at = |kind: &str| k.iter().position(|(_, k)| k == kind).unwrap();
    assert!(at("function") < at("principals"), "{k:?}");
    assert_eq!(at("principals"), k.len() - 1, "{k:?}");
}

/// (what drifted, how, the step that fixes it with what `apply` runs)
#[test]
fn each_fix_carries_what_apply_runs() {
    type Drift = fn(&mut Observed);
    let cases: Vec<(&str, Drift, Change)> = vec![
        (
            "a target missing",
            |o| o.target_groups[0].targets.clear(),
            Change::UpdateTargets {
                port: 443,
                register: vec![("10.40.0.10".into(), 8443)],
                deregister: vec![],
            },
        ),
        (
            "a stray target",
            |o| {
                o.target_groups[0].targets.push(TargetObs {
                    id: "10.40.0.99".into(),
                    port: 8443,
                    health: "healthy".into(),
                    reason: None,
                })
            },
            Change::UpdateTargets {
                port: 443,
                register: vec![],
                deregister: vec![("10.40.0.99".into(), 8443)],
            },
        ),
        (
            "health check changed",
            |o| o.target_groups[0].health_check.interval_seconds = 30,
            Change::SetHealthCheck {
                port: 443,
                health_check: HealthCheckSpec::default(),
            },
        ),
        (
            "a principal added by hand",
            |o| {
                o.service.as_mut().unwrap().principals.insert("*".into());
            },
            Change::SetPrincipals {
                add: vec![],
                remove: vec!["*".into()],
            },
        ),
        (
            "the load balancer detached",
            |o| o.service.as_mut().unwrap().load_balancer_arns.clear(),
            Change::UpdateService {
                attach_load_balancer: true,
            },
        ),
        (
            "acceptance turned off",
            |o| o.service.as_mut().unwrap().acceptance_required = false,
            Change::UpdateService {
                attach_load_balancer: false,
            },
        ),
        (
            "a listener pointing elsewhere",
            |o| o.listeners[0].target_group_arn = Some("arn:other".into()),
            Change::UpdateListener { port: 443 },
        ),
        (
            "the private DNS name set by hand",
            |o| o.service.as_mut().unwrap().private_dns_name = Some("x.example".into()),
            Change::SetPrivateDnsName { name: None },
        ),
        (
            "code changed",
            |o| o.function.as_mut().unwrap().code_sha256 = Some("other".into()),
            Change::UpdateFunctionCode {
                architecture: Architecture::X86_64,
            },
        ),
        (
            "rule disabled",
            |o| o.rule.as_mut().unwrap().state = Some("DISABLED".into()),
            Change::UpdateSweepRule {
                schedule: spec("").approver.sweep_schedule,
            },
        ),
    ];
    let spec = spec("");
    for (name, drift, expected) in cases {
        let mut observed = converged(&spec);
        drift(&mut observed);
        let plan = plan(&spec, &observed, SHA).unwrap();
        let changes: Vec<Change> = plan.steps.into_iter().map(|s| s.change).collect();
        assert_eq!(changes, [expected], "{name}");
    }
}

#[test]
fn the_registry_table_is_created_backed_up_and_tagged() {
    let spec = spec("[tags]\nteam = \"platform\"");
    type Drift = fn(&mut Observed);
    type Case = (&'static str, Drift, Vec<(Action, &'static str)>);
    let cases: Vec<Case> = vec![
        (
            "the table deleted (its tenants with it)",
            |o| {
                o.tenants_table = None;
                o.tenants.clear();
            },
            vec![
                (Action::Create, "tenants_table"),
                (Action::Update, "tenants_table_backups"),
                (Action::Create, "tenants"),
            ],
        ),
        (
            "point-in-time recovery off",
            |o| o.tenants_table.as_mut().unwrap().pitr = false,
            vec![(Action::Update, "tenants_table_backups")],
        ),
        (
            "a tag removed",
            |o| {
                o.tenants_table.as_mut().unwrap().tags.remove("team");
            },
            vec![(Action::Update, "tenants_table_tags")],
        ),
        (
            "a tag changed",
            |o| {
                o.tenants_table
                    .as_mut()
                    .unwrap()
                    .tags
                    .insert("team".into(), "other".into());
            },
            vec![(Action::Update, "tenants_table_tags")],
        ),
        (
            "a tag of someone else's beside ours",
            |o| {
                o.tenants_table
                    .as_mut()
                    .unwrap()
                    .tags
                    .insert("cost-center".into(), "42".into());
            },
            vec![],
        ),
    ];
    for (name, drift, expected) in cases {
        let mut observed = converged(&spec);
        drift(&mut observed);
        let p = plan(&spec, &observed, SHA).unwrap();
        let expected: Vec<(Action, String)> = expected
            .into_iter()
            .map(|(a, k)| (a, k.to_string()))
            .collect();
        assert_eq!(kinds(&p), expected, "{name}: {p}");
    }
    for state in ["CREATING", "DELETING"] {
        let mut observed = converged(&spec);
        observed.tenants_table.as_mut().unwrap().status = state.into();
        let error = plan(&spec, &observed, SHA).unwrap_err();
        assert!(
            matches!(error, ProvisionError::Refused(ref m) if m.contains(state) && m.contains("run `up` again")),
            "{error}"
        );
    }
}

#[test]
fn seeding_creates_only_missing_tenants_and_never_changes_one() {
    let spec = spec("");
    // Suspended by an operator since the seed: `up` leaves the tenant as it
    // is and stops allowing the account.
    let mut observed = converged(&spec);
    observed.tenants[0].status = crate::approval::TenantStatus::Suspended;
    let p = plan(&spec, &observed, SHA).unwrap();
    assert_eq!(
        kinds(&p),
        [(Action::Update, "principals".to_string())],
        "{p}"
    );
    assert!(
        p.steps[0]
            .reason
            .contains("add [], remove [arn:aws:iam::111111111111:root]"),
        "{p}"
    );
    // Expired: the same.
    let mut observed = converged(&spec);
    observed.tenants[0].expires_at = Some(NOW);
    assert_eq!(
        kinds(&plan(&spec, &observed, SHA).unwrap()),
        [(Action::Update, "principals".to_string())]
    );
    // Renamed, with a quota: nothing to do.
    let mut observed = converged(&spec);
    observed.tenants[0].name = "Acme Corp".into();
    observed.tenants[0].max_endpoints = Some(2);
    assert!(plan(&spec, &observed, SHA).unwrap().is_empty());
}

#[test]
fn the_principals_follow_the_registry_not_the_config() {
    let spec = spec("");
    let mut observed = converged(&spec);
    // Added with `tenants add`, not in the config: allowed by the next `up`
    // too (the operator's command allows it at once).
    let mut added = tenant("444444444444");
    added.expires_at = Some(NOW + 1);
    observed.tenants.push(added);
    observed.tenants.push(Tenant {
        status: crate::approval::TenantStatus::Suspended,
        ..tenant("555555555555")
    });
    let p = plan(&spec, &observed, SHA).unwrap();
    assert_eq!(kinds(&p), [(Action::Update, "principals".to_string())]);
    assert!(
        p.steps[0]
            .reason
            .contains("add [arn:aws:iam::444444444444:root], remove []"),
        "{p}"
    );
    assert_eq!(
        desired_principals(&spec, &observed),
        BTreeSet::from([
            "arn:aws:iam::111111111111:root".to_string(),
            "arn:aws:iam::444444444444:root".to_string()
        ])
    );
    // In another partition, its ARNs.
    let mut china = observed.clone();
    china.region = "cn-north-1".into();
    assert!(desired_principals(&spec, &china).contains("arn:aws-cn:iam::444444444444:root"));
    // With allow_any_principal, `*` alone, whatever the registry holds.
    let mut any = spec.clone();
    any.allow_any_principal = true;
    assert_eq!(
        desired_principals(&any, &observed),
        BTreeSet::from(["*".to_string()])
    );
}

#[test]
fn an_empty_allowlist_seeds_nothing_and_allows_no_one() {
    let spec = spec("").clone();
    let mut none = spec.clone();
    none.allowlist = Default::default();
    let p = plan(&none, &empty(), SHA).unwrap();
    let k: Vec<String> = kinds(&p).into_iter().map(|(_, k)| k).collect();
    assert!(!k.contains(&"tenants".to_string()), "{p}");
    assert!(!k.contains(&"principals".to_string()), "{p}");
    assert_eq!(k[..2], ["tenants_table", "tenants_table_backups"]);
}

#[test]
fn a_legacy_allowlist_moves_into_the_registry_once_before_the_environment_loses_it() {
    let spec = spec("");
    let mut observed = converged(&spec);
    // A stack built before the registry: the approver's environment holds
    // the allowlist, and no table names the registry.
    let env = &mut observed.function.as_mut().unwrap().environment;
    env.remove(crate::approval::config::ENV_TABLE);
    env.insert(
        crate::approval::config::LEGACY_ENV_ALLOWLIST.into(),
        "111111111111, 333333333333,bad".into(),
    );
    observed
        .service
        .as_mut()
        .unwrap()
        .principals
        .insert("arn:aws:iam::333333333333:root".into());
    let p = plan(&spec, &observed, SHA).unwrap();
    assert_eq!(
        kinds(&p),
        [
            (Action::Create, "tenants".to_string()),
            (Action::Update, "function_configuration".to_string()),
        ],
        "{p}"
    );
    // 111111111111 is already a tenant (seeded from the config): only
    // 333333333333 moves; the entry that is no account id is named.
    assert_eq!(
        p.steps[0].change,
        Change::CreateTenants {
            accounts: vec![account("333333333333")]
        }
    );
    let reason = &p.steps[0].reason;
    assert!(
        reason.contains("1 moved once from the approver's APPROVER_ALLOWLIST (333333333333)")
            && reason.contains("not account ids: bad"),
        "{reason}"
    );
    assert!(p.steps[1].reason.contains("drop APPROVER_ALLOWLIST"), "{p}");

    // Once moved and the environment rewritten, nothing more: the tenant
    // stays (and stays allowed) although the config does not list it.
    let mut after = converged(&spec);
    after.tenants.push(tenant("333333333333"));
    after
        .service
        .as_mut()
        .unwrap()
        .principals
        .insert("arn:aws:iam::333333333333:root".into());
    assert!(plan(&spec, &after, SHA).unwrap().is_empty());

    // A stack whose registry table is gone too: the table comes first,
    // then the tenants, then the approver that reads them, then the
    // principals.
    observed.tenants_table = None;
    observed.tenants.clear();
    observed.service.as_mut().unwrap().principals.clear();
    let p = plan(&spec, &observed, SHA).unwrap();
    assert_eq!(
        kinds(&p),
        [
            (Action::Create, "tenants_table".to_string()),
            (Action::Update, "tenants_table_backups".to_string()),
            (Action::Create, "tenants".to_string()),
            (Action::Update, "function_configuration".to_string()),
            (Action::Update, "principals".to_string()),
        ],
        "{p}"
    );
    assert_eq!(
        p.steps[2].change,
        Change::CreateTenants {
            accounts: vec![account("111111111111"), account("333333333333")]
        }
    );
}

#[test]
fn ten_thousand_tenants_do_not_change_the_approvers_environment() {
    let spec = spec("");
    let env = desired_environment(&spec, "vpce-svc-0123456789abcdef0");
    let mut observed = converged(&spec);
    // The config's one account and 9,999 added with `tenants import`.
    observed
        .tenants
        .extend((0..9_999u64).map(|i| tenant(&format!("{:012}", 200_000_000_000 + i))));
    observed.service.as_mut().unwrap().principals = desired_principals(&spec, &observed);
    assert_eq!(observed.service.as_ref().unwrap().principals.len(), 10_000);
    // A converged stack of 10,000 tenants plans nothing, and the
    // environment is the one of a stack of one.
    assert!(plan(&spec, &observed, SHA).unwrap().is_empty());
    assert_eq!(
        observed.function.as_ref().unwrap().environment,
        desired_environment(&spec, "vpce-svc-1")
    );
    // Lambda counts keys and values against 4 KB in all.
    let size: usize = env.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(size < 300, "{size} bytes: {env:?}");
    assert!(!env.contains_key(crate::approval::config::LEGACY_ENV_ALLOWLIST));
    assert_eq!(
        env.get("APPROVER_TABLE").map(String::as_str),
        Some("acme-tenants")
    );

    // 10,000 principals to add: one step, whose reason stays short (the
    // adapter sends them 100 to a call).
    let mut unallowed = observed.clone();
    unallowed.service.as_mut().unwrap().principals.clear();
    let p = plan(&spec, &unallowed, SHA).unwrap();
    assert_eq!(kinds(&p), [(Action::Update, "principals".to_string())]);
    assert!(
        p.steps[0].reason.contains("and 9995 more"),
        "{}",
        p.steps[0].reason
    );
    assert!(p.to_string().len() < 1_000);
}

fn regions(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|r| r.to_string()).collect()
}

#[test]
fn supported_regions_follow_the_config_and_never_touch_the_home_region() {
    let mut spec = spec("");
    spec.supported_regions = regions(&["ap-south-1", "eu-west-1"]);
    let converged_plan = plan(&spec, &converged(&spec), SHA).unwrap();
    assert!(converged_plan.is_empty(), "{converged_plan}");

    /// (observed regions, desired other regions, expected (add, remove))
    type Case<'a> = (
        &'a [&'a str],
        &'a [&'a str],
        Option<(&'a [&'a str], &'a [&'a str])>,
    );
    let cases: &[Case] = &[
        (
            &["us-east-1", "eu-west-1", "sa-east-1"],
            &["ap-south-1", "eu-west-1"],
            Some((&["ap-south-1"], &["sa-east-1"])),
        ),
        (
            &["us-east-1", "eu-west-1"],
            &[],
            Some((&[], &["eu-west-1"])),
        ),
        (&["us-east-1"], &["eu-west-1"], Some((&["eu-west-1"], &[]))),
        // The home region is implied: never added, never removed.
        (&[], &[], None),
        (&["us-east-1"], &[], None),
    ];
    for (current, desired, expected) in cases {
        let mut spec = spec.clone();
        spec.supported_regions = regions(desired);
        let mut observed = converged(&spec);
        observed.service.as_mut().unwrap().supported_regions = regions(current);
        let plan = plan(&spec, &observed, SHA).unwrap();
        let steps: Vec<&Change> = plan.steps.iter().map(|s| &s.change).collect();
        match expected {
            None => assert!(plan.is_empty(), "{current:?} -> {desired:?}: {plan}"),
            Some((add, remove)) => assert_eq!(
                steps,
                [&Change::SetSupportedRegions {
                    add: add.iter().map(|r| r.to_string()).collect(),
                    remove: remove.iter().map(|r| r.to_string()).collect(),
                }],
                "{current:?} -> {desired:?}"
            ),
        }
        if let Some(step) = plan.steps.first() {
            assert_eq!(step.action(), Action::Update);
            assert_eq!(
                serde_json::to_value(&step.change).unwrap()["kind"],
                "supported_regions"
            );
        }
    }
}

#[test]
fn a_new_service_gets_its_supported_regions_right_after_it_is_created() {
    let mut spec = spec("");
    spec.supported_regions = regions(&["eu-west-1"]);
    let plan = plan(&spec, &empty(), SHA).unwrap();
    let kinds: Vec<String> = kinds(&plan).into_iter().map(|(_, k)| k).collect();
    let at = kinds.iter().position(|k| k == "service").unwrap();
    assert_eq!(kinds[at + 1], "supported_regions");
    assert!(plan.steps[at + 1].reason.contains("eu-west-1"));
}

#[test]
fn listing_the_home_region_as_supported_is_refused() {
    // The file named no region: the one in use is only known here.
    let mut spec = spec("");
    spec.supported_regions = regions(&["us-east-1"]);
    let error = plan(&spec, &converged(&spec), SHA).unwrap_err();
    assert!(error.to_string().contains("us-east-1"), "{error}");
}

/// A stack whose target groups target the gateway (`[gateway]`).
fn gateway_spec(gateway: &str) -> StackSpec {
    let text = format!(
        r#"
name = "acme"
[network]
vpc_cidr = "10.40.0.0/16"
[service]
ports = [443]
[gateway]
{gateway}
[access]
allowlist = ["111111111111"]
[approver]
package = "bootstrap.zip"
"#
    );
    StackSpec::parse(Path::new("s.toml"), &text, &Overrides::default()).expect("valid spec")
}

/// [`converged`] with the target groups' health check as `spec` asks.
fn converged_checks(spec: &StackSpec) -> Observed {
    let mut observed = converged(spec);
    for tg in &mut observed.target_groups {
        let hc = &spec.health_check;
        tg.health_check.protocol = hc.protocol.as_str().to_string();
        tg.health_check.port = hc
            .port
            .map_or_else(|| "traffic-port".to_string(), |p| p.to_string());
        tg.health_check.path = hc.path.clone();
    }
    observed
}

fn proxy_steps(plan: &Plan) -> Vec<&Change> {
    plan.steps
        .iter()
        .map(|s| &s.change)
        .filter(|c| matches!(c, Change::SetProxyProtocolV2 { .. }))
        .collect()
}

#[test]
fn a_gateway_is_the_target_with_proxy_protocol_v2_on_before_its_targets() {
    let gw =
        gateway_spec("targets = [\"10.40.1.10\", \"10.40.2.10\"]\nport = 8443\nhealth_port = 8081");
    let p = plan(&gw, &empty(), SHA).unwrap();
    let changes: Vec<&Change> = p.steps.iter().map(|s| &s.change).collect();
    let create = changes
        .iter()
        .position(|c| matches!(c, Change::CreateTargetGroup { .. }))
        .expect("a target group");
    match changes[create] {
        Change::CreateTargetGroup { health_check, .. } => {
            assert_eq!(health_check.protocol.as_str(), "HTTP");
            assert_eq!(health_check.port, Some(8081));
            assert_eq!(health_check.path.as_deref(), Some("/"));
        }
        other => panic!("{other:?}"),
    }
    // Right after the group, before any target can receive a connection.
    assert_eq!(
        changes[create + 1],
        &Change::SetProxyProtocolV2 {
            port: 443,
            enabled: true
        }
    );
    assert_eq!(
        changes[create + 2],
        &Change::RegisterTargets {
            port: 443,
            targets: vec![("10.40.1.10".into(), 8443), ("10.40.2.10".into(), 8443)]
        }
    );
    assert_eq!(
        p.steps[create + 1].to_string(),
        "update PROXY protocol v2 of port 443 (the gateway is the target: it reads the VPC \
         endpoint id from the PROXY v2 header)"
    );
    let json = serde_json::to_value(&p.steps[create + 1]).unwrap();
    assert_eq!(
        json["resource"],
        json!({"kind": "proxy_protocol_v2", "port": 443, "enabled": true})
    );

    // Without a gateway nothing turns the attribute on.
    assert!(proxy_steps(&plan(&spec(""), &empty(), SHA).unwrap()).is_empty());
}

#[test]
fn a_converged_gateway_stack_plans_nothing() {
    for gateway in [
        "targets = [\"10.40.1.10\"]\nport = 8443\nhealth_port = 8081",
        "targets = [\"10.40.1.10\"]\nport = 8443",
    ] {
        let gw = gateway_spec(gateway);
        let observed = converged_checks(&gw);
        assert!(observed.target_groups.iter().all(|t| t.proxy_protocol_v2));
        let p = plan(&gw, &observed, SHA).unwrap();
        assert!(p.is_empty(), "{gateway}: {p}");
    }
}

#[test]
fn adding_and_removing_the_gateway_switches_targets_health_check_and_proxy_protocol() {
    let direct = spec("");
    let gateway =
        gateway_spec("targets = [\"10.40.1.10\", \"10.40.1.11\"]\nport = 9443\nhealth_port = 9081");

    // A direct stack gets a gateway: the attribute is turned on before the
    // gateway's hosts replace the app.
    let p = plan(&gateway, &converged_checks(&direct), SHA).unwrap();
    let changes: Vec<&Change> = p.steps.iter().map(|s| &s.change).collect();
    let on = changes
        .iter()
        .position(|c| {
            **c == Change::SetProxyProtocolV2 {
                port: 443,
                enabled: true,
            }
        })
        .unwrap_or_else(|| panic!("{p}"));
    let targets = changes
        .iter()
        .position(|c| matches!(c, Change::UpdateTargets { .. }))
        .unwrap_or_else(|| panic!("{p}"));
    assert!(on < targets, "{p}");
    assert_eq!(
        changes[targets],
        &Change::UpdateTargets {
            port: 443,
            register: vec![("10.40.1.10".into(), 9443), ("10.40.1.11".into(), 9443)],
            deregister: vec![("10.40.0.10".into(), 8443)],
        }
    );
    assert!(
        changes.iter().any(|c| matches!(c,
            Change::SetHealthCheck { port: 443, health_check }
                if health_check.port == Some(9081) && health_check.protocol.as_str() == "HTTP")),
        "{p}"
    );

    // The gateway is removed: the attribute goes back off, the app is the
    // target again with the default TCP check.
    let p = plan(&direct, &converged_checks(&gateway), SHA).unwrap();
    assert_eq!(
        proxy_steps(&p),
        [&Change::SetProxyProtocolV2 {
            port: 443,
            enabled: false
        }]
    );
    assert!(
        p.steps.iter().any(|s| s.change
            == Change::UpdateTargets {
                port: 443,
                register: vec![("10.40.0.10".into(), 8443)],
                deregister: vec![("10.40.1.10".into(), 9443), ("10.40.1.11".into(), 9443)],
            }),
        "{p}"
    );
    assert!(
        p.steps.iter().any(|s| matches!(&s.change,
            Change::SetHealthCheck { health_check, .. } if *health_check == HealthCheckSpec::default())),
        "{p}"
    );
}

#[test]
fn outside_the_home_region_the_registry_is_read_never_built() {
    let mut other = spec("");
    other.registry_region = Some("us-east-1".into());
    other.name = other.name.in_region("eu-west-1");
    let mut observed = empty();
    observed.region = "eu-west-1".into();

    // From empty, before the home region's `up` has made the table: no
    // registry step, and the principals are the seeds.
    let p = plan(&other, &observed, SHA).unwrap();
    let planned: Vec<String> = kinds(&p).into_iter().map(|(_, k)| k).collect();
    assert!(
        !planned.iter().any(|k| k.starts_with("tenants")),
        "the home region's table is not this region's to make: {planned:?}"
    );
    assert!(planned.contains(&"function".to_string()), "{planned:?}");
    assert_eq!(
        desired_principals(&other, &observed),
        BTreeSet::from(["arn:aws:iam::111111111111:root".to_string()])
    );
    let environment = desired_environment(&other, "vpce-svc-1");
    assert_eq!(
        environment.get(crate::approval::config::ENV_TABLE_REGION),
        Some(&"us-east-1".to_string())
    );
    assert_eq!(
        environment.get(crate::approval::config::ENV_TABLE),
        Some(&"acme-tenants".to_string())
    );
    // The home region's spec names no table region.
    assert!(!desired_environment(&spec(""), "vpce-svc-1")
        .contains_key(crate::approval::config::ENV_TABLE_REGION));

    // With the home table's tenants read (a tenant added there, none of
    // the seeds yet), still no registry step; the principals follow them.
    observed.tenants_table = Some(TenantsTableObs {
        name: "acme-tenants".into(),
        arn: "arn:aws:dynamodb:us-east-1:999999999999:table/acme-tenants".into(),
        status: "ACTIVE".into(),
        pitr: false,
        tags: BTreeMap::new(),
    });
    observed.tenants.push(tenant("444444444444"));
    let p = plan(&other, &observed, SHA).unwrap();
    assert!(
        !kinds(&p).iter().any(|(_, k)| k.starts_with("tenants")),
        "PITR and tags of the home table are the home stack's: {p}"
    );
    assert!(desired_principals(&other, &observed).contains("arn:aws:iam::444444444444:root"));
    // Its policies name the home region's table.
    assert_eq!(
        scope(&other, &observed).table_arn(),
        "arn:aws:dynamodb:us-east-1:999999999999:table/acme-tenants"
    );
}
