//! One stack in several regions (`regions = [...]`), with the real
//! `endpoint-service` binary against the emulator: a vendor in us-east-1
//! (home) and eu-west-1 whose home service also supports us-west-2.
//!
//! - `up` builds both regions at once and reports each; only the home
//!   region has the tenant registry, and eu-west-1's approver reads it there
//!   (`APPROVER_TABLE_REGION`); the approver roles of the two regions have
//!   their own names (IAM is global); a converged re-run makes no mutating
//!   call in either region.
//! - One customer connects in eu-west-1 to that region's stack, another from
//!   us-west-2 cross-region to the home stack; each region's `sweep` accepts
//!   its own, deciding from the one registry.
//! - A partial failure: a name taken in eu-west-1 fails that region only;
//!   the report names it, the home region still converges, and a re-run
//!   after the name is freed converges the rest.
//! - `down` in both regions leaves nothing in any region, the registry
//!   included with `--delete-tenants`.

use anyhow::{Context, Result};
use privatelink_core::state::EndpointState;
use privatelink_tests::demo::leftovers;
use privatelink_tests::fixtures::{
    create_endpoint_in, vpc_with_subnets, wait_for_endpoint_state, zones,
};
use privatelink_tests::provider_cli::{run_json, StackDir};
use privatelink_tests::{Account, Emulator};
use serde_json::Value;

const HOME: &str = "us-east-1";
const SECOND: &str = "eu-west-1";
const REMOTE: &str = "us-west-2";

fn config(name: &str, allowlist: &[&str]) -> String {
    let ids: Vec<String> = allowlist.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"name = "{name}"
regions = ["{HOME}", "{SECOND}"]
supported_regions = ["{REMOTE}"]

[network]
vpc_cidr = "10.40.0.0/16"

[service]
ports = [443]
targets = ["10.40.0.10"]

[access]
allowlist = [{}]

[approver]
package = "bootstrap.zip"
"#,
        ids.join(", ")
    )
}

/// The outcome of `region` in a multi-region report.
fn region<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["regions"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["region"] == name))
        .unwrap_or_else(|| panic!("no {name} in {report:#}"))
}

fn mutating(report: &Value, name: &str) -> u64 {
    region(report, name)["report"]["calls"]["mutating"]
        .as_u64()
        .unwrap_or_else(|| panic!("no calls for {name}: {report:#}"))
}

/// A customer's VPC in its account's region, two AZs.
async fn customer_vpc(customer: &Account) -> Result<(String, Vec<String>)> {
    let zones = zones(customer).await?;
    vpc_with_subnets(customer, "customer", &[&zones[0].id, &zones[1].id]).await
}

/// The customer's interface endpoint to `service_name`, in a VPC of its
/// own in its region; `service_region` for a cross-region endpoint.
async fn endpoint(
    customer: &Account,
    service_name: &str,
    service_region: Option<&str>,
) -> Result<String> {
    let (vpc_id, subnets) = customer_vpc(customer).await?;
    create_endpoint_in(customer, service_name, &vpc_id, &subnets, service_region).await
}

async fn function_environment(vendor: &Account, name: &str) -> Result<Value> {
    let lambda = aws_sdk_lambda::Client::new(&vendor.config);
    let out = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .with_context(|| format!("GetFunctionConfiguration {name} in {}", vendor.region()))?;
    let vars = out
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    Ok(serde_json::to_value(vars)?)
}

