//! The operator commands of the real `endpoint-service` binary against the
//! local emulator: connections, manual accept/reject (including a partial
//! batch), allow/disallow in both places, the drift warning, revocation,
//! the local sweep, and the decision history on the connection's tags.
//!
//! Each test builds a provider stack with the SDK ([`Provider::create`]),
//! tags its service with the stack tag and adds the approver function and
//! role under their deterministic names, so the commands find them exactly
//! as they find a stack made by `endpoint-service up`.
//!
//! Needs the binary: `cargo test --workspace --no-run` (or tests/run.sh) builds it.

use std::collections::HashMap;

use anyhow::{Context, Result};
use aws_sdk_ec2::types::Tag;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerTypeEnum};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use privatelink_core::naming::{StackName, STACK_TAG};
use privatelink_core::state::EndpointState;
use privatelink_tests::bins::{command, Run};
use privatelink_tests::fixtures::{create_endpoint, endpoint_state, vpc_with_subnets, Provider};
use privatelink_tests::provider_cli::EMPTY_ZIP;
use privatelink_tests::{Account, Emulator, Fault};
use serde_json::Value;

const STACK: &str = "ops";

/// A provider stack the operator commands can find, and its consumers.
struct World {
    provider: Provider,
    /// On the approver's allowlist and an allowed principal.
    listed: Account,
    /// An allowed principal only (the approver does not accept it).
    outsider: Account,
    stack: StackName,
}

impl World {
    /// `env` adds to (or replaces) the approver's environment.
    async fn new(env: &[(&str, &str)]) -> Result<World> {
        let emulator = Emulator::shared();
        let (provider_account, listed, outsider) = tokio::try_join!(
            Account::fresh(emulator),
            Account::fresh(emulator),
            Account::fresh(emulator)
        )?;
        let provider = Provider::create(&provider_account, &[&listed.id, &outsider.id]).await?;
        let stack = StackName::parse(STACK)?;
        provider_account
            .ec2()
            .create_tags()
            .resources(&provider.service_id)
            .tags(Tag::builder().key(STACK_TAG).value(STACK).build())
            .send()
            .await
            .context("tagging the service with the stack")?;
        let mut vars: HashMap<String, String> = [
            ("APPROVER_SERVICE_ID", provider.service_id.as_str()),
            ("APPROVER_ALLOWLIST", listed.id.as_str()),
            ("APPROVER_NON_ALLOWLISTED_POLICY", "leave-pending"),
            ("RUST_LOG", "info"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        approver_function(&provider_account, &stack, vars).await?;
        Ok(World {
            provider,
            listed,
            outsider,
            stack,
        })
    }

    /// Runs `endpoint-service ARGS --stack ops` as the provider.
    fn run(&self, args: &[&str]) -> Result<Run> {
        let mut command = command("endpoint-service", Some(&self.provider.account))?;
        command.args(args).args(["--stack", self.stack.as_str()]);
        // Never a terminal here: confirmations must be refused, not asked.
        Run::capture(command.stdin(std::process::Stdio::null()))
    }

    /// Like [`World::run`] with `--output json`, expecting exit code `code`.
    fn json(&self, args: &[&str], code: i32) -> Result<Value> {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        self.run(&all)?.expect(code).json()
    }

    /// A consumer's endpoint to this service, pendingAcceptance.
    async fn connect(&self, consumer: &Account, service_name: &str) -> Result<String> {
        let zone = self.provider.zones[0].id.clone();
        let (vpc, subnets) = vpc_with_subnets(consumer, "consumer", &[&zone]).await?;
        create_endpoint(consumer, service_name, &vpc, &subnets).await
    }

    async fn principals(&self) -> Result<Vec<String>> {
        let out = self
            .provider
            .account
            .ec2()
            .describe_vpc_endpoint_service_permissions()
            .service_id(&self.provider.service_id)
            .send()
            .await?;
        Ok(out
            .allowed_principals()
            .iter()
            .filter_map(|p| p.principal().map(str::to_string))
            .collect())
    }

    async fn approver_env(&self) -> Result<HashMap<String, String>> {
        let out = self
            .provider
            .account
            .lambda()
            .get_function_configuration()
            .function_name(self.stack.function())
            .send()
            .await?;
        Ok(out
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default())
    }
}

/// The approver's role and function under the stack's names, tagged with
/// the stack, as `endpoint-service up` makes them.
async fn approver_function(
    account: &Account,
    stack: &StackName,
    env: HashMap<String, String>,
) -> Result<()> {
    let iam = account.iam();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]
    });
    let role = iam
        .create_role()
        .role_name(stack.role())
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .context("CreateRole")?;
    let role_arn = role.role().map(|r| r.arn()).context("no role ARN")?;
    account
        .lambda()
        .create_function()
        .function_name(stack.function())
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role_arn)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(EMPTY_ZIP))
                .build(),
        )
        .environment(Environment::builder().set_variables(Some(env)).build())
        .tags(STACK_TAG, stack.as_str())
        .send()
        .await
        .context("CreateFunction")?;
    Ok(())
}

