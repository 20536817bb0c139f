//! The provider stack commands of the real `endpoint-service` binary
//! against the local emulator: `plan`/`up`/`status`/`down` from empty, a
//! converged `up` that makes no mutating call, a failure injected at every
//! mutating step followed by `up` again (converges, no duplicates, nothing
//! orphaned after `down`), `down` refused with a live connection and
//! `--force`, partial AZ coverage, a name taken by someone else, and bad
//! configs reported before any AWS call. The tenant registry: `up` creates
//! its table (point-in-time recovery, the stack's tags) and seeds it from the
//! config without ever changing a tenant, moves a legacy `APPROVER_ALLOWLIST`
//! into it once, the allowed principals follow it (in batches), and `down`
//! keeps it unless `--delete-tenants`. The service's supported regions
//! (cross-region PrivateLink) follow `supported_regions`.
//!
//! Needs the binary: `cargo test --workspace --no-run` (or tests/run.sh) builds it.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use aws_sdk_ec2::types::{Filter, VpcEndpointType};
use aws_sdk_lambda::types::Environment;
use endpoint_service::provision::policy::{operator_actions, BOUNDARY_ADMIN_ACTIONS};
use privatelink_core::approval::{AccountId, LastDecision, Tenant, TenantStatus};
use privatelink_core::aws::app;
use privatelink_core::naming::STACK_TAG;
use privatelink_core::state::EndpointState;
use privatelink_registry::{Registry, Write};
use privatelink_tests::bins::{self, Run};
use privatelink_tests::fixtures::{endpoint_state, vpc_with_subnets, zones};
use privatelink_tests::provider_cli::{run, run_json, stack_toml, StackDir};
use privatelink_tests::{Account, Emulator, Fault};
use serde_json::Value;

/// What exists for a stack, counted with plain SDK calls.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    vpcs: usize,
    subnets: usize,
    load_balancers: usize,
    target_groups: usize,
    services: usize,
    notifications: usize,
    topics: usize,
    subscriptions: usize,
    /// The approver's permissions boundary policy.
    boundaries: usize,
    roles: usize,
    /// The approver role, with the boundary policy as its permissions boundary.
    bounded_roles: usize,
    functions: usize,
    rules: usize,
    /// The tenant registry's table.
    tables: usize,
}

impl Counts {
    /// What `down` leaves: the tenant registry alone.
    fn registry_only() -> Counts {
        Counts {
            tables: 1,
            ..Counts::default()
        }
    }

    /// A complete stack in a region with `zones` AZs.
    fn complete(zones: usize) -> Counts {
        Counts {
            vpcs: 1,
            subnets: zones,
            load_balancers: 1,
            target_groups: 1,
            services: 1,
            notifications: 1,
            topics: 1,
            subscriptions: 1,
            boundaries: 1,
            roles: 1,
            bounded_roles: 1,
            functions: 1,
            rules: 1,
            tables: 1,
        }
    }
}

fn tag_filter(stack: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{STACK_TAG}"))
        .values(stack)
        .build()
}