async fn tables(vendor: &Account) -> Result<Vec<String>> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&vendor.config);
    Ok(dynamodb.list_tables().send().await?.table_names().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_in_two_regions_serves_local_and_cross_region_customers_and_leaves_nothing(
) -> Result<()> {
    let emulator = Emulator::shared();
    let vendor = Account::fresh(emulator).await?;
    let local = Account::fresh(emulator).await?.in_region(SECOND);
    let remote = Account::fresh(emulator).await?.in_region(REMOTE);
    let stack = StackDir::new(&config("multi", &[&local.id, &remote.id]))?;
    let config = stack.config().to_str().context("utf-8 path")?;

    // A name taken in eu-west-1 by something the stack does not own: that
    // region fails, the home region converges, the report says which.
    let squatter = vendor.in_region(SECOND).sns();
    let taken = squatter
        .create_topic()
        .name("multi-connections")
        .send()
        .await?;
    let failed = run_json(&vendor, &["up", "-c", config]).await?;
    assert_eq!(failed.code, 4, "a refusal in one region: {failed:#?}");
    let report = failed.json()?;
    assert_eq!(report["succeeded"], serde_json::json!([HOME]), "{report:#}");
    assert_eq!(report["failed"], serde_json::json!([SECOND]), "{report:#}");
    let why = region(&report, SECOND)["error"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("multi-connections"), "{why}");
    assert!(
        failed
            .stderr
            .contains("failed in 1 of 2 regions (eu-west-1)"),
        "{}",
        failed.stderr
    );
    squatter
        .delete_topic()
        .topic_arn(taken.topic_arn().context("topic arn")?)
        .send()
        .await?;

    // The re-run converges the rest: the home region changes nothing.
    let up = run_json(&vendor, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(mutating(&up, HOME), 0, "home was converged: {up:#}");
    assert!(mutating(&up, SECOND) > 0, "{up:#}");
    assert_eq!(region(&up, SECOND)["registry_region"], HOME, "{up:#}");
    let service = |name: &str| -> Result<String> {
        region(&up, name)["report"]["service_name"]
            .as_str()
            .map(str::to_string)
            .context("service name")
    };
    let (home_service, second_service) = (service(HOME)?, service(SECOND)?);
    assert!(home_service.contains(HOME) && second_service.contains(SECOND));

    // One registry, in the home region; eu-west-1's approver reads it there
    // and has its own role (IAM names are global).
    assert_eq!(tables(&vendor).await?, ["multi-tenants"]);
    assert!(tables(&vendor.in_region(SECOND)).await?.is_empty());
    let env = function_environment(&vendor.in_region(SECOND), "multi-approver").await?;
    assert_eq!(env["APPROVER_TABLE"], "multi-tenants", "{env:#}");
    assert_eq!(env["APPROVER_TABLE_REGION"], HOME, "{env:#}");
    let home_env = function_environment(&vendor, "multi-approver").await?;
    assert!(
        home_env.get("APPROVER_TABLE_REGION").is_none(),
        "{home_env:#}"
    );
    let iam = vendor.iam();
    for role in ["multi-approver", "multi-approver-eu-west-1"] {
        let found = iam.get_role().role_name(role).send().await?;
        let boundary = found
            .role()
            .and_then(|r| r.permissions_boundary())
            .and_then(|b| b.permissions_boundary_arn())
            .unwrap_or_default()
            .to_string();
        assert!(
            boundary.ends_with(&format!(
                "multi-approver-boundary{}",
                role.strip_prefix("multi-approver").unwrap_or_default()
            )),
            "{role}: {boundary}"
        );
    }

    // Converged in both: no mutating call anywhere.
    let again = run_json(&vendor, &["up", "-c", config])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(mutating(&again, HOME), 0, "{again:#}");
    assert_eq!(mutating(&again, SECOND), 0, "{again:#}");

    // A customer in eu-west-1 connects to that region's stack; another in
    // us-west-2 to the home stack, cross-region. Each region's sweep decides
    // from the one registry (eu-west-1's reads it in us-east-1).
    let local_endpoint = endpoint(&local, &second_service, None).await?;
    let remote_endpoint = endpoint(&remote, &home_service, Some(HOME)).await?;
    for (name, account) in [(SECOND, &local), (HOME, &remote)] {
        let swept = run_json(&vendor, &["sweep", "--stack", "multi", "--region", name])
            .await?
            .expect(0)
            .json()?;
        let decisions = swept.to_string();
        assert!(decisions.contains(&account.id), "{name}: {swept:#}");
    }
    wait_for_endpoint_state(&local, &local_endpoint, EndpointState::Available).await?;
    wait_for_endpoint_state(&remote, &remote_endpoint, EndpointState::Available).await?;

    // status: both regions, each with its one connection.
    let status = run_json(&vendor, &["status", "-c", config])
        .await?
        .expect(0)
        .json()?;
    for (name, owner) in [(SECOND, &local.id), (HOME, &remote.id)] {
        let text = region(&status, name)["report"].to_string();
        assert!(text.contains(owner.as_str()), "{name}: {text}");
    }

    // Customers leave; down in both regions leaves nothing anywhere.
    for (account, id) in [(&local, &local_endpoint), (&remote, &remote_endpoint)] {
        account
            .ec2()
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await?;
    }
    let down = run_json(&vendor, &["down", "-c", config, "--delete-tenants"])
        .await?
        .expect(0)
        .json()?;
    assert_eq!(down["failed"], serde_json::json!([]), "{down:#}");
    let left = leftovers(&[
        &vendor,
        &vendor.in_region(SECOND),
        &vendor.in_region(REMOTE),
    ])
    .await?;
    assert!(left.is_empty(), "left behind: {left:#?}");
    let policies = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await?;
    assert!(policies.policies().is_empty(), "{:?}", policies.policies());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_acts_on_one_region_and_delete_tenants_needs_them_all() -> Result<()> {
    let vendor = Account::fresh(Emulator::shared()).await?;
    let stack = StackDir::new(&config("solo", &["111111111111"]))?;
    let config = stack.config().to_str().context("utf-8 path")?;
    let plan = run_json(&vendor, &["plan", "-c", config, "--region", SECOND])
        .await?
        .expect(0)
        .json()?;
    let regions: Vec<&str> = plan["regions"]
        .as_array()
        .context("regions")?
        .iter()
        .filter_map(|r| r["region"].as_str())
        .collect();
    assert_eq!(regions, [SECOND]);
    let steps = region(&plan, SECOND)["report"]["steps"].to_string();
    assert!(
        !steps.contains("tenants_table"),
        "no registry outside home: {steps}"
    );

    let refused = run_json(&vendor, &["plan", "-c", config, "--region", "sa-east-1"])
        .await?
        .expect(2);
    assert!(
        refused.stderr.contains("not one of the stack's regions"),
        "{}",
        refused.stderr
    );
    let refused = run_json(
        &vendor,
        &["down", "-c", config, "--region", HOME, "--delete-tenants"],
    )
    .await?
    .expect(2);
    assert!(
        refused.stderr.contains("all its regions at once"),
        "{}",
        refused.stderr
    );
    Ok(())
}
