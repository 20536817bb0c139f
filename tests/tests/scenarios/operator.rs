//! The operator commands of the real `endpoint-service` binary against the
//! local emulator: connections with each owner's tenant standing, manual
//! accept/reject (including a partial batch), the tenant registry's
//! commands (add, list, suspend, resume, remove, import, export) with the
//! principals and connections following each change, conflicting edits,
//! the drift warning, the local sweep, and the decision history on the
//! connection's tags.
//!
//! Each test makes its stack with `endpoint-service up` (the registry table
//! seeded with one tenant from the config's allowlist), exactly as a vendor
//! does. The emulator stores the approver function but never runs it, so
//! every decision here is made by the command under test.
//!
//! Needs the binary: `cargo test --workspace --no-run` (or tests/run.sh) builds it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerTypeEnum};
use privatelink_core::approval::{Tenant, TenantStatus};
use privatelink_core::naming::StackName;
use privatelink_core::state::EndpointState;
use privatelink_registry::{Registry, RegistryError};
use privatelink_tests::accounts::fresh_account_id;
use privatelink_tests::bins::{command, Run};
use privatelink_tests::fixtures::{
    create_endpoint, endpoint_state, vpc_with_subnets, wait_for_endpoint_state, zones,
};
use privatelink_tests::provider_cli::{run_json, stack_toml_with_access, StackDir};
use privatelink_tests::{Account, Emulator, Fault};
use serde_json::{json, Value};

const STACK: &str = "ops";
/// Requests the registry refuses wait for a person (the default is reject).
const LEAVE_PENDING: &str = "non_allowlisted = \"leave-pending\"";

/// A stack made by `up`, and its consumers.
struct World {
    provider: Account,
    /// A tenant (seeded by the config's allowlist) and an allowed principal.
    listed: Account,
    /// Neither, until a test makes it one.
    outsider: Account,
    stack: StackName,
    dir: StackDir,
    service_id: String,
    service_name: String,
    zone: String,
}

impl World {
    /// `access`: the config's `[access]` keys besides the allowlist, one per
    /// line.
    async fn new(access: &str) -> Result<World> {
        let emulator = Emulator::shared();
        let (provider, listed, outsider) = tokio::try_join!(
            Account::fresh(emulator),
            Account::fresh(emulator),
            Account::fresh(emulator)
        )?;
        let dir = StackDir::new(&stack_toml_with_access(STACK, &[&listed.id], access, ""))?;
        let config = dir.config().to_str().context("utf-8 path")?.to_string();
        let up = run_json(&provider, &["up", "-c", &config])
            .await?
            .expect(0)
            .json()?;
        let zone = zones(&provider)
            .await?
            .first()
            .context("a zone")?
            .id
            .clone();
        Ok(World {
            service_id: up["service_id"].as_str().context("service id")?.into(),
            service_name: up["service_name"].as_str().context("service name")?.into(),
            provider,
            listed,
            outsider,
            stack: StackName::parse(STACK)?,
            dir,
            zone,
        })
    }