async fn count(account: &Account, stack: &str) -> Result<Counts> {
    let ec2 = account.ec2();
    let elb = account.elbv2();
    let sns = account.sns();
    let iam = account.iam();
    let lambda = account.lambda();
    let events = account.events();
    let vpcs = ec2
        .describe_vpcs()
        .filters(tag_filter(stack))
        .send()
        .await?
        .vpcs()
        .len();
    let subnets = ec2
        .describe_subnets()
        .filters(tag_filter(stack))
        .send()
        .await?
        .subnets()
        .len();
    let lbs = elb.describe_load_balancers().send().await?;
    let load_balancers = lbs
        .load_balancers()
        .iter()
        .filter(|l| l.load_balancer_name() == Some(&format!("{stack}-nlb")))
        .count();
    let tgs = elb.describe_target_groups().send().await?;
    let target_groups = tgs
        .target_groups()
        .iter()
        .filter(|t| {
            t.target_group_name()
                .is_some_and(|n| n.starts_with(&format!("{stack}-tg-")))
        })
        .count();
    let service_ids: Vec<String> = ec2
        .describe_vpc_endpoint_service_configurations()
        .filters(tag_filter(stack))
        .send()
        .await?
        .service_configurations()
        .iter()
        .filter_map(|s| s.service_id().map(str::to_string))
        .collect();
    let notifications = ec2
        .describe_vpc_endpoint_connection_notifications()
        .send()
        .await?
        .connection_notification_set()
        .len();
    let topic_suffix = format!(":{stack}-connections");
    let topics = sns
        .list_topics()
        .send()
        .await?
        .topics()
        .iter()
        .filter(|t| t.topic_arn().is_some_and(|a| a.ends_with(&topic_suffix)))
        .count();
    let subscriptions = sns
        .list_subscriptions()
        .send()
        .await?
        .subscriptions()
        .iter()
        .filter(|s| s.topic_arn().is_some_and(|a| a.ends_with(&topic_suffix)))
        .count();
    let boundary_suffix = format!(":policy/{stack}-approver-boundary");
    let boundaries = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await?
        .policies()
        .iter()
        .filter(|p| p.arn().is_some_and(|a| a.ends_with(&boundary_suffix)))
        .count();
    let role = iam
        .get_role()
        .role_name(format!("{stack}-approver"))
        .send()
        .await
        .ok();
    let roles = usize::from(role.is_some());
    let bounded_roles = usize::from(
        role.as_ref()
            .and_then(|r| r.role())
            .and_then(|r| r.permissions_boundary())
            .and_then(|b| b.permissions_boundary_arn())
            .is_some_and(|a| a.ends_with(&boundary_suffix)),
    );
    let functions = usize::from(
        lambda
            .get_function()
            .function_name(format!("{stack}-approver"))
            .send()
            .await
            .is_ok(),
    );
    let rules = usize::from(
        events
            .describe_rule()
            .name(format!("{stack}-sweep"))
            .send()
            .await
            .is_ok(),
    );
    let tables = account
        .dynamodb()
        .list_tables()
        .send()
        .await?
        .table_names()
        .iter()
        .filter(|t| **t == format!("{stack}-tenants"))
        .count();
    Ok(Counts {
        tables,
        vpcs,
        subnets,
        load_balancers,
        target_groups,
        services: service_ids.len(),
        notifications,
        topics,
        subscriptions,
        boundaries,
        roles,
        bounded_roles,
        functions,
        rules,
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn up_status_down_from_empty_and_a_converged_up_changes_nothing() -> Result<()> {
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let allowed = ["111111111111", "222222222222"];
    let stack = StackDir::new(&stack_toml("alpha", &allowed, ""))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    let region_zones = zones(&account).await?;

    // plan: everything to create, and no mutating call.
    let plan = run_json(&account, &["plan", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let planned = plan["steps"].as_array().context("steps")?.len();
    assert!(planned >= 20, "{plan:#}");
    assert_eq!(plan["calls"]["mutating"], 0, "{plan:#}");
    assert_eq!(count(&account, "alpha").await?, Counts::default());

    // up from empty does what the plan said.
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(up["changes"].as_array().map(Vec::len), Some(planned));
    let service_name = up["service_name"]
        .as_str()
        .context("service name")?
        .to_string();
    let service_id = up["service_id"].as_str().context("service id")?.to_string();
    assert!(service_name.ends_with(&service_id), "{service_name}");
    assert_eq!(
        count(&account, "alpha").await?,
        Counts::complete(region_zones.len())
    );

    // Every call up made is one the operator policy allows, or (creating
    // the approver's permissions boundary, which this first `up` does) the
    // administrator's boundary policy.
    let allowed_actions: BTreeSet<String> = operator_actions()
        .iter()
        .chain(BOUNDARY_ADMIN_ACTIONS)
        .filter_map(|a| a.split(':').nth(1))
        .map(String::from)
        .collect();
    for operation in up["calls"]["by_operation"]
        .as_object()
        .context("by_operation")?
        .keys()
    {
        // TransactWriteItems is no IAM action: DynamoDB authorizes each
        // item as its single call, and the seeds are Put items (the e2e
        // coverage check models every item).
        let action = match operation.as_str() {
            "TransactWriteItems" => "PutItem",
            other => other,
        };
        assert!(
            allowed_actions.contains(action),
            "{operation} is missing from the operator policy"
        );
    }

    // A converged stack: nothing planned, no mutating call.
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["changes"], Value::Array(vec![]), "{again:#}");
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");
    assert!(again["calls"]["total"].as_u64().unwrap_or(0) > 10);
    assert_eq!(again["service_id"], service_id.as_str());

    // status: what consumers and operators need.
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(status["service"]["name"], service_name.as_str());
    assert_eq!(status["service"]["acceptance_required"], true);
    let zone_ids: BTreeSet<String> = status["service"]["zones"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|z| z["id"].as_str().map(String::from))
        .collect();
    let expected_ids: BTreeSet<String> = region_zones.iter().map(|z| z.id.clone()).collect();
    assert_eq!(zone_ids, expected_ids);
    for zone in status["service"]["zones"].as_array().into_iter().flatten() {
        let known = region_zones
            .iter()
            .find(|z| z.name == zone["name"].as_str().unwrap_or_default());
        assert_eq!(
            known.map(|z| z.id.as_str()),
            zone["id"].as_str(),
            "AZ name and ID must match: {zone}"
        );
    }
    assert_eq!(
        strings(&status["service"]["allowed_principals"]),
        allowed
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect::<Vec<_>>()
    );
    assert_eq!(status["load_balancer"]["scheme"], "internal");
    assert_eq!(status["load_balancer"]["cross_zone"], true);
    assert_eq!(status["targets"].as_array().map(Vec::len), Some(2));
    for key in [
        "topic_policy_set",
        "notification_to_topic",
        "approver_subscribed",
        "sns_may_invoke",
        "sweep_invokes_approver",
    ] {
        assert_eq!(status["wiring"][key], true, "{key}: {:#}", status["wiring"]);
    }
    assert_eq!(
        strings(&status["wiring"]["notification_events"]),
        ["Accept", "Connect", "Delete", "Reject"]
    );
    // Without the config, status finds the same stack by name.
    let by_name = run_json(&account, &["status", "--stack", "alpha"])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(by_name["service"]["id"], service_id.as_str());
    assert_eq!(by_name["registry"]["table"], "alpha-tenants");
    assert_eq!(by_name["registry"]["tenants"], 2);
    assert_eq!(by_name["registry"]["entitled"], 2);
    assert_eq!(by_name["registry"]["point_in_time_recovery"], true);
    assert_eq!(by_name["principals"]["in_sync"], true, "{by_name:#}");
    let human = run(&account, &["status", "--stack", "alpha"])?
        .expect(0)
        .stdout;
    assert!(
        human.contains(&service_name) && human.contains("notifications: wired"),
        "{human}"
    );

    // What up applied, read back with the SDK.
    let sns = account.sns();
    let topic_arn = status["wiring"]["topic_arn"].as_str().context("topic")?;
    let attributes = sns
        .get_topic_attributes()
        .topic_arn(topic_arn)
        .send()
        .await?;
    let policy: Value = serde_json::from_str(
        attributes
            .attributes()
            .and_then(|a| a.get("Policy"))
            .context("policy")?,
    )?;
    let statements = policy["Statement"].as_array().context("statements")?;
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Principal"]["Service"], "vpce.amazonaws.com");
    assert_eq!(
        statements[0]["Condition"]["StringEquals"]["aws:SourceAccount"],
        account.id.as_str()
    );
    assert_eq!(
        statements[0]["Condition"]["ArnLike"]["aws:SourceArn"],
        format!(
            "arn:aws:ec2:us-east-1:{}:vpc-endpoint-service/{service_id}",
            account.id
        )
        .as_str()
    );
    let lambda = account.lambda();
    let function = lambda
        .get_function()
        .function_name("alpha-approver")
        .send()
        .await?;
    let configuration = function.configuration().context("configuration")?;
    assert_eq!(
        configuration.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(configuration.handler(), Some("bootstrap"));
    let env = configuration
        .environment()
        .and_then(|e| e.variables())
        .context("env")?;
    assert_eq!(
        env.get("APPROVER_SERVICE_ID").map(String::as_str),
        Some(service_id.as_str())
    );
    // The environment names the registry; the tenants are not in it.
    assert_eq!(env.get("APPROVER_ALLOWLIST"), None);
    assert_eq!(
        env.get("APPROVER_TABLE").map(String::as_str),
        Some("alpha-tenants")
    );
    assert_eq!(
        env.get("APPROVER_NON_ALLOWLISTED_POLICY")
            .map(String::as_str),
        Some("reject")
    );

    // The registry: on demand, keyed by account id, point-in-time
    // recovery on, tagged with the stack; the seeds active, by `config`.
    let ddb = account.dynamodb();
    let table = ddb
        .describe_table()
        .table_name("alpha-tenants")
        .send()
        .await?
        .table
        .context("table")?;
    assert_eq!(
        table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str()),
        Some("PAY_PER_REQUEST")
    );
    assert_eq!(
        table
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name(), k.key_type().as_str()))
            .collect::<Vec<_>>(),
        [("account_id", "HASH")]
    );
    let backups = ddb
        .describe_continuous_backups()
        .table_name("alpha-tenants")
        .send()
        .await?;
    assert_eq!(
        backups
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .map(|s| s.as_str()),
        Some("ENABLED")
    );
    let tags = ddb
        .list_tags_of_resource()
        .resource_arn(table.table_arn().context("arn")?)
        .send()
        .await?;
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == STACK_TAG && t.value() == "alpha"),
        "{tags:?}"
    );
    let tenants = Registry::new(ddb.clone(), "alpha-tenants").list().await?;
    assert_eq!(
        tenants
            .iter()
            .map(|t| (
                t.account_id.as_str(),
                t.status.as_str(),
                t.updated_by.as_deref()
            ))
            .collect::<Vec<_>>(),
        allowed
            .iter()
            .map(|a| (*a, "active", Some("config")))
            .collect::<Vec<_>>()
    );

    // down removes everything but the registry, and says how to delete it;
    // a second down has nothing to do.
    let down = run_json(&account, &["down", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert!(
        down["deleted"].as_array().map(Vec::len).unwrap_or(0) >= 10,
        "{down:#}"
    );
    assert_eq!(down["kept_tenants_table"], "alpha-tenants", "{down:#}");
    assert_eq!(count(&account, "alpha").await?, Counts::registry_only());
    let again = run(&account, &["down", "--stack", "alpha"])?.expect(0);
    assert!(
        again.stdout.contains("nothing to delete")
            && again.stdout.contains("kept table alpha-tenants")
            && again
                .stdout
                .contains("endpoint-service down --stack alpha --delete-tenants"),
        "{}",
        again.stdout
    );
    let again = run_json(&account, &["down", "--stack", "alpha"])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["deleted"], Value::Array(vec![]));
    assert_eq!(again["calls"]["mutating"], 0);
    let gone = run_json(&account, &["status", "--stack", "alpha"])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(gone["exists"], false);
    assert_eq!(gone["registry"]["tenants"], 2, "{gone:#}");

    // Asked to, down deletes the registry and its tenants.
    let deleted = run_json(&account, &["down", "--stack", "alpha", "--delete-tenants"])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&deleted["deleted"]),
        ["table alpha-tenants (the tenant registry, with every tenant)"]
    );
    assert_eq!(deleted["kept_tenants_table"], Value::Null);
    assert_eq!(count(&account, "alpha").await?, Counts::default());
    Ok(())
}