/// The JSON row of one endpoint in `connections`/`history` output.
fn row<'a>(view: &'a Value, endpoint_id: &str) -> Result<&'a Value> {
    view["connections"]
        .as_array()
        .context("no connections array")?
        .iter()
        .find(|r| r["endpoint_id"] == endpoint_id)
        .with_context(|| format!("{endpoint_id} not listed in {view}"))
}

#[tokio::test]
async fn connections_filter_by_state_and_warn_about_drift() -> Result<()> {
    let world = World::new(&[]).await?;
    let name = world.provider.service_name.clone();
    let ours = world.connect(&world.listed, &name).await?;
    let theirs = world.connect(&world.outsider, &name).await?;

    let view = world.json(&["connections"], 0)?;
    assert_eq!(view["service_id"], world.provider.service_id.as_str());
    assert_eq!(
        view["connections"].as_array().map(Vec::len),
        Some(2),
        "{view}"
    );
    let mine = row(&view, &ours)?;
    assert_eq!(mine["owner"], world.listed.id.as_str());
    assert_eq!(mine["state"], "pendingAcceptance");
    assert_eq!(mine["in_approver_allowlist"], true);
    assert_eq!(mine["in_allowed_principals"], true);
    assert!(mine["age_seconds"].as_u64().is_some(), "{mine}");
    assert!(mine["connection_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("vpce-con-")));
    let other = row(&view, &theirs)?;
    assert_eq!(other["in_approver_allowlist"], false);
    assert_eq!(other["in_allowed_principals"], true);
    // The outsider may connect but is not accepted: drift.
    assert_eq!(view["drift"]["in_sync"], false);
    assert_eq!(
        view["drift"]["only_in_principals"],
        serde_json::json!([world.outsider.id])
    );

    let none = world.json(&["connections", "--state", "available"], 0)?;
    assert_eq!(none["connections"], serde_json::json!([]));
    let pending = world.json(&["connections", "--state", "pending-acceptance"], 0)?;
    assert_eq!(pending["connections"].as_array().map(Vec::len), Some(2));

    let human = world.run(&["connections"])?.expect(0);
    let text = &human.stdout;
    assert!(text.contains("ALLOWLISTED"), "{text}");
    assert!(text.contains("principals only"), "{text}");
    assert!(text.contains("warning: allowlist drift"), "{text}");
    assert!(text.contains(&world.outsider.id), "{text}");

    let drift = world.run(&["drift"])?.expect(0);
    assert!(
        drift
            .stdout
            .contains("may connect but are not accepted by the approver"),
        "{}",
        drift.stdout
    );

    let bad = world
        .run(&["connections", "--state", "accepted"])?
        .expect(2);
    assert!(
        bad.stderr.contains("is not a connection state"),
        "{}",
        bad.stderr
    );
    Ok(())
}

#[tokio::test]
async fn accepting_a_non_allowlisted_owner_needs_yes_and_is_recorded() -> Result<()> {
    let world = World::new(&[]).await?;
    let theirs = world
        .connect(&world.outsider, &world.provider.service_name.clone())
        .await?;

    let refused = world.run(&["accept", &theirs])?.expect(4);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&world.outsider.id),
        "{}",
        refused.stderr
    );
    assert_eq!(
        endpoint_state(&world.outsider, &theirs).await?,
        EndpointState::PendingAcceptance
    );

    let done = world.json(&["accept", &theirs, "--yes"], 0)?;
    let record = &done["records"][0];
    assert_eq!(record["endpoint_id"], theirs.as_str());
    assert_eq!(record["decision"], "accept");
    assert_eq!(record["reason"], "manual_override");
    assert_eq!(record["trigger"], "manual");
    assert_eq!(record["outcome"]["status"], "applied");
    let operator = record["operator"]
        .as_str()
        .context("no operator")?
        .to_string();
    assert!(operator.contains(&world.provider.account.id), "{operator}");
    assert!(matches!(
        endpoint_state(&world.outsider, &theirs).await?,
        EndpointState::Pending | EndpointState::Available
    ));

    let history = world.json(&["history", &theirs], 0)?;
    let last = &row(&history, &theirs)?["last_decision"];
    assert_eq!(last["decision"], "accept");
    assert_eq!(last["reason"], "manual_override");
    assert_eq!(last["trigger"], "manual");
    assert_eq!(last["by"], operator.as_str());
    assert!(
        last["at"].as_str().is_some_and(|a| a.ends_with('Z')),
        "{last}"
    );

    // Accepting again converges: nothing to do, exit 0.
    let again = world.run(&["accept", &theirs, "--yes"])?.expect(0);
    assert!(
        again.stdout.contains("already accepted"),
        "{}",
        again.stdout
    );
    Ok(())
}