    /// Runs `endpoint-service ARGS --stack ops` as the provider.
    fn run(&self, args: &[&str]) -> Result<Run> {
        let mut command = command("endpoint-service", Some(&self.provider))?;
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
    async fn connect(&self, consumer: &Account) -> Result<String> {
        let (vpc, subnets) = vpc_with_subnets(consumer, "consumer", &[&self.zone]).await?;
        create_endpoint(consumer, &self.service_name, &vpc, &subnets).await
    }

    async fn principals(&self) -> Result<Vec<String>> {
        let out = self
            .provider
            .ec2()
            .describe_vpc_endpoint_service_permissions()
            .service_id(&self.service_id)
            .send()
            .await?;
        Ok(out
            .allowed_principals()
            .iter()
            .filter_map(|p| p.principal().map(str::to_string))
            .collect())
    }

    /// Lets `account` request a connection behind the kit's back (a
    /// console edit): drift, until the registry agrees.
    async fn allow_principal(&self, account: &str) -> Result<()> {
        self.provider
            .ec2()
            .modify_vpc_endpoint_service_permissions()
            .service_id(&self.service_id)
            .add_allowed_principals(principal(account))
            .send()
            .await?;
        Ok(())
    }

    /// The stack's registry, read and written directly (another operator).
    fn registry(&self) -> Registry {
        Registry::new(self.provider.dynamodb(), self.stack.tenants_table())
    }

    /// Accepts `endpoint` with the SDK and waits until it is available.
    async fn accepted(&self, consumer: &Account, endpoint: &str) -> Result<()> {
        self.provider
            .ec2()
            .accept_vpc_endpoint_connections()
            .service_id(&self.service_id)
            .vpc_endpoint_ids(endpoint)
            .send()
            .await?;
        wait_for_endpoint_state(consumer, endpoint, EndpointState::Available).await
    }

    fn file(&self, name: &str, text: &str) -> Result<String> {
        let path = self.dir.dir.join(name);
        std::fs::write(&path, text)?;
        Ok(path.to_str().context("utf-8 path")?.to_string())
    }
}

fn principal(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
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

/// The `tenants list --output json` row of `account`, if listed.
fn tenant_row<'a>(list: &'a Value, account: &str) -> Option<&'a Value> {
    list["tenants"]
        .as_array()?
        .iter()
        .find(|t| t["account_id"] == account)
}