#[tokio::test]
async fn a_failure_at_every_mutating_step_then_up_again_converges() -> Result<()> {
    let emulator = Emulator::shared();
    let reference = Account::fresh(emulator).await?;
    let stack = StackDir::new(&stack_toml("beta", &["111111111111"], ""))?;
    let config = stack.config().to_str().context("utf-8 path")?.to_string();
    let zone_count = zones(&reference).await?.len();

    // Every mutating operation `up` makes, from a reference run.
    let up = run_json(&reference, &["up", "-c", &config])
        .await?
        .expect(0)
        .json()?;
    let mut actions: Vec<String> = Vec::new();
    for operation in strings(&up["calls"]["mutating_operations"]) {
        if !actions.contains(&operation) {
            actions.push(operation);
        }
    }
    assert!(actions.len() >= 15, "{actions:?}");
    // The registry's own steps are among them.
    for registry in [
        "CreateTable",
        "UpdateContinuousBackups",
        "TransactWriteItems",
    ] {
        assert!(actions.iter().any(|a| a == registry), "{actions:?}");
    }

    for action in &actions {
        let account = Account::fresh(emulator).await?;
        // Both attempts of the call fail (the binary retries once).
        emulator
            .inject_fault(action, 2, Fault::ServerError, &account.id)
            .await?;
        let failed = run_json(&account, &["up", "-c", &config]).await?.expect(1);
        assert!(
            failed.stderr.contains(action.as_str()),
            "{action}: {}",
            failed.stderr
        );
        assert!(
            failed.stderr.contains("Run `up` again"),
            "{}",
            failed.stderr
        );

        let again = run_json(&account, &["up", "-c", &config])
            .await?
            .expect(0)
            .json()?;
        assert!(
            !again["changes"].as_array().context("changes")?.is_empty(),
            "{action}"
        );
        assert_eq!(
            count(&account, "beta").await?,
            Counts::complete(zone_count),
            "after a failed {action}"
        );
        let converged = run_json(&account, &["up", "-c", &config])
            .await?
            .expect(0)
            .json()?;
        assert_eq!(
            converged["calls"]["mutating"], 0,
            "after a failed {action}: {converged:#}"
        );

        run_json(&account, &["down", "-c", &config, "--delete-tenants"])
            .await?
            .expect(0);
        assert_eq!(
            count(&account, "beta").await?,
            Counts::default(),
            "orphans after a failed {action}"
        );
    }
    run_json(&reference, &["down", "-c", &config, "--delete-tenants"])
        .await?
        .expect(0);
    Ok(())
}