/// A second endpoint service in the provider's account, with the listed
/// consumer connected to it; returns that endpoint and the service id.
async fn other_service_endpoint(world: &World) -> Result<(String, String)> {
    let account = &world.provider.account;
    let zones: Vec<&str> = world.provider.zones.iter().map(|z| z.id.as_str()).collect();
    let (_, subnets) = vpc_with_subnets(account, "second", &zones).await?;
    let lb = account
        .elbv2()
        .create_load_balancer()
        .name("privatelink-tests-second")
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets))
        .send()
        .await
        .context("CreateLoadBalancer")?;
    let lb_arn = lb
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .context("no load balancer")?;
    let service = account
        .ec2()
        .create_vpc_endpoint_service_configuration()
        .acceptance_required(true)
        .network_load_balancer_arns(lb_arn)
        .send()
        .await
        .context("CreateVpcEndpointServiceConfiguration")?;
    let config = service.service_configuration().context("no service")?;
    let service_id = config.service_id().context("no id")?.to_string();
    let service_name = config.service_name().context("no name")?.to_string();
    account
        .ec2()
        .modify_vpc_endpoint_service_permissions()
        .service_id(&service_id)
        .add_allowed_principals(format!("arn:aws:iam::{}:root", world.listed.id))
        .send()
        .await?;
    let endpoint = world.connect(&world.listed, &service_name).await?;
    Ok((endpoint, service_id))
}