#[tokio::test]
async fn connections_show_each_owners_standing_and_warn_about_drift() -> Result<()> {
    let world = World::new(LEAVE_PENDING).await?;
    world.allow_principal(&world.outsider.id).await?;
    let ours = world.connect(&world.listed).await?;
    let theirs = world.connect(&world.outsider).await?;

    let view = world.json(&["connections"], 0)?;
    assert_eq!(view["service_id"], world.service_id.as_str());
    assert_eq!(
        view["connections"].as_array().map(Vec::len),
        Some(2),
        "{view}"
    );
    let mine = row(&view, &ours)?;
    assert_eq!(mine["owner"], world.listed.id.as_str());
    assert_eq!(mine["state"], "pendingAcceptance");
    assert_eq!(mine["standing"], "entitled");
    // Seeded from the allowlist: named after the account.
    assert_eq!(mine["tenant"], world.listed.id.as_str());
    assert_eq!(mine["in_allowed_principals"], true);
    assert!(mine["age_seconds"].as_u64().is_some(), "{mine}");
    assert!(mine["connection_id"]
        .as_str()
        .is_some_and(|c| c.starts_with("vpce-con-")));
    let other = row(&view, &theirs)?;
    assert_eq!(other["standing"], "not_a_tenant");
    assert_eq!(other["tenant"], Value::Null);
    assert_eq!(other["in_allowed_principals"], true);
    // The outsider may connect but is not entitled: drift.
    assert_eq!(view["drift"]["in_sync"], false);
    assert_eq!(
        view["drift"]["only_in_principals"],
        json!([world.outsider.id])
    );
    assert_eq!(view["drift"]["table"], "ops-tenants");

    let none = world.json(&["connections", "--state", "available"], 0)?;
    assert_eq!(none["connections"], json!([]));
    let pending = world.json(&["connections", "--state", "pending-acceptance"], 0)?;
    assert_eq!(pending["connections"].as_array().map(Vec::len), Some(2));

    let human = world.run(&["connections"])?.expect(0);
    let text = &human.stdout;
    assert!(
        text.contains("TENANT") && text.contains("PRINCIPAL"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} (entitled)", world.listed.id)),
        "{text}"
    );
    assert!(text.contains("not a tenant"), "{text}");
    assert!(text.contains("warning: drift"), "{text}");

    let drift = world.run(&["drift"])?.expect(0);
    assert!(
        drift.stdout.contains("may connect but are not entitled")
            && drift.stdout.contains(&world.outsider.id),
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
async fn accepting_an_owner_the_registry_does_not_entitle_needs_yes_and_is_recorded() -> Result<()>
{
    let world = World::new(LEAVE_PENDING).await?;
    world.allow_principal(&world.outsider.id).await?;
    let theirs = world.connect(&world.outsider).await?;

    let refused = world.run(&["accept", &theirs])?.expect(4);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&world.outsider.id) && refused.stderr.contains("does not entitle"),
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
    assert!(operator.contains(&world.provider.id), "{operator}");
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

    // A tenant's request is accepted without asking, with the rule's reason.
    let ours = world.connect(&world.listed).await?;
    let agreed = world.json(&["accept", &ours], 0)?;
    assert_eq!(agreed["records"][0]["reason"], "entitled_tenant");
    Ok(())
}

/// A second endpoint service in the provider's account, with the listed
/// consumer connected to it; returns that endpoint and the service id.
async fn other_service_endpoint(world: &World) -> Result<(String, String)> {
    let account = &world.provider;
    let region_zones = zones(account).await?;
    let zone_ids: Vec<&str> = region_zones.iter().map(|z| z.id.as_str()).collect();
    let (_, subnets) = vpc_with_subnets(account, "second", &zone_ids).await?;
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
        .add_allowed_principals(principal(&world.listed.id))
        .send()
        .await?;
    let (vpc, subnets) = vpc_with_subnets(&world.listed, "second", &[&world.zone]).await?;
    let endpoint = create_endpoint(&world.listed, &service_name, &vpc, &subnets).await?;
    Ok((endpoint, service_id))
}

#[tokio::test]
async fn a_partial_batch_reports_each_id_and_does_the_rest() -> Result<()> {
    let world = World::new(LEAVE_PENDING).await?;
    let ours = world.connect(&world.listed).await?;
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
async fn tenants_add_suspend_resume_remove_and_the_principals_follow() -> Result<()> {
    let world = World::new(LEAVE_PENDING).await?;
    let acme = fresh_account_id();

    // The seed from the config's allowlist.
    let list = world.json(&["tenants", "list"], 0)?;
    assert_eq!(list["table"], "ops-tenants");
    let seeded = tenant_row(&list, &world.listed.id).context("the seeded tenant")?;
    assert_eq!(seeded["standing"], "entitled");

    let added = world.json(
        &[
            "tenants",
            "add",
            &acme,
            "--name",
            "Acme",
            "--expires-at",
            "2099-01-01T00:00:00Z",
            "--max-endpoints",
            "2",
            "--notes",
            "pilot, then annual",
        ],
        0,
    )?;
    let result = &added["accounts"][0];
    assert_eq!(result["outcome"], "created", "{added}");
    assert_eq!(result["standing"], "entitled");
    let stored = &result["tenant"];
    assert_eq!(stored["name"], "Acme");
    assert_eq!(stored["expires_at"], 4_070_908_800i64);
    assert_eq!(stored["max_endpoints"], 2);
    assert_eq!(stored["version"], 1);
    assert!(
        stored["updated_by"]
            .as_str()
            .is_some_and(|by| by.contains(&world.provider.id)),
        "{stored}"
    );
    assert_eq!(added["followed"]["principals_added"], json!([acme]));
    assert!(world.principals().await?.contains(&principal(&acme)));

    // The same add again writes nothing; other fields need --update.
    let again = world.json(&["tenants", "add", &acme, "--name", "Acme"], 0)?;
    assert_eq!(again["accounts"][0]["outcome"], "unchanged");
    assert_eq!(again["followed"]["principals_added"], json!([]));
    let refused = world
        .run(&["tenants", "add", &acme, "--name", "Acme Corp"])?
        .expect(4);
    assert!(
        refused.stdout.contains("pass --update"),
        "{}",
        refused.stdout
    );
    let renamed = world.json(
        &["tenants", "add", &acme, "--name", "Acme Corp", "--update"],
        0,
    )?;
    assert_eq!(renamed["accounts"][0]["outcome"], "updated");
    assert_eq!(renamed["accounts"][0]["tenant"]["version"], 2);
    assert_eq!(renamed["accounts"][0]["tenant"]["max_endpoints"], 2);
    // Limited to some consumer regions (cross-region PrivateLink).
    let limited = world.json(
        &[
            "tenants",
            "add",
            &acme,
            "--allowed-regions",
            "us-east-1;eu-west-1",
            "--update",
        ],
        0,
    )?;
    assert_eq!(limited["accounts"][0]["outcome"], "updated", "{limited}");
    assert_eq!(
        limited["accounts"][0]["tenant"]["allowed_regions"],
        json!(["eu-west-1", "us-east-1"])
    );
    let stored = world.registry().get(&acme).await?.context("acme")?;
    assert_eq!(
        stored.allowed_regions.iter().collect::<Vec<_>>(),
        ["eu-west-1", "us-east-1"]
    );
    let bad_region = world
        .run(&["tenants", "add", &acme, "--allowed-regions", "Mars"])?
        .expect(2);
    assert!(
        bad_region.stderr.contains("--allowed-regions") && bad_region.stderr.contains("eu-west-1"),
        "{}",
        bad_region.stderr
    );

    let suspended = world.json(&["tenants", "suspend", &acme], 0)?;
    assert_eq!(suspended["accounts"][0]["standing"], "suspended");
    assert_eq!(suspended["followed"]["principals_removed"], json!([acme]));
    assert!(!world.principals().await?.contains(&principal(&acme)));
    let twice = world.run(&["tenants", "suspend", &acme])?.expect(0);
    assert!(
        twice.stdout.contains("already suspended"),
        "{}",
        twice.stdout
    );

    let resumed = world.run(&["tenants", "resume", &acme])?.expect(0);
    assert!(
        resumed.stdout.contains("resumed; now entitled"),
        "{}",
        resumed.stdout
    );
    assert!(world.principals().await?.contains(&principal(&acme)));

    let list = world.run(&["tenants", "list"])?.expect(0);
    assert!(
        list.stdout.contains("Acme Corp") && list.stdout.contains("2099-01-01T00:00:00Z"),
        "{}",
        list.stdout
    );

    let removed = world.json(&["tenants", "remove", &acme], 0)?;
    assert_eq!(removed["accounts"][0]["outcome"], "removed");
    assert_eq!(removed["accounts"][0]["standing"], "not_a_tenant");
    assert!(!world.principals().await?.contains(&principal(&acme)));
    let list = world.json(&["tenants", "list"], 0)?;
    assert!(tenant_row(&list, &acme).is_none(), "{list}");
    let gone = world.json(&["tenants", "remove", &acme], 0)?;
    assert_eq!(gone["accounts"][0]["outcome"], "not_a_tenant");
    let unknown = world.run(&["tenants", "resume", &acme])?.expect(4);
    assert!(unknown.stdout.contains("tenants add"), "{}", unknown.stdout);

    let bad = world.run(&["tenants", "add", "1234-5678-9012"])?.expect(2);
    assert!(
        bad.stderr.contains("without separators: 123456789012"),
        "{}",
        bad.stderr
    );
    let bad = world
        .run(&["tenants", "add", &acme, "--expires-at", "next year"])?
        .expect(2);
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);
    Ok(())
}

#[tokio::test]
async fn export_and_import_round_trip_in_csv_and_json_and_a_rerun_writes_nothing() -> Result<()> {
    let world = World::new(LEAVE_PENDING).await?;
    let (acme, globex) = (fresh_account_id(), fresh_account_id());
    let csv = format!(
        "account_id,name,status,expires_at,max_endpoints,allowed_regions,notes\n\
         {acme},\"Acme, Inc.\",active,2099-01-01T00:00:00Z,3,eu-west-1;us-east-1,annual\n\
         {globex},Globex,suspended,,,,\"owes \"\"us\"\"\"\n"
    );
    let file = world.file("tenants.csv", &csv)?;
    let first = world.json(&["tenants", "import", &file], 0)?;
    assert_eq!(first["rows"], 2);
    assert_eq!(first["created"], json!([acme, globex]), "{first}");
    assert_eq!(first["written"], 2);
    assert_eq!(first["write_calls"], 1);
    // Only the active tenant becomes a principal.
    assert_eq!(first["followed"]["principals_added"], json!([acme]));
    let principals = world.principals().await?;
    assert!(principals.contains(&principal(&acme)));
    assert!(!principals.contains(&principal(&globex)));

    // The same file again: nothing written.
    let second = world.json(&["tenants", "import", &file], 0)?;
    assert_eq!(second["written"], 0, "{second}");
    assert_eq!(second["write_calls"], 0);
    assert_eq!(second["unchanged"], 2);

    // Export, and what it wrote imports back unchanged: CSV, then JSON.
    let exported = world.run(&["tenants", "export"])?.expect(0).stdout;
    assert!(
        exported
            .starts_with("account_id,name,status,expires_at,max_endpoints,allowed_regions,notes\n"),
        "{exported}"
    );
    assert!(
        exported.contains(&format!(
            "{acme},\"Acme, Inc.\",active,2099-01-01T00:00:00Z,3,eu-west-1 us-east-1,annual"
        )),
        "{exported}"
    );
    let as_json = world
        .run(&["tenants", "export", "--format", "json"])?
        .expect(0);
    let array: Value = serde_json::from_str(&as_json.stdout)?;
    let globex_json = array
        .as_array()
        .and_then(|a| a.iter().find(|t| t["account_id"] == globex.as_str()))
        .context("globex exported")?;
    assert_eq!(globex_json["status"], "suspended");
    assert_eq!(globex_json["notes"], "owes \"us\"");
    for (name, text) in [
        ("export.csv", exported.as_str()),
        ("export.json", &as_json.stdout),
    ] {
        let path = world.file(name, text)?;
        let back = world.json(&["tenants", "import", &path], 0)?;
        assert_eq!(back["written"], 0, "{name}: {back}");
        assert_eq!(back["unchanged"], 3, "{name}: {back}");
    }

    // Removed, then imported from the JSON export: the same tenant again.
    let before = world.registry().get(&acme).await?.context("acme")?;
    world.json(&["tenants", "remove", &acme], 0)?;
    let path = world.file("export.json", &as_json.stdout)?;
    let restored = world.json(&["tenants", "import", &path], 0)?;
    assert_eq!(restored["created"], json!([acme]));
    let after = world.registry().get(&acme).await?.context("acme")?;
    assert_eq!(
        (
            &after.name,
            after.expires_at,
            after.max_endpoints,
            &after.notes
        ),
        (
            &before.name,
            before.expires_at,
            before.max_endpoints,
            &before.notes
        )
    );

    // A changed row is reported and skipped; with --update it is written.
    let changed = csv.replace(",Globex,suspended,", ",Globex,active,");
    let path = world.file("changed.csv", &changed)?;
    let skipped = world.json(&["tenants", "import", &path], 0)?;
    assert_eq!(skipped["written"], 0);
    assert_eq!(
        skipped["skipped"],
        json!([{"account": globex, "fields": ["status"]}])
    );
    let updated = world.json(&["tenants", "import", &path, "--update"], 0)?;
    assert_eq!(updated["updated"], json!([globex]), "{updated}");
    assert_eq!(updated["followed"]["principals_added"], json!([globex]));

    // A file with problems imports nothing and names every line.
    let broken = world.file(
        "broken.csv",
        "account_id,name,status\n12345,A,active\n111111111111,B,paused\n",
    )?;
    let refused = world.run(&["tenants", "import", &broken])?.expect(2);
    assert!(
        refused.stderr.contains("line 2") && refused.stderr.contains("line 3"),
        "{}",
        refused.stderr
    );
    assert!(world.registry().get("111111111111").await?.is_none());
    let unknown = world.file("tenants.txt", &csv)?;
    let refused = world.run(&["tenants", "import", &unknown])?.expect(2);
    assert!(refused.stderr.contains("--format"), "{}", refused.stderr);
    Ok(())
}

/// Two operators edit the same tenant: one reads it, the other (the CLI)
/// changes it, the first writes from its stale read and is refused; the
/// other's change is still there.
#[tokio::test]
async fn a_conflicting_edit_is_refused_and_nothing_is_lost() -> Result<()> {
    let world = World::new(LEAVE_PENDING).await?;
    let registry = world.registry();
    let account = world.listed.id.clone();
    let read = registry.get(&account).await?.context("the seeded tenant")?;

    world.json(&["tenants", "suspend", &account], 0)?;

    let stale = Tenant {
        name: "Renamed from a stale read".into(),
        ..read.clone()
    };
    let lost = registry
        .replace(&stale, "arn:aws:iam::111111111111:user/other")
        .await
        .expect_err("the stale write is refused");
    assert!(
        matches!(&lost, RegistryError::Conflict { account: a, detail }
            if *a == account && detail.contains("by someone else since it was read")),
        "{lost}"
    );
    let now = registry.get(&account).await?.context("still there")?;
    assert_eq!(now.status, TenantStatus::Suspended);
    assert_eq!(now.name, read.name);
    assert_eq!(now.version, read.version + 1);

    // A stale removal is refused too.
    let removal = registry.remove(&read).await.expect_err("stale");
    assert!(
        matches!(removal, RegistryError::Conflict { .. }),
        "{removal}"
    );
    assert!(registry.get(&account).await?.is_some());

    // Read again, the change goes through.
    let fresh = Tenant {
        name: "Renamed".into(),
        ..now
    };
    assert_eq!(
        registry.replace(&fresh, "other").await?.version,
        read.version + 2
    );
    Ok(())
}

#[tokio::test]
async fn suspend_with_revocation_rejects_an_available_connection_within_the_command() -> Result<()>
{
    let world = World::new(&format!("{LEAVE_PENDING}\nrevoke = true")).await?;
    let ours = world.connect(&world.listed).await?;
    world.accepted(&world.listed, &ours).await?;

    let started = Instant::now();
    let done = world.json(&["tenants", "suspend", &world.listed.id], 0)?;
    let took = started.elapsed();
    // Rejected by the time the command returns: no sweep awaited.
    assert_eq!(
        endpoint_state(&world.listed, &ours).await?,
        EndpointState::Rejected
    );
    assert!(took < Duration::from_secs(30), "suspend took {took:?}");
    let followed = &done["followed"];
    assert_eq!(followed["revoke"], true);
    assert_eq!(followed["principals_removed"], json!([world.listed.id]));
    let record = &followed["decisions"][0];
    assert_eq!(record["endpoint_id"], ours.as_str());
    assert_eq!(record["decision"], "reject");
    assert_eq!(record["reason"], "tenant_suspended");
    assert_eq!(record["trigger"], "registry");
    assert_eq!(record["outcome"]["status"], "applied");
    assert!(!world
        .principals()
        .await?
        .contains(&principal(&world.listed.id)));

    let history = world.json(&["history", &ours], 0)?;
    let last = &row(&history, &ours)?["last_decision"];
    assert_eq!(last["reason"], "tenant_suspended");
    assert_eq!(last["trigger"], "registry");

    // Resumed: the principal is back, and a new request is accepted by the
    // command itself.
    let again = world.connect(&world.listed).await.err();
    assert!(again.is_some(), "a suspended tenant cannot even request");
    let resumed = world.json(&["tenants", "resume", &world.listed.id], 0)?;
    assert_eq!(
        resumed["followed"]["principals_added"],
        json!([world.listed.id])
    );
    let next = world.connect(&world.listed).await?;
    let human = world
        .run(&["tenants", "resume", &world.listed.id])?
        .expect(0);
    assert!(
        human.stdout.contains(&format!("accepted {next}")),
        "{}",
        human.stdout
    );
    Ok(())
}

#[tokio::test]
async fn without_revocation_suspend_leaves_connections_up_and_says_how_to_reject_them() -> Result<()>
{
    let world = World::new(LEAVE_PENDING).await?;
    let ours = world.connect(&world.listed).await?;
    world.accepted(&world.listed, &ours).await?;

    let out = world
        .run(&["tenants", "suspend", &world.listed.id])?
        .expect(0);
    let text = &out.stdout;
    assert!(text.contains("APPROVER_REVOKE is off"), "{text}");
    assert!(
        text.contains(&ours) && text.contains("endpoint-service reject"),
        "{text}"
    );
    assert_eq!(
        endpoint_state(&world.listed, &ours).await?,
        EndpointState::Available
    );
    let json = world.json(&["tenants", "suspend", &world.listed.id], 0)?;
    assert_eq!(json["followed"]["revoke"], false);
    assert_eq!(
        json["followed"]["still_connected"][0]["endpoint_id"],
        ours.as_str()
    );
    Ok(())
}

#[tokio::test]
async fn adding_a_tenant_accepts_its_waiting_request() -> Result<()> {
    let world = World::new(LEAVE_PENDING).await?;
    world.allow_principal(&world.outsider.id).await?;
    let theirs = world.connect(&world.outsider).await?;

    let added = world.json(
        &["tenants", "add", &world.outsider.id, "--name", "Newco"],
        0,
    )?;
    let followed = &added["followed"];
    // Already a principal (by hand): nothing to add there.
    assert_eq!(followed["principals_added"], json!([]));
    let record = &followed["decisions"][0];
    assert_eq!(record["endpoint_id"], theirs.as_str());
    assert_eq!(record["decision"], "accept");
    assert_eq!(record["reason"], "entitled_tenant");
    assert!(matches!(
        endpoint_state(&world.outsider, &theirs).await?,
        EndpointState::Pending | EndpointState::Available
    ));
    let drift = world.json(&["drift"], 0)?;
    assert_eq!(drift["in_sync"], true, "{drift}");
    Ok(())
}

#[tokio::test]
async fn sweep_dry_run_changes_nothing_and_sweep_decides() -> Result<()> {
    let world = World::new("non_allowlisted = \"reject\"").await?;
    world.allow_principal(&world.outsider.id).await?;
    let ours = world.connect(&world.listed).await?;
    let theirs = world.connect(&world.outsider).await?;

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
    let untouched = world.json(&["history"], 0)?;
    assert_eq!(row(&untouched, &ours)?["last_decision"], Value::Null);

    let human = world.run(&["sweep"])?.expect(0);
    let text = &human.stdout;
    assert!(
        text.contains(&format!("{ours} owner {}", world.listed.id)),
        "{text}"
    );
    assert!(text.contains("entitled_tenant"), "{text}");
    assert_ne!(
        endpoint_state(&world.listed, &ours).await?,
        EndpointState::PendingAcceptance
    );
    assert_eq!(
        endpoint_state(&world.outsider, &theirs).await?,
        EndpointState::Rejected
    );

    let history = world.json(&["history"], 0)?;
    assert_eq!(
        row(&history, &ours)?["last_decision"]["reason"],
        "entitled_tenant"
    );
    assert_eq!(
        row(&history, &theirs)?["last_decision"]["reason"],
        "not_a_tenant"
    );
    Ok(())
}

#[tokio::test]
async fn an_interrupted_tenants_command_leaves_harmless_drift_and_a_rerun_finishes() -> Result<()> {
    let world = World::new(LEAVE_PENDING).await?;
    let newcomer = fresh_account_id();

    // The registry is written; the principals step fails (both attempts
    // the binary makes).
    Emulator::shared()
        .inject_fault(
            "ModifyVpcEndpointServicePermissions",
            2,
            Fault::ServerError,
            &world.provider.id,
        )
        .await?;
    let failed = world.run(&["tenants", "add", &newcomer])?.expect(3);
    assert!(
        failed
            .stdout
            .contains("the allowed principals were not updated")
            && failed
                .stdout
                .contains("ModifyVpcEndpointServicePermissions"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stderr.contains("run the command again"),
        "{}",
        failed.stderr
    );
    assert!(world.registry().get(&newcomer).await?.is_some());
    assert!(!world.principals().await?.contains(&principal(&newcomer)));
    // Entitled but unable to request: the only drift is the harmless kind.
    let drift = world.json(&["drift"], 0)?;
    assert_eq!(drift["only_in_registry"], json!([newcomer]));
    assert_eq!(drift["only_in_principals"], json!([]));

    let rerun = world.json(&["tenants", "add", &newcomer], 0)?;
    assert_eq!(rerun["accounts"][0]["outcome"], "unchanged");
    assert_eq!(rerun["followed"]["principals_added"], json!([newcomer]));
    assert_eq!(world.json(&["drift"], 0)?["in_sync"], true);
    Ok(())
}