#[tokio::test]
async fn down_refuses_while_a_consumer_is_connected_unless_forced() -> Result<()> {
    let emulator = Emulator::shared();
    let (provider, consumer) =
        tokio::try_join!(Account::fresh(emulator), Account::fresh(emulator))?;
    let stack = StackDir::new(&stack_toml("gamma", &[&consumer.id], ""))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    let up = run_json(&provider, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let service_name = up["service_name"].as_str().context("service name")?;

    // The allowlisted consumer connects (nobody accepts: the emulator does
    // not run the Lambda), so the connection is pending acceptance.
    let zone = zones(&provider)
        .await?
        .first()
        .context("a zone")?
        .id
        .clone();
    let (vpc_id, subnets) = vpc_with_subnets(&consumer, "consumer", &[&zone]).await?;
    let endpoint = consumer
        .ec2()
        .create_vpc_endpoint()
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .vpc_id(vpc_id)
        .service_name(service_name)
        .set_subnet_ids(Some(subnets))
        .send()
        .await?;
    let endpoint_id = endpoint
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .context("endpoint id")?
        .to_string();

    let status = run_json(&provider, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let connection = &status["connections"][0];
    assert_eq!(connection["endpoint_id"], endpoint_id.as_str());
    assert_eq!(connection["owner"], consumer.id.as_str());
    assert_eq!(connection["state"], "pendingAcceptance");
    assert_eq!(connection["entitled"], true);
    assert_eq!(connection["tenant"], "entitled");
    assert!(connection["age_seconds"].as_i64().is_some_and(|a| a >= 0));

    let refused = run_json(&provider, &["down", "-c", config])
        .await?
        .expect(4);
    assert!(
        refused.stderr.contains(&endpoint_id) && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        count(&provider, "gamma").await?.services,
        1,
        "a refused down changes nothing"
    );

    let forced = run_json(&provider, &["down", "-c", config, "--force"])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(strings(&forced["rejected"]), vec![endpoint_id.clone()]);
    assert_eq!(count(&provider, "gamma").await?, Counts::registry_only());
    assert_eq!(
        endpoint_state(&consumer, &endpoint_id).await?,
        EndpointState::Rejected
    );
    // The rejection went through the approval path, so it is recorded on
    // the connection (which stays listed once rejected), saying who forced it.
    let service_id = up["service_id"].as_str().context("service id")?;
    let listed = provider
        .ec2()
        .describe_vpc_endpoint_connections()
        .filters(
            Filter::builder()
                .name("service-id")
                .values(service_id)
                .build(),
        )
        .send()
        .await?;
    let connection = listed
        .vpc_endpoint_connections()
        .iter()
        .find(|c| c.vpc_endpoint_id() == Some(endpoint_id.as_str()))
        .context("the rejected connection is still listed")?;
    let last = LastDecision::from_tags(connection.tags()).context("a recorded decision")?;
    assert_eq!(
        (
            last.decision.as_str(),
            last.reason.as_str(),
            last.trigger.as_str()
        ),
        ("reject", "service_deleted", "forced_down"),
        "{last}"
    );
    assert!(
        last.by
            .as_deref()
            .is_some_and(|by| by.contains(&provider.id)),
        "{last}"
    );
    Ok(())
}

#[tokio::test]
async fn partial_az_coverage_is_refused_unless_allowed_and_the_operators_vpc_is_kept() -> Result<()>
{
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let region_zones = zones(&account).await?;
    let two: Vec<&str> = region_zones.iter().take(2).map(|z| z.id.as_str()).collect();
    let (vpc_id, subnets) = vpc_with_subnets(&account, "operator", &two).await?;
    let subnet_list: Vec<String> = subnets.iter().map(|s| format!("\"{s}\"")).collect();
    let toml = stack_toml("delta", &["111111111111"], "")
        .replace(
            "vpc_cidr = \"10.40.0.0/16\"",
            &format!(
                "vpc_id = \"{vpc_id}\"\nsubnet_ids = [{}]",
                subnet_list.join(", ")
            ),
        )
        .replace("\"10.40.0.10\", \"10.40.16.10\"", "\"10.0.0.10\"");
    let stack = StackDir::new(&toml)?;
    let config = stack.config().to_str().context("utf-8 path")?;

    let refused = run_json(&account, &["up", "-c", config]).await?.expect(4);
    assert!(
        refused.stderr.contains("cover 2 of the"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(&region_zones[2].id),
        "names the missing AZs: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--allow-partial-az-coverage"),
        "{}",
        refused.stderr
    );
    assert_eq!(count(&account, "delta").await?.load_balancers, 0);

    run_json(
        &account,
        &["up", "-c", config, "--allow-partial-az-coverage"],
    )
    .await?
    .expect(0);
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(status["service"]["zones"].as_array().map(Vec::len), Some(2));

    let down = run_json(&account, &["down", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let kept = strings(&down["kept"]);
    assert!(kept.contains(&format!("VPC {vpc_id}")), "{kept:?}");
    let still = account
        .ec2()
        .describe_vpcs()
        .vpc_ids(&vpc_id)
        .send()
        .await?;
    assert_eq!(
        still.vpcs().len(),
        1,
        "the operator's VPC must survive down"
    );
    Ok(())
}

#[tokio::test]
async fn a_new_seed_becomes_a_tenant_and_a_principal_and_a_foreign_name_is_refused() -> Result<()> {
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let stack = StackDir::new(&stack_toml("eps", &["111111111111"], ""))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    run_json(&account, &["up", "-c", config]).await?.expect(0);

    stack.rewrite(&stack_toml("eps", &["111111111111", "333333333333"], ""))?;
    let plan = run_json(&account, &["plan", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let kinds: Vec<String> = plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["resource"]["kind"].as_str().map(String::from))
        .collect();
    // The new account is a tenant before the service allows it; the
    // approver's configuration does not change (it reads the registry).
    assert_eq!(kinds, ["tenants", "principals"], "{plan:#}");
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&up["calls"]["mutating_operations"]),
        ["TransactWriteItems", "ModifyVpcEndpointServicePermissions"]
    );
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0);

    // A private DNS name: set on the service, its TXT verification record
    // written into the operator's public Route 53 zone, and AWS asked to
    // verify the domain (it finds the record: verified).
    let route53 = account.route53();
    let zone = route53
        .create_hosted_zone()
        .name("eps.example")
        .caller_reference(format!("provider-test-{}", account.id))
        .send()
        .await?;
    let zone_id = zone
        .hosted_zone()
        .context("zone")?
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let with_dns = stack_toml("eps", &["111111111111", "333333333333"], "").replace(
        "targets = [",
        "private_dns_name = \"api.eps.example\"\ntargets = [",
    );
    stack.rewrite(&with_dns)?;
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&up["calls"]["mutating_operations"]),
        [
            "ModifyVpcEndpointServiceConfiguration",
            "ChangeResourceRecordSets",
            "StartVpcEndpointServicePrivateDnsVerification"
        ]
    );
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(status["service"]["private_dns_name"], "api.eps.example");
    let verification = &status["service"]["private_dns_verification"];
    let record = &status["service"]["private_dns_record"];
    assert_eq!(record["zone_id"], zone_id.as_str(), "{status:#}");
    assert_eq!(record["present"], true);
    assert_eq!(verification["state"], "verified", "{status:#}");
    let expected_name = format!(
        "{}.api.eps.example.",
        verification["name"].as_str().context("TXT name")?
    );
    assert_eq!(record["record_name"], expected_name.as_str());
    let sets = route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .send()
        .await?;
    let txt = sets
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == expected_name)
        .context("the TXT record in Route 53")?;
    assert_eq!(
        txt.resource_records()
            .first()
            .map(|r| r.value().to_string()),
        Some(format!(
            "\"{}\"",
            verification["value"].as_str().unwrap_or_default()
        ))
    );
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");
    run_json(&account, &["down", "-c", config]).await?.expect(0);

    // A load balancer with the stack's name that the stack does not own.
    let other = Account::fresh(emulator).await?;
    let zone_ids: Vec<String> = zones(&other).await?.iter().map(|z| z.id.clone()).collect();
    let ids: Vec<&str> = zone_ids.iter().map(String::as_str).collect();
    let (_, subnets) = vpc_with_subnets(&other, "someone-else", &ids).await?;
    other
        .elbv2()
        .create_load_balancer()
        .name("eps-nlb")
        .set_subnets(Some(subnets))
        .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Network)
        .send()
        .await?;
    let refused = run_json(&other, &["up", "-c", config]).await?.expect(4);
    assert!(
        refused.stderr.contains("eps-nlb") && refused.stderr.contains("not tagged"),
        "{}",
        refused.stderr
    );
    let down = run_json(&other, &["down", "-c", config]).await?.expect(4);
    assert!(
        down.stderr.contains("not tagged"),
        "down never deletes what is not the stack's: {}",
        down.stderr
    );
    Ok(())
}