#[tokio::test]
async fn a_partial_batch_reports_each_id_and_does_the_rest() -> Result<()> {
    let world = World::new(&[]).await?;
    let ours = world
        .connect(&world.listed, &world.provider.service_name.clone())
        .await?;
    let (elsewhere, other_service) = other_service_endpoint(&world).await?;
    let unknown = "vpce-0123456789abcdef0";

    let out = world
        .run(&["reject", &ours, unknown, &elsewhere, "not-an-id"])?
        .expect(3);
    let text = &out.stdout;
    assert!(text.contains(&format!("{ours}: rejected")), "{text}");
    assert!(
        text.contains(&format!("{unknown}: no connection")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{elsewhere}: connects to endpoint service {other_service}"
        )),
        "{text}"
    );
    assert!(
        text.contains("\"not-an-id\" is not a VPC endpoint id"),
        "{text}"
    );
    assert!(
        out.stderr.contains("3 of the requested endpoint(s) failed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        endpoint_state(&world.listed, &ours).await?,
        EndpointState::Rejected
    );
    assert_eq!(
        endpoint_state(&world.listed, &elsewhere).await?,
        EndpointState::PendingAcceptance
    );

    // A rejected connection cannot be accepted: a per-id message, exit 3.
    let out = world.run(&["accept", &ours, "--yes"])?.expect(3);
    assert!(
        out.stdout
            .contains(&format!("{ours}: is rejected and cannot be changed")),
        "{}",
        out.stdout
    );

    let history = world.json(&["history"], 0)?;
    let last = &row(&history, &ours)?["last_decision"];
    assert_eq!(last["decision"], "reject");
    assert_eq!(last["trigger"], "manual");
    Ok(())
}

#[tokio::test]
async fn allow_and_disallow_change_both_places_and_rerun_cleanly() -> Result<()> {
    let world = World::new(&[]).await?;
    let newcomer = privatelink_tests::accounts::fresh_account_id();
    let principal = format!("arn:aws:iam::{newcomer}:root");

    let allowed = world.json(&["allow", &newcomer], 0)?;
    assert_eq!(allowed["approver_changed"], true);
    assert_eq!(allowed["principals_changed"], serde_json::json!([newcomer]));
    let env = world.approver_env().await?;
    let list = env.get("APPROVER_ALLOWLIST").context("no allowlist")?;
    assert!(
        list.contains(&newcomer) && list.contains(&world.listed.id),
        "{list}"
    );
    // Every other variable is kept.
    assert_eq!(
        env.get("APPROVER_NON_ALLOWLISTED_POLICY")
            .map(String::as_str),
        Some("leave-pending")
    );
    assert_eq!(
        env.get("APPROVER_SERVICE_ID"),
        Some(&world.provider.service_id)
    );
    assert!(world.principals().await?.contains(&principal));

    // Re-running changes nothing.
    let again = world.json(&["allow", &newcomer], 0)?;
    assert_eq!(again["approver_changed"], false);
    assert_eq!(again["principals_changed"], serde_json::json!([]));

    // Bring the outsider in too: then both places agree.
    let synced = world.json(&["allow", &world.outsider.id.clone()], 0)?;
    assert_eq!(synced["drift"]["in_sync"], true, "{synced}");

    let removed = world.run(&["disallow", &newcomer])?.expect(0);
    assert!(removed.stdout.contains("disallowed"), "{}", removed.stdout);
    let env = world.approver_env().await?;
    assert!(!env["APPROVER_ALLOWLIST"].contains(&newcomer));
    assert!(!world.principals().await?.contains(&principal));

    let bad = world.run(&["allow", "1234-5678-9012"])?.expect(2);
    assert!(
        bad.stderr.contains("without separators: 123456789012"),
        "{}",
        bad.stderr
    );

    // The approver's allowlist can never be emptied.
    let last = world
        .run(&[
            "disallow",
            &world.listed.id.clone(),
            &world.outsider.id.clone(),
        ])?
        .expect(4);
    assert!(last.stderr.contains("empty"), "{}", last.stderr);
    assert!(world.approver_env().await?["APPROVER_ALLOWLIST"].contains(&world.listed.id));
    Ok(())
}