#[tokio::test]
async fn bad_configs_are_reported_with_file_line_and_key_before_any_call() -> Result<()> {
    // An endpoint nothing listens on: any AWS call would fail with a
    // network error and exit code 1, not 2.
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let good = stack_toml("zeta", &["111111111111"], "");
    let cases = [
        (
            "\"111111111111\"",
            "\"11111111111\"",
            "access.allowlist",
            "12 digits",
        ),
        (
            "10.40.0.0/16",
            "10.40.0.0/33",
            "network.vpc_cidr",
            "prefix length",
        ),
        (
            "ports = [443]",
            "ports = [70000]",
            "service.ports",
            "1 to 65535",
        ),
        (
            "package = \"bootstrap.zip\"",
            "package = \"missing.zip\"",
            "approver.package",
            "cargo lambda build",
        ),
        (
            "ports = [443]",
            "ports = [443]\nprot = \"tcp\"",
            "prot",
            "unknown field",
        ),
    ];
    for (from, to, key, fragment) in cases {
        assert!(good.contains(from), "{from}");
        let stack = StackDir::new(&good.replacen(from, to, 1))?;
        let config = stack.config().to_str().context("utf-8 path")?;
        for command in ["up", "plan"] {
            // Its endpoint is a closed port: a call would fail, not pass unseen.
            let mut child = bins::command("endpoint-service", Some(&account))?;
            let out = Run::capture(
                child
                    .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
                    .args([command, "-c", config]),
            )?;
            let stderr = &out.stderr;
            assert_eq!(out.code, 2, "{command} {key}: {stderr}");
            assert!(
                stderr.contains("stack.toml:"),
                "names the file and line: {stderr}"
            );
            assert!(
                stderr.contains(key) && stderr.contains(fragment),
                "{key}/{fragment}: {stderr}"
            );
            assert!(stderr.contains("nothing was sent to AWS"), "{stderr}");
        }
    }
    let missing = run(&account, &["up", "-c", "/nonexistent/stack.toml"])?.expect(2);
    assert!(
        missing.stderr.contains("/nonexistent/stack.toml"),
        "{}",
        missing.stderr
    );
    Ok(())
}

/// `(service, action)` of every call `endpoint-service` made as `account`
/// from the `skip`-th on, as the emulator recorded them (all callers share
/// the emulator; the account and the app name tell this run's calls apart).
async fn recorded(
    emulator: &Emulator,
    account: &Account,
    skip: usize,
) -> Result<Vec<(String, String)>> {
    let log = emulator.calls().await?;
    Ok(log["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["account"] == account.id.as_str() && c["app"] == app::ENDPOINT_SERVICE)
        .skip(skip)
        .map(|c| {
            (
                c["service"].as_str().unwrap_or_default().to_string(),
                c["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

fn kinds(plan: &Value) -> Vec<String> {
    plan["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["resource"]["kind"].as_str().map(String::from))
        .collect()
}

fn principal(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

#[tokio::test]
async fn seeding_never_changes_a_tenant_and_the_principals_follow_the_registry() -> Result<()> {
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let (a, b, c) = ("111111111111", "222222222222", "333333333333");
    let stack = StackDir::new(&stack_toml("theta", &[a, b], ""))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    run_json(&account, &["up", "-c", config]).await?.expect(0);

    // An operator suspends A and gives B a name and a quota (as `tenants`
    // does: conditional writes), and adds C, which the config never lists.
    let registry = Registry::new(account.dynamodb(), "theta-tenants");
    let ops = "arn:aws:iam::999999999999:user/ops";
    let tenant_a = registry.get(a).await?.context("A was seeded")?;
    registry
        .replace(
            &Tenant {
                status: TenantStatus::Suspended,
                notes: Some("unpaid".into()),
                ..tenant_a
            },
            ops,
        )
        .await?;
    let tenant_b = registry.get(b).await?.context("B was seeded")?;
    registry
        .replace(
            &Tenant {
                name: "Beta Corp".into(),
                max_endpoints: Some(1),
                ..tenant_b
            },
            ops,
        )
        .await?;
    registry
        .create(&Tenant::active(AccountId::parse(c)?, "Gamma"), ops)
        .await?;
    let before = registry.list().await?;

    // `up` writes no tenant (A and B are in the registry: never seeded
    // again), and the principals follow it: A out, C in.
    let plan = run_json(&account, &["plan", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(kinds(&plan), ["principals"], "{plan:#}");
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&up["calls"]["mutating_operations"]),
        ["ModifyVpcEndpointServicePermissions"]
    );
    assert_eq!(registry.list().await?, before, "up changed a tenant");
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&status["service"]["allowed_principals"]),
        [principal(b), principal(c)]
    );
    assert_eq!(status["registry"]["tenants"], 3);
    assert_eq!(status["registry"]["entitled"], 2);
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");
    run_json(&account, &["down", "-c", config, "--delete-tenants"])
        .await?
        .expect(0);
    assert_eq!(count(&account, "theta").await?, Counts::default());
    Ok(())
}

#[tokio::test]
async fn a_legacy_allowlist_moves_into_the_registry_once() -> Result<()> {
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let (a, c) = ("111111111111", "333333333333");
    let stack = StackDir::new(&stack_toml("iota", &[a], ""))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    run_json(&account, &["up", "-c", config]).await?.expect(0);

    // The approver as a version before the registry left it: the accounts
    // in APPROVER_ALLOWLIST, no APPROVER_TABLE.
    let lambda = account.lambda();
    let function = lambda
        .get_function_configuration()
        .function_name("iota-approver")
        .send()
        .await?;
    let mut env = function
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .context("environment")?;
    env.remove("APPROVER_TABLE");
    env.insert("APPROVER_ALLOWLIST".into(), format!("{a},{c}"));
    lambda
        .update_function_configuration()
        .function_name("iota-approver")
        .environment(Environment::builder().set_variables(Some(env)).build())
        .send()
        .await?;

    // C becomes a tenant first, then the approver is rewritten without the
    // variable, then the service allows C.
    let plan = run_json(&account, &["plan", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        kinds(&plan),
        ["tenants", "function_configuration", "principals"],
        "{plan:#}"
    );
    assert_eq!(strings(&plan["steps"][0]["resource"]["accounts"]), [c]);
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&up["calls"]["mutating_operations"]),
        [
            "TransactWriteItems",
            "UpdateFunctionConfiguration",
            "ModifyVpcEndpointServicePermissions"
        ]
    );
    let registry = Registry::new(account.dynamodb(), "iota-tenants");
    let moved = registry
        .get(c)
        .await?
        .context("C moved into the registry")?;
    assert_eq!(moved.status, TenantStatus::Active);
    assert_eq!(moved.updated_by.as_deref(), Some("config"));
    let env = lambda
        .get_function_configuration()
        .function_name("iota-approver")
        .send()
        .await?
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .context("environment")?;
    assert_eq!(env.get("APPROVER_ALLOWLIST"), None);
    assert_eq!(
        env.get("APPROVER_TABLE").map(String::as_str),
        Some("iota-tenants")
    );
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");

    // Once: removing C from the registry is not undone by the next `up`
    // (the variable is gone, and the config never listed C).
    registry.remove(&moved).await?;
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&up["calls"]["mutating_operations"]),
        ["ModifyVpcEndpointServicePermissions"]
    );
    assert_eq!(registry.get(c).await?, None);
    run_json(&account, &["down", "-c", config, "--delete-tenants"])
        .await?
        .expect(0);
    Ok(())
}

#[tokio::test]
async fn principals_follow_hundreds_of_tenants_in_batches_and_a_converged_up_only_reads(
) -> Result<()> {
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    // No seed: the tenants come from an import.
    let stack = StackDir::new(&stack_toml("kappa", &[], ""))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let mutating = strings(&up["calls"]["mutating_operations"]);
    assert!(
        !mutating
            .iter()
            .any(|m| m == "TransactWriteItems" || m == "ModifyVpcEndpointServicePermissions"),
        "{mutating:?}"
    );
    let registry = Registry::new(account.dynamodb(), "kappa-tenants");
    let imported: Vec<Write> = (0..250u64)
        .map(|i| {
            let id = format!("{:012}", 400_000_000_000 + i);
            Ok(Write::Create(Tenant::active(AccountId::parse(&id)?, id)))
        })
        .collect::<Result<_>>()?;
    registry.write_all(&imported, "import").await?;

    // 250 principals to add: three calls of at most 100.
    let seen = recorded(emulator, &account, 0).await?.len();
    run_json(&account, &["up", "-c", config]).await?.expect(0);
    let calls = recorded(emulator, &account, seen).await?;
    let modify = calls
        .iter()
        .filter(|(_, a)| a == "ModifyVpcEndpointServicePermissions")
        .count();
    assert_eq!(modify, 3, "{calls:?}");
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        status["service"]["allowed_principals"]
            .as_array()
            .map(Vec::len),
        Some(250)
    );

    // Converged: the registry costs four reads (the table, its tags, its
    // backups, one Scan page) and no write.
    let seen = recorded(emulator, &account, 0).await?.len();
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");
    let dynamodb: Vec<String> = recorded(emulator, &account, seen)
        .await?
        .into_iter()
        .filter(|(service, _)| service == "dynamodb")
        .map(|(_, action)| action)
        .collect();
    assert_eq!(
        dynamodb.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            &"DescribeContinuousBackups".to_string(),
            &"DescribeTable".to_string(),
            &"ListTagsOfResource".to_string(),
            &"Scan".to_string()
        ]),
        "{dynamodb:?}"
    );
    assert_eq!(dynamodb.len(), 4, "{dynamodb:?}");

    // allow_any_principal: `*` alone, the 250 removed in three calls.
    stack.rewrite(
        &stack_toml("kappa", &[], "")
            .replace("[access]\n", "[access]\nallow_any_principal = true\n"),
    )?;
    let seen = recorded(emulator, &account, 0).await?.len();
    run_json(&account, &["up", "-c", config]).await?.expect(0);
    let modify = recorded(emulator, &account, seen)
        .await?
        .into_iter()
        .filter(|(_, a)| a == "ModifyVpcEndpointServicePermissions")
        .count();
    assert_eq!(modify, 3);
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(strings(&status["service"]["allowed_principals"]), ["*"]);
    assert_eq!(status["principals"]["in_sync"], true);
    run_json(&account, &["down", "-c", config, "--delete-tenants"])
        .await?
        .expect(0);
    assert_eq!(count(&account, "kappa").await?, Counts::default());
    Ok(())
}

/// The service's `SupportedRegions` as the emulator reports them, sorted.
async fn supported_regions(account: &Account, stack: &str) -> Result<Vec<String>> {
    let out = account
        .ec2()
        .describe_vpc_endpoint_service_configurations()
        .filters(tag_filter(stack))
        .send()
        .await?;
    let service = out
        .service_configurations()
        .first()
        .context("the stack's service")?;
    let mut regions: Vec<String> = service
        .supported_regions()
        .iter()
        .filter_map(|r| r.region().map(String::from))
        .collect();
    regions.sort();
    Ok(regions)
}

#[tokio::test]
async fn supported_regions_are_added_changed_and_removed_and_a_converged_up_only_reads(
) -> Result<()> {
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let with_regions = |list: &str| {
        stack_toml("xr", &["111111111111"], "").replacen(
            "region = \"us-east-1\"",
            &format!("region = \"us-east-1\"\nsupported_regions = [{list}]"),
            1,
        )
    };
    let stack = StackDir::new(&with_regions("\"eu-west-1\", \"ap-south-1\""))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    let plan = run_json(&account, &["plan", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let planned = kinds(&plan);
    let at = planned
        .iter()
        .position(|k| k == "service")
        .context("service step")?;
    assert_eq!(planned[at + 1], "supported_regions", "{plan:#}");
    run_json(&account, &["up", "-c", config]).await?.expect(0);
    assert_eq!(
        supported_regions(&account, "xr").await?,
        ["ap-south-1", "eu-west-1", "us-east-1"]
    );
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        status["service"]["supported_regions"],
        serde_json::json!(["us-east-1", "ap-south-1", "eu-west-1"]),
        "{status:#}"
    );
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");

    // One region replaced by another: one call adds and removes.
    stack.rewrite(&with_regions("\"eu-west-1\", \"sa-east-1\""))?;
    let plan = run_json(&account, &["plan", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(kinds(&plan), ["supported_regions"], "{plan:#}");
    assert_eq!(
        plan["steps"][0]["resource"]["add"],
        serde_json::json!(["sa-east-1"])
    );
    assert_eq!(
        plan["steps"][0]["resource"]["remove"],
        serde_json::json!(["ap-south-1"])
    );
    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(
        strings(&up["calls"]["mutating_operations"]),
        ["ModifyVpcEndpointServiceConfiguration"]
    );
    assert_eq!(
        supported_regions(&account, "xr").await?,
        ["eu-west-1", "sa-east-1", "us-east-1"]
    );
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");

    // The key removed: only the stack's own region is left.
    stack.rewrite(&stack_toml("xr", &["111111111111"], ""))?;
    run_json(&account, &["up", "-c", config]).await?.expect(0);
    assert_eq!(supported_regions(&account, "xr").await?, ["us-east-1"]);
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");

    // The home region listed: refused before any call.
    stack.rewrite(&with_regions("\"us-east-1\""))?;
    let refused = run_json(&account, &["plan", "-c", config]).await?.expect(2);
    assert!(
        refused.stderr.contains("supported_regions")
            && refused.stderr.contains("own region")
            && refused.stderr.contains("nothing was sent to AWS"),
        "{}",
        refused.stderr
    );
    stack.rewrite(&stack_toml("xr", &["111111111111"], ""))?;
    run_json(&account, &["down", "-c", config]).await?.expect(0);
    Ok(())
}

/// The stack's target group of `port`: its `proxy_protocol_v2.enabled`
/// attribute, its (target, port) pairs and its health check
/// (protocol, port, path), read with plain SDK calls.
async fn target_group_of(
    account: &Account,
    stack: &str,
    port: u16,
) -> Result<(String, BTreeSet<(String, i32)>, (String, String, String))> {
    let elb = account.elbv2();
    let groups = elb
        .describe_target_groups()
        .names(format!("{stack}-tg-{port}"))
        .send()
        .await?;
    let group = groups
        .target_groups()
        .first()
        .context("the stack's target group")?;
    let arn = group.target_group_arn().context("target group ARN")?;
    let attributes = elb
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await?;
    let proxy = attributes
        .attributes()
        .iter()
        .find(|a| a.key() == Some("proxy_protocol_v2.enabled"))
        .and_then(|a| a.value())
        .unwrap_or("absent")
        .to_string();
    let health = elb
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await?;
    let targets = health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| d.target())
        .map(|t| {
            (
                t.id().unwrap_or_default().to_string(),
                t.port().unwrap_or(0),
            )
        })
        .collect();
    let check = (
        group
            .health_check_protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        group.health_check_port().unwrap_or_default().to_string(),
        group.health_check_path().unwrap_or_default().to_string(),
    );
    Ok((proxy, targets, check))
}

#[tokio::test]
async fn a_gateway_section_turns_proxy_protocol_on_targets_the_gateway_and_off_again() -> Result<()>
{
    let emulator = Emulator::shared();
    let account = Account::fresh(emulator).await?;
    let direct = stack_toml("gw", &["111111111111"], "");
    let behind_gateway = direct.replacen(
        "target_port = 8443\ntargets = [\"10.40.0.10\", \"10.40.16.10\"]\n",
        "",
        1,
    ) + "\n[gateway]\ntargets = [\"10.40.0.20\", \"10.40.16.20\"]\nport = 9443\nhealth_port = 9081\n";
    assert!(!behind_gateway.contains("target_port"), "{behind_gateway}");
    let stack = StackDir::new(&behind_gateway)?;
    let config = stack.config().to_str().context("utf-8 path")?;

    let up = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert!(
        strings(&up["calls"]["mutating_operations"])
            .contains(&"ModifyTargetGroupAttributes".to_string()),
        "{up:#}"
    );
    let (proxy, targets, check) = target_group_of(&account, "gw", 443).await?;
    assert_eq!(proxy, "true");
    assert_eq!(
        targets,
        BTreeSet::from([
            ("10.40.0.20".to_string(), 9443),
            ("10.40.16.20".to_string(), 9443)
        ])
    );
    assert_eq!(check, ("HTTP".into(), "9081".into(), "/".into()));
    let status = run_json(&account, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let rows = status["targets"].as_array().context("status targets")?;
    assert_eq!(rows.len(), 2, "{status:#}");
    assert!(
        rows.iter().all(|t| t["proxy_protocol_v2"] == true),
        "{status:#}"
    );
    let human = run(&account, &["status", "-c", config])?.expect(0);
    // The targets table: a `proxy v2` column, `on` for the gateway's hosts.
    assert!(human.stdout.contains("proxy v2"), "{}", human.stdout);
    let row = human
        .stdout
        .lines()
        .find(|l| l.contains("10.40.0.20"))
        .with_context(|| format!("no target row in\n{}", human.stdout))?;
    assert_eq!(
        row.split_whitespace().take(4).collect::<Vec<_>>(),
        ["443", "10.40.0.20", "9443", "on"],
        "{row}"
    );

    // Converged: the attribute is read back, nothing is changed.
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");

    // The gateway's role policy: the connections and this stack's registry.
    let policies = run_json(
        &account,
        &["iam-policy", "-c", config, "--account", &account.id],
    )
    .await?
    .expect(0)
    .json()?;
    let gateway_policy = &policies["gateway_role_policy"]["Statement"];
    assert_eq!(
        gateway_policy[0]["Action"], "ec2:DescribeVpcEndpointConnections",
        "{policies:#}"
    );
    assert_eq!(
        gateway_policy[1]["Resource"],
        format!("arn:aws:dynamodb:us-east-1:{}:table/gw-tenants", account.id)
    );

    // The gateway removed: the attribute goes back off and the app is the
    // target again, with the default TCP check.
    stack.rewrite(&direct)?;
    let plan = run_json(&account, &["plan", "-c", config])
        .await?
        .expect(0)
        .json()?;
    let proxy_step = plan["steps"]
        .as_array()
        .context("plan steps")?
        .iter()
        .find(|s| s["resource"]["kind"] == "proxy_protocol_v2")
        .with_context(|| format!("no proxy_protocol_v2 step in {plan:#}"))?;
    assert_eq!(proxy_step["resource"]["enabled"], false);
    run_json(&account, &["up", "-c", config]).await?.expect(0);
    let (proxy, targets, check) = target_group_of(&account, "gw", 443).await?;
    assert_eq!(proxy, "false");
    assert_eq!(
        targets,
        BTreeSet::from([
            ("10.40.0.10".to_string(), 8443),
            ("10.40.16.10".to_string(), 8443)
        ])
    );
    assert_eq!(check.0, "TCP");
    let again = run_json(&account, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(again["calls"]["mutating"], 0, "{again:#}");
    run_json(&account, &["down", "-c", config, "--delete-tenants"])
        .await?
        .expect(0);
    Ok(())
}