/// Issue 16's data-loss bug: one invalid entry in the approver's allowlist
/// made `allow` read it as empty and rewrite it with only the new account.
#[tokio::test]
async fn allow_refuses_to_rewrite_an_invalid_allowlist_and_changes_nothing() -> Result<()> {
    let kept = privatelink_tests::accounts::fresh_account_id();
    let broken = format!("{kept},12345");
    let world = World::new(&[("APPROVER_ALLOWLIST", &broken)]).await?;
    let newcomer = privatelink_tests::accounts::fresh_account_id();
    let principals_before = world.principals().await?;

    for args in [
        ["allow", newcomer.as_str()],
        ["disallow", world.outsider.id.as_str()],
    ] {
        let refused = world.run(&args)?.expect(4);
        let text = &refused.stderr;
        assert!(text.contains("APPROVER_ALLOWLIST is invalid"), "{text}");
        assert!(text.contains("12345"), "{text}");
        assert!(text.contains("nothing was changed"), "{text}");
    }
    // Neither place was touched: every customer on the list is still there.
    let env = world.approver_env().await?;
    assert_eq!(env["APPROVER_ALLOWLIST"], broken);
    assert_eq!(world.principals().await?, principals_before);
    Ok(())
}

#[tokio::test]
async fn disallow_with_revocation_rejects_live_connections_after_yes() -> Result<()> {
    let world = World::new(&[("APPROVER_REVOKE", "true")]).await?;
    let name = world.provider.service_name.clone();
    let ours = world.connect(&world.listed, &name).await?;
    world
        .provider
        .account
        .ec2()
        .accept_vpc_endpoint_connections()
        .service_id(&world.provider.service_id)
        .vpc_endpoint_ids(&ours)
        .send()
        .await?;
    // Keep one account on the approver's list.
    world.json(&["allow", &world.outsider.id.clone()], 0)?;

    let refused = world
        .run(&["disallow", &world.listed.id.clone()])?
        .expect(4);
    assert!(refused.stderr.contains(&ours), "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    // Asked before any change: both places still list the account.
    assert!(world.approver_env().await?["APPROVER_ALLOWLIST"].contains(&world.listed.id));
    assert!(world
        .principals()
        .await?
        .contains(&format!("arn:aws:iam::{}:root", world.listed.id)));

    let done = world.json(&["disallow", &world.listed.id.clone(), "--yes"], 0)?;
    assert_eq!(done["revoke"], true);
    let record = &done["revoked"]["records"][0];
    assert_eq!(record["endpoint_id"], ours.as_str());
    assert_eq!(record["reason"], "revoked");
    assert_eq!(record["outcome"]["status"], "applied");
    assert_eq!(
        endpoint_state(&world.listed, &ours).await?,
        EndpointState::Rejected
    );
    assert!(!world.approver_env().await?["APPROVER_ALLOWLIST"].contains(&world.listed.id));

    let history = world.json(&["history", &ours], 0)?;
    assert_eq!(row(&history, &ours)?["last_decision"]["reason"], "revoked");
    Ok(())
}

#[tokio::test]
async fn sweep_dry_run_changes_nothing_and_sweep_decides() -> Result<()> {
    let world = World::new(&[("APPROVER_NON_ALLOWLISTED_POLICY", "reject")]).await?;
    let name = world.provider.service_name.clone();
    let ours = world.connect(&world.listed, &name).await?;
    let theirs = world.connect(&world.outsider, &name).await?;

    let dry = world.json(&["sweep", "--dry-run"], 0)?;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["accept_calls"], 0);
    assert_eq!(dry["reject_calls"], 0);
    let decisions: HashMap<String, (String, String)> = dry["records"]
        .as_array()
        .context("no records")?
        .iter()
        .map(|r| {
            (
                r["endpoint_id"].as_str().unwrap_or_default().to_string(),
                (
                    r["decision"].as_str().unwrap_or_default().to_string(),
                    r["outcome"]["status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(
        decisions[&ours],
        ("accept".into(), "skipped_dry_run".into())
    );
    assert_eq!(
        decisions[&theirs],
        ("reject".into(), "skipped_dry_run".into())
    );
    assert_eq!(
        endpoint_state(&world.listed, &ours).await?,
        EndpointState::PendingAcceptance
    );
    assert_eq!(
        endpoint_state(&world.outsider, &theirs).await?,
        EndpointState::PendingAcceptance
    );
    let untouched = world.json(&["history"], 0)?;
    assert_eq!(row(&untouched, &ours)?["last_decision"], Value::Null);

    let human = world.run(&["sweep"])?.expect(0);
    let text = &human.stdout;
    assert!(
        text.contains(&format!("{ours} owner {}", world.listed.id)),
        "{text}"
    );
    assert!(text.contains("allowlisted_request"), "{text}");
    assert_ne!(
        endpoint_state(&world.listed, &ours).await?,
        EndpointState::PendingAcceptance
    );
    assert_eq!(
        endpoint_state(&world.outsider, &theirs).await?,
        EndpointState::Rejected
    );

    let history = world.json(&["history"], 0)?;
    let last = &row(&history, &ours)?["last_decision"];
    assert_eq!(last["decision"], "accept");
    assert_eq!(last["reason"], "allowlisted_request");
    assert_eq!(
        row(&history, &theirs)?["last_decision"]["reason"],
        "not_allowlisted_reject_policy"
    );
    Ok(())
}

#[tokio::test]
async fn an_interrupted_allow_or_disallow_leaves_only_harmless_drift_and_a_rerun_finishes(
) -> Result<()> {
    let world = World::new(&[]).await?;
    let emulator = Emulator::shared();
    let provider = world.provider.account.id.clone();
    let newcomer = privatelink_tests::accounts::fresh_account_id();
    let principal = format!("arn:aws:iam::{newcomer}:root");

    // `allow` updates the approver first; the principals step fails (both
    // attempts the binary makes).
    emulator
        .inject_fault(
            "ModifyVpcEndpointServicePermissions",
            2,
            Fault::ServerError,
            &provider,
        )
        .await?;
    let failed = world.run(&["allow", &newcomer])?.expect(1);
    assert!(
        failed
            .stderr
            .contains("ModifyVpcEndpointServicePermissions"),
        "{}",
        failed.stderr
    );
    assert!(world.approver_env().await?["APPROVER_ALLOWLIST"].contains(&newcomer));
    assert!(!world.principals().await?.contains(&principal));
    // The account cannot request anything yet: the only drift is the harmless kind.
    let drift = world.json(&["drift"], 0)?;
    assert_eq!(drift["only_in_approver"], serde_json::json!([newcomer]));
    assert_eq!(
        drift["only_in_principals"],
        serde_json::json!([world.outsider.id])
    );
    let rerun = world.json(&["allow", &newcomer], 0)?;
    assert_eq!(rerun["approver_changed"], false);
    assert_eq!(rerun["principals_changed"], serde_json::json!([newcomer]));
    assert_eq!(rerun["drift"]["only_in_approver"], serde_json::json!([]));

    // `disallow` removes the principal first; the approver step fails.
    emulator
        .inject_fault(
            "UpdateFunctionConfiguration",
            2,
            Fault::ServerError,
            &provider,
        )
        .await?;
    world.run(&["disallow", &newcomer])?.expect(1);
    assert!(!world.principals().await?.contains(&principal));
    assert!(world.approver_env().await?["APPROVER_ALLOWLIST"].contains(&newcomer));
    let drift = world.json(&["drift"], 0)?;
    assert_eq!(drift["only_in_approver"], serde_json::json!([newcomer]));
    let rerun = world.json(&["disallow", &newcomer], 0)?;
    assert_eq!(rerun["allowlist"]["approver_changed"], true);
    assert_eq!(
        rerun["allowlist"]["principals_changed"],
        serde_json::json!([])
    );
    assert!(!world.approver_env().await?["APPROVER_ALLOWLIST"].contains(&newcomer));
    Ok(())
}
