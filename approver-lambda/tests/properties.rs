//! Generated-input properties of the approver, each over 10,000 cases a run.
//!
//! 1. The handler, end to end: every case calls the real entry point
//!    ([`handle`]) with a generated event (SNS notifications in the
//!    assumed body format, plus malformed and foreign events and the
//!    scheduled sweep), a configuration read from a generated environment
//!    by the product's own parser, a generated tenant registry (active,
//!    suspended, expired tenants, tenants with a quota; `common::
//!    FakeRegistry`, which may fail), and the fake EC2 of `common`
//!    (several services, connections in every state, filters, small pages,
//!    Unsuccessful items, tags, and some adversities). An oracle written
//!    from the generated plain values alone, not with the product's
//!    registry or decision code, says what EC2 must look like afterwards:
//!    the state and tags of every connection of every service, which calls
//!    were made (each listing's filters: a notification reads only the
//!    requests waiting, a sweep everything only when it revokes), which
//!    owners the registry was asked for, and the handler's answer.
//! 2. The environment parsing: generated environments (valid, missing
//!    keys, whitespace, bad table names, huge values, unicode, near-miss
//!    variable names, the old allowlist variable) give exactly the
//!    generated configuration, or an error naming each bad setting, and
//!    never a panic.
//!
//! Both print how often each case they claim to cover was reached, and
//! assert it was reached often enough. To see the counts:
//!
//! ```sh
//! cargo test -p approver-lambda --test properties -- --nocapture
//! ```

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use approver_lambda::handler::{handle, Approver, HandlerError};
use common::{Call, Fake, FakeConn, FakeRegistry, World};
use privatelink_core::approval::tenant::now_epoch;
use privatelink_core::approval::{
    AccountId, ApproverConfig, ConfigProblem, NonAllowlistedPolicy, Tenant, TenantStatus, Trigger,
};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseResult, TestRunner};
use serde_json::{json, Value};

const CASES: u32 = 10_000;

// The contract under test, written out here rather than taken from the
// product's constants.
const SERVICE_ID: &str = "APPROVER_SERVICE_ID";
const TABLE: &str = "APPROVER_TABLE";
const POLICY: &str = "APPROVER_NON_ALLOWLISTED_POLICY";
const REVOKE: &str = "APPROVER_REVOKE";
const DRY_RUN: &str = "APPROVER_DRY_RUN";

const DECISION_TAG: &str = "privatelink-kit:decision";
const REASON_TAG: &str = "privatelink-kit:reason";
const TRIGGER_TAG: &str = "privatelink-kit:trigger";
const AT_TAG: &str = "privatelink-kit:decided-at";

/// Accounts the tenants are drawn from (owners are drawn from these,
/// near-misses of them, and others).
const ACCOUNTS: [&str; 6] = [
    "111111111111",
    "222222222222",
    "012345678901",
    "333333333333",
    "444444444444",
    "555555555555",
];
/// Services of the same account besides the configured one (which always
/// starts `vpce-svc-0`, so never equals these).
const OTHER_SERVICES: [&str; 2] = ["vpce-svc-1aaaaaaaaaaaaaaa1", "vpce-svc-2bbbbbbbbbbbbbbb2"];

fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        // Cheaper than the default ChaCha, whose per-case reseeding took a
        // sixth of the run in a debug build.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    });
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{name}: {error}");
    }
}

fn cased(word: &str, upper: &[bool]) -> String {
    word.chars()
        .zip(upper.iter().cycle())
        .map(|(c, u)| {
            if *u {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A 12-digit id from any number.
fn digits12(n: u64) -> String {
    format!("{:012}", n % 1_000_000_000_000)
}

// ---------------------------------------------------------------------------
// The environment: a plain configuration, how it is written, what is broken
// ---------------------------------------------------------------------------

/// A configuration as plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plain {
    service_id: String,
    table: String,
    leave_pending: bool,
    revoke: bool,
    dry_run: bool,
}

/// How a valid configuration is written.
#[derive(Debug, Clone)]
struct Style {
    /// Whitespace around values, used in turn.
    pads: Vec<&'static str>,
    /// Letter casing of policy and boolean words, used in turn.
    upper: Vec<bool>,
    /// Leave out the optional settings that have their default value.
    omit_defaults: bool,
}

#[derive(Debug, Clone)]
enum Break {
    /// Written as it should be (or left out, for an optional setting).
    No,
    /// Not set (for a required setting).
    Missing,
    /// Set to this.
    Value(String),
}

#[derive(Debug, Clone)]
struct EnvSpec {
    plain: Plain,
    style: Style,
    service: Break,
    table: Break,
    policy: Break,
    revoke: Break,
    dry_run: Break,
    /// Variables whose names are near-misses of the real ones, and the
    /// old allowlist variable, which the approver no longer reads.
    noise: Vec<(String, String)>,
}

/// What the parse must give.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Valid(Plain),
    /// The number of problems reported for each setting.
    Invalid(BTreeMap<&'static str, usize>),
}

impl EnvSpec {
    fn render(&self) -> (BTreeMap<String, String>, Expected) {
        let style = &self.style;
        let mut pads = style.pads.iter().cycle();
        let mut pad = |v: &str| {
            let (a, b) = (pads.next().copied(), pads.next().copied());
            format!("{}{v}{}", a.unwrap_or(""), b.unwrap_or(""))
        };
        let mut vars = BTreeMap::new();
        let mut problems: BTreeMap<&'static str, usize> = BTreeMap::new();
        let p = &self.plain;

        for (name, brk, value) in [
            (SERVICE_ID, &self.service, &p.service_id),
            (TABLE, &self.table, &p.table),
        ] {
            match brk {
                Break::No => {
                    vars.insert(name.into(), pad(value));
                }
                Break::Missing => {
                    problems.insert(name, 1);
                }
                Break::Value(v) => {
                    vars.insert(name.into(), v.clone());
                    problems.insert(name, 1);
                }
            }
        }

        let mut upper = style.upper.iter().cycle();
        let mut word = |w: &str| {
            let casing: Vec<bool> = (0..w.len())
                .map(|_| *upper.next().unwrap_or(&false))
                .collect();
            cased(w, &casing)
        };
        let optional = [
            (
                POLICY,
                &self.policy,
                if p.leave_pending {
                    "leave-pending"
                } else {
                    "reject"
                },
                !p.leave_pending,
            ),
            (
                REVOKE,
                &self.revoke,
                if p.revoke { "true" } else { "false" },
                !p.revoke,
            ),
            (
                DRY_RUN,
                &self.dry_run,
                if p.dry_run { "true" } else { "false" },
                !p.dry_run,
            ),
        ];
        for (name, brk, value, is_default) in optional {
            match brk {
                Break::No | Break::Missing if is_default && style.omit_defaults => {}
                Break::No | Break::Missing => {
                    let v = word(value);
                    vars.insert(name.into(), pad(&v));
                }
                Break::Value(v) => {
                    vars.insert(name.into(), v.clone());
                    problems.insert(name, 1);
                }
            }
        }
        // Near-miss names never count; they must not replace a real one.
        for (k, v) in &self.noise {
            vars.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let expected = if problems.is_empty() {
            Expected::Valid(p.clone())
        } else {
            Expected::Invalid(problems)
        };
        (vars, expected)
    }
}

fn pad() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "  ", "\t", "\n", " \r\n", "\t "])
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop::collection::vec(pad(), 1..6),
        prop::collection::vec(prop::bool::weighted(0.2), 1..8),
        any::<bool>(),
    )
        .prop_map(|(pads, upper, omit_defaults)| Style {
            pads,
            upper,
            omit_defaults,
        })
}

fn service_id() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "vpce-svc-0[0-9a-f]{16}",
        1 => "vpce-svc-0[0-9a-z]{0,30}",
    ]
}

/// A DynamoDB table name: 3 to 255 of letters, digits, `_`, `-`, `.`.
fn table() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z][a-z0-9-]{2,30}-tenants",
        2 => "[a-zA-Z0-9_.-]{3,12}",
        1 => "[a-zA-Z0-9_.-]{250,255}",
    ]
}

fn huge(prefix: &'static str, fill: char) -> impl Strategy<Value = String> {
    (5_000usize..70_000).prop_map(move |n| format!("{prefix}{}", String::from(fill).repeat(n)))
}

fn bad_service_id() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "   ",
            "vpce-svc-",
            "svc-123",
            "vpce-0123456789abcdef0",
            "VPCE-SVC-0123456789ABCDEF0",
            "vpce-svc-0123456789ABCDEF0",
            "vpce-svc-0123 456789",
            "vpce-svc-０１２３",
            "vpce-svc-0123\u{200b}",
            "\u{feff}vpce-svc-0123",
            "arn:aws:ec2:us-east-1:111111111111:vpc-endpoint-service/vpce-svc-0123",
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123",
            "vpce-svc-0123,vpce-svc-0456",
        ])
        .prop_map(str::to_string),
        "vpce-svc-[0-9a-f]{4}[A-Z_. é-][0-9a-f]{4}",
        huge("vpce-svc-", 'A'),
    ]
}

/// Not a table name, even trimmed.
fn bad_table() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "",
            "   ",
            "ab",
            " ab\t",
            "acme tenants",
            "acme/tenants",
            "arn:aws:dynamodb:us-east-1:111111111111:table/acme-tenants",
            "acme-ténants",
            "acme\u{200b}tenants",
            "\u{feff}acme-tenants",
            "acme,tenants",
            "111111111111,222222222222",
            "acme-tenants\u{0}",
            "ａｃｍｅ",
        ])
        .prop_map(str::to_string),
        1 => "[a-z]{2,8}[ /:#@é,;][a-z]{2,8}",
        1 => "[a-zA-Z0-9_.-]{256,300}",
        1 => huge("", 't'),
    ]
}

fn bad_word(
    valid: &'static [&'static str],
    pool: Vec<&'static str>,
    fill: char,
) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(pool).prop_map(str::to_string),
        1 => "[a-z-]{0,12}".prop_filter("not a valid word", move |w| {
            !valid.iter().any(|v| v.eq_ignore_ascii_case(w.trim()))
        }),
        1 => huge("", fill),
    ]
}

fn bad_policy() -> impl Strategy<Value = String> {
    bad_word(
        &["reject", "leave-pending"],
        vec![
            "accept",
            "leave_pending",
            "leave pending",
            "leavepending",
            "rejected",
            "",
            "  ",
            "LEAVE-PENDİNG",
            "rеject",
            "reject,leave-pending",
            "\u{feff}reject",
            "deny",
        ],
        'r',
    )
}

fn bad_bool() -> impl Strategy<Value = String> {
    bad_word(
        &["true", "false"],
        vec![
            "",
            " ",
            "yes",
            "no",
            "1",
            "0",
            "on",
            "off",
            "t",
            "f",
            "ｔｒｕｅ",
            "tru e",
            "TRUE!",
            "truе",
            "false\u{0}",
            "\u{feff}true",
        ],
        't',
    )
}

fn brk(bad: impl Strategy<Value = String>, missing: bool) -> impl Strategy<Value = Break> {
    prop_oneof![
        17 => Just(Break::No),
        2 => bad.prop_map(Break::Value),
        1 => Just(if missing { Break::Missing } else { Break::No }),
    ]
}

fn noise() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                // The old allowlist: ignored, valid or not.
                "APPROVER_ALLOWLIST",
                "APPROVER_ALLOWLIST",
                "approver_table",
                "APPROVER_TABLE_",
                "APPROVER_TABLE_NAME",
                " APPROVER_SERVICE_ID",
                "APPROVER_SERVICEID",
                "APPROVER_DRYRUN",
                "APPROVER_REVOKE ",
                "approver_dry_run",
                "APPROVER_NON_ALLOWLISTED_POLICY\u{0}",
                "APPROVER_POLICY",
            ]),
            prop::sample::select(vec![
                "true",
                "111111111111",
                "111111111111,1111-1111-1111",
                "vpce-svc-0abc",
                "leave-pending",
                "acme tenants",
                "",
            ]),
        )
            .prop_map(|(k, v)| (k.to_string(), v.to_string())),
        0..3,
    )
}

fn plain(service: impl Strategy<Value = String>) -> impl Strategy<Value = Plain> {
    (
        service,
        table(),
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(service_id, table, leave_pending, revoke, dry_run)| Plain {
                service_id,
                table,
                leave_pending,
                revoke,
                dry_run,
            },
        )
}

/// Any environment, valid or not.
fn env_spec() -> impl Strategy<Value = EnvSpec> {
    (
        plain(service_id()),
        style(),
        brk(bad_service_id(), true),
        brk(bad_table(), true),
        brk(bad_policy(), false),
        brk(bad_bool(), false),
        brk(bad_bool(), false),
        noise(),
    )
        .prop_map(
            |(plain, style, service, table, policy, revoke, dry_run, noise)| EnvSpec {
                plain,
                style,
                service,
                table,
                policy,
                revoke,
                dry_run,
                noise,
            },
        )
}

fn problem_setting(problem: &ConfigProblem) -> &'static str {
    match problem {
        ConfigProblem::Missing { name, .. }
        | ConfigProblem::ServiceId { name, .. }
        | ConfigProblem::Table { name, .. }
        | ConfigProblem::Region { name, .. }
        | ConfigProblem::Policy { name, .. }
        | ConfigProblem::Bool { name, .. } => name,
    }
}

/// The parse of `vars` against what the generator meant.
fn check_parse(
    spec: Option<&EnvSpec>,
    vars: &BTreeMap<String, String>,
    expected: &Expected,
    parsed: &Result<ApproverConfig, privatelink_core::approval::ConfigError>,
) -> TestCaseResult {
    match (parsed, expected) {
        (Ok(config), Expected::Valid(p)) => {
            prop_assert_eq!(&config.service_id, &p.service_id);
            prop_assert_eq!(&config.table, &p.table);
            let policy = if p.leave_pending {
                NonAllowlistedPolicy::LeavePending
            } else {
                NonAllowlistedPolicy::Reject
            };
            prop_assert_eq!(config.non_allowlisted, policy);
            prop_assert_eq!(config.revoke, p.revoke);
            prop_assert_eq!(config.dry_run, p.dry_run);
        }
        (Err(error), Expected::Invalid(problems)) => {
            let mut got: BTreeMap<&'static str, usize> = BTreeMap::new();
            for problem in &error.problems {
                *got.entry(problem_setting(problem)).or_default() += 1;
            }
            prop_assert_eq!(&got, problems, "{}", error);
            let message = error.to_string();
            prop_assert!(message.contains("nothing will be accepted"));
            for name in problems.keys() {
                prop_assert!(message.contains(name), "{name} not named");
            }
            // Each bad value is quoted back.
            if let Some(spec) = spec {
                for brk in [
                    &spec.service,
                    &spec.table,
                    &spec.policy,
                    &spec.revoke,
                    &spec.dry_run,
                ] {
                    if let Break::Value(v) = brk {
                        prop_assert!(message.contains(&format!("{v:?}")), "{v:?} not quoted");
                    }
                }
            }
        }
        (Ok(config), Expected::Invalid(problems)) => {
            prop_assert!(
                false,
                "accepted {config:?}; expected problems {problems:?} from {vars:?}"
            );
        }
        (Err(error), Expected::Valid(p)) => {
            prop_assert!(false, "refused {p:?} written as {vars:?}: {error}");
        }
    }
    Ok(())
}

#[test]
fn environment_parsing_gives_the_generated_config_or_names_every_bad_setting() {
    #[derive(Default, Debug)]
    struct Counts {
        valid: usize,
        invalid: usize,
        by_setting: BTreeMap<&'static str, usize>,
        huge: usize,
        noise: usize,
        legacy_allowlist: usize,
    }
    let counts = RefCell::new(Counts::default());
    let started = Instant::now();
    run("environment parsing", env_spec(), |spec| {
        let (vars, expected) = spec.render();
        let parsed = ApproverConfig::from_lookup(|name| vars.get(name).cloned());
        check_parse(Some(&spec), &vars, &expected, &parsed)?;
        let mut c = counts.borrow_mut();
        match &expected {
            Expected::Valid(_) => c.valid += 1,
            Expected::Invalid(problems) => {
                c.invalid += 1;
                for name in problems.keys() {
                    *c.by_setting.entry(name).or_default() += 1;
                }
            }
        }
        if vars.values().any(|v| v.len() > 4_096) {
            c.huge += 1;
        }
        if !spec.noise.is_empty() {
            c.noise += 1;
        }
        if vars.contains_key("APPROVER_ALLOWLIST") {
            c.legacy_allowlist += 1;
        }
        Ok(())
    });
    let c = counts.into_inner();
    eprintln!(
        "environment parsing: {CASES} cases in {:.1?}: {} valid, {} invalid (by setting: {:?}); {} with a value over 4 KB (Lambda's limit for all variables together), {} with near-miss variable names, {} with the old APPROVER_ALLOWLIST set",
        started.elapsed(),
        c.valid,
        c.invalid,
        c.by_setting,
        c.huge,
        c.noise,
        c.legacy_allowlist
    );
    assert!(c.valid >= 2_000 && c.invalid >= 2_000, "{c:?}");
    for name in [SERVICE_ID, TABLE, POLICY, REVOKE, DRY_RUN] {
        assert!(
            c.by_setting.get(name).copied().unwrap_or(0) >= 300,
            "{name}: {c:?}"
        );
    }
    assert!(
        c.huge >= 50 && c.noise >= 1_000 && c.legacy_allowlist >= 300,
        "{c:?}"
    );
}

// ---------------------------------------------------------------------------
// The registry and the world: tenants, connections of several services
// ---------------------------------------------------------------------------

/// A tenant's standing, as generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TenantKind {
    Active,
    Suspended,
    /// Active, but `expires_at` has passed.
    Expired,
    /// Active, `expires_at` in the future (changes nothing).
    Expiring,
    /// Active, at most this many live endpoints.
    Quota(u32),
}

fn tenant_kind() -> impl Strategy<Value = TenantKind> {
    prop_oneof![
        6 => Just(TenantKind::Active),
        2 => Just(TenantKind::Suspended),
        2 => Just(TenantKind::Expired),
        1 => Just(TenantKind::Expiring),
        3 => (0..4u32).prop_map(TenantKind::Quota),
    ]
}

/// The registry: distinct accounts of [`ACCOUNTS`], each with a standing.
fn registry_plan() -> impl Strategy<Value = Vec<(String, TenantKind)>> {
    prop::sample::subsequence(ACCOUNTS.to_vec(), 1..=4).prop_flat_map(|ids| {
        let n = ids.len();
        (Just(ids), prop::collection::vec(tenant_kind(), n)).prop_map(|(ids, kinds)| {
            ids.into_iter()
                .map(str::to_string)
                .zip(kinds)
                .collect::<Vec<_>>()
        })
    })
}

/// The registry's items for `plan`, with expiries around `now`.
fn tenants(plan: &[(String, TenantKind)], now: i64) -> Vec<Tenant> {
    plan.iter()
        .map(|(id, kind)| {
            let mut t = Tenant::active(
                AccountId::parse(id).expect("ACCOUNTS are account ids"),
                format!("tenant {id}"),
            );
            match kind {
                TenantKind::Active => {}
                TenantKind::Suspended => t.status = TenantStatus::Suspended,
                TenantKind::Expired => t.expires_at = Some(now - 3_600),
                TenantKind::Expiring => t.expires_at = Some(now + 86_400),
                TenantKind::Quota(max) => t.max_endpoints = Some(*max),
            }
            t
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Owner {
    /// The i-th tenant of the registry (any standing).
    Tenant(usize),
    /// An account of [`ACCOUNTS`] not in the registry.
    NotATenant(usize),
    Random(u64),
    /// A tenant's id, altered.
    NearMiss(usize, usize),
    Junk(String),
    Missing,
}

fn owner() -> impl Strategy<Value = Owner> {
    prop_oneof![
        50 => any::<usize>().prop_map(Owner::Tenant),
        20 => any::<usize>().prop_map(Owner::NotATenant),
        8 => any::<u64>().prop_map(Owner::Random),
        12 => (any::<usize>(), 0..6usize).prop_map(|(i, k)| Owner::NearMiss(i, k)),
        3 => ".{0,14}".prop_map(Owner::Junk),
        4 => Just(Owner::Missing),
    ]
}

/// States with weights: `None` is a connection reported without one.
fn state() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        30 => Just(Some("pendingAcceptance")),
        10 => Just(Some("pending")),
        14 => Just(Some("available")),
        8 => Just(Some("rejected")),
        6 => Just(Some("deleted")),
        4 => Just(Some("failed")),
        4 => Just(Some("expired")),
        3 => Just(Some("deleting")),
        3 => Just(Some("partial")),
        2 => Just(Some("hibernating")),
        1 => Just(Some("")),
        2 => Just(None),
    ]
}

#[derive(Debug, Clone)]
struct RawConn {
    /// 0: the configured service; 1, 2: [`OTHER_SERVICES`].
    service: usize,
    owner: Owner,
    state: Option<&'static str>,
    /// 0: the API model's PascalCase, 1: upper case, else AWS's spelling.
    spelling: u8,
    has_connection_id: bool,
    /// 0..=2: none; 3: a foreign tag; 4, 5: a leave-pending history by
    /// sns / sweep; 6: an accept history and a foreign tag.
    tags: u8,
    /// The state it moves to once listed (configured service only).
    drift: Option<&'static str>,
}

fn raw_conn() -> impl Strategy<Value = RawConn> {
    (
        prop::sample::select(vec![0usize, 0, 0, 1, 2]),
        owner(),
        state(),
        0..10u8,
        prop::bool::weighted(0.92),
        0..10u8,
        prop::option::weighted(0.06, prop::sample::select(common::STATES.to_vec())),
    )
        .prop_map(
            |(service, owner, state, spelling, has_connection_id, tags, drift)| RawConn {
                service,
                owner,
                state,
                spelling,
                has_connection_id,
                tags: tags.min(6),
                drift: drift.filter(|_| service == 0),
            },
        )
}

fn resolve_owner(owner: &Owner, registry: &[(String, TenantKind)]) -> Option<String> {
    let tenant = |i: usize| registry[i % registry.len()].0.clone();
    let others: Vec<&str> = ACCOUNTS
        .iter()
        .copied()
        .filter(|a| !registry.iter().any(|(t, _)| t == a))
        .collect();
    Some(match owner {
        Owner::Tenant(i) => tenant(*i),
        Owner::NotATenant(i) if !others.is_empty() => others[i % others.len()].to_string(),
        Owner::NotATenant(i) => digits12(*i as u64),
        Owner::Random(n) => digits12(*n),
        Owner::NearMiss(i, kind) => {
            let id = tenant(*i);
            match kind {
                0 => format!(" {id}"),
                1 => format!("{id}\n"),
                2 => id[1..].to_string(),
                3 => format!("0{id}"),
                4 => id
                    .chars()
                    .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
                    .collect(),
                _ => {
                    let last = id.as_bytes()[11];
                    let other = if last == b'9' {
                        '0'
                    } else {
                        (last + 1) as char
                    };
                    format!("{}{other}", &id[..11])
                }
            }
        }
        Owner::Junk(s) => s.clone(),
        Owner::Missing => return None,
    })
}

fn history_tags(decision: &str, reason: &str, trigger: &str) -> [(String, String); 4] {
    [
        (DECISION_TAG.into(), decision.into()),
        (REASON_TAG.into(), reason.into()),
        (TRIGGER_TAG.into(), trigger.into()),
        (AT_TAG.into(), "2020-01-01T00:00:00Z".into()),
    ]
}

fn resolve_conn(
    i: usize,
    salt: u64,
    raw: &RawConn,
    service_id: &str,
    registry: &[(String, TenantKind)],
) -> FakeConn {
    let suffix = format!("{i:02x}{:014x}", salt & 0x00FF_FFFF_FFFF_FFFF);
    let service = if raw.service == 0 {
        service_id.to_string()
    } else {
        OTHER_SERVICES[raw.service - 1].to_string()
    };
    let spelling = raw
        .state
        .filter(|s| common::STATES.contains(s))
        .and_then(|s| match raw.spelling {
            0 => Some(s[..1].to_uppercase() + &s[1..]),
            1 => Some(s.to_uppercase()),
            _ => None,
        });
    let mut tags = BTreeMap::new();
    let mut add = |pairs: &[(String, String)]| {
        for (k, v) in pairs {
            tags.insert(k.clone(), v.clone());
        }
    };
    let foreign = [("Name".to_string(), "team-a".to_string())];
    match raw.tags {
        3 => add(&foreign),
        4 => add(&history_tags("leave", "not_a_tenant", "sns")),
        5 => add(&history_tags("leave", "not_a_tenant", "sweep")),
        6 => {
            add(&history_tags("accept", "entitled_tenant", "sweep"));
            add(&foreign);
        }
        _ => {}
    }
    FakeConn {
        service_id: service,
        endpoint_id: format!("vpce-0{suffix}"),
        connection_id: raw.has_connection_id.then(|| format!("vpce-con-0{suffix}")),
        owner: resolve_owner(&raw.owner, registry),
        state: raw.state.map(str::to_string),
        spelling: spelling.filter(|s| Some(s.as_str()) != raw.state),
        region: None,
        tags,
    }
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Body {
    /// The assumed format: `{"serviceId", "vpcEndpointId", "eventType"}`,
    /// maybe with a state and an owner claim (a lie as often as not).
    Assumed {
        target: Option<usize>,
        event_type: usize,
        claimed_owner: Option<usize>,
        with_state: bool,
    },
    Text(String),
    Json(Value),
    Empty,
    /// Longer than the handler logs (32 KiB).
    Huge(usize),
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "vpce-[0-9a-f]{1,4}".prop_map(Value::from),
        "vpce-svc-[0-9a-f]{1,4}".prop_map(Value::from),
        prop::sample::select(ACCOUNTS.to_vec()).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("vpcEndpointId".to_string()),
                    Just("vpcEndpointOwner".to_string()),
                    Just("serviceId".to_string()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        16 => (
            prop::option::weighted(0.9, any::<usize>()),
            0..4usize,
            prop::option::weighted(0.3, any::<usize>()),
            any::<bool>()
        )
            .prop_map(|(target, event_type, claimed_owner, with_state)| Body::Assumed {
                target,
                event_type,
                claimed_owner,
                with_state
            }),
        1 => ".{0,60}".prop_map(Body::Text),
        1 => json_value().prop_map(Body::Json),
        1 => Just(Body::Empty),
        1 => (33_000usize..40_000).prop_map(Body::Huge),
    ]
}

#[derive(Debug, Clone)]
enum Loose {
    /// `Message` is a JSON object, not a string.
    MessageObject,
    NoMessageId,
    SubjectNumber,
    NoEventSource,
    /// Next to an SQS record.
    WithSqsRecord,
}

#[derive(Debug, Clone)]
enum RawEvent {
    /// Records: (message id seed, same id as the previous record, body).
    Sns(Vec<(u64, bool, Body)>),
    LooseSns(Vec<(u64, bool, Body)>, Loose),
    Sweep(u64),
    EmptyRecords,
    Sqs,
    OtherEventBridge(bool),
    Arbitrary(Value),
    RecordsNotArray(Value),
}

fn raw_event() -> impl Strategy<Value = RawEvent> {
    let records =
        || prop::collection::vec((any::<u64>(), prop::bool::weighted(0.15), body()), 1..5);
    prop_oneof![
        60 => records().prop_map(RawEvent::Sns),
        6 => (
            records(),
            prop::sample::select(vec![
                Loose::MessageObject,
                Loose::NoMessageId,
                Loose::SubjectNumber,
                Loose::NoEventSource,
                Loose::WithSqsRecord
            ])
        )
            .prop_map(|(r, l)| RawEvent::LooseSns(r, l)),
        20 => any::<u64>().prop_map(RawEvent::Sweep),
        3 => Just(RawEvent::EmptyRecords),
        2 => Just(RawEvent::Sqs),
        2 => any::<bool>().prop_map(RawEvent::OtherEventBridge),
        3 => json_value().prop_map(RawEvent::Arbitrary),
        1 => json_value()
            .prop_filter("not an array", |v| !v.is_array())
            .prop_map(RawEvent::RecordsNotArray),
    ]
}

/// What the event is, as the generator made it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// SNS notifications; the distinct message ids in order when every
    /// record is well formed.
    Sns(Option<Vec<String>>),
    Sweep,
    /// Not a trigger: no AWS call at all.
    Ignored,
}

fn message_id(seed: u64) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        seed >> 32,
        seed & 0xFFFF_FFFF_FFFF
    )
}

fn message(body: &Body, conns: &[FakeConn], service_id: &str) -> String {
    match body {
        Body::Assumed {
            target,
            event_type,
            claimed_owner,
            with_state,
        } => {
            let target = target
                .filter(|_| !conns.is_empty())
                .map(|i| &conns[i % conns.len()]);
            let event_type = ["Connect", "Accept", "Reject", "Delete"][*event_type];
            let mut m = json!({
                "serviceId": target.map_or(service_id, |c| c.service_id.as_str()),
                "vpcEndpointId": target.map_or("vpce-0ffffffffffffffff", |c| c.endpoint_id.as_str()),
                "eventType": event_type,
            });
            if let Some(i) = claimed_owner {
                m["vpcEndpointOwner"] = Value::from(ACCOUNTS[i % ACCOUNTS.len()]);
            }
            if *with_state {
                m["vpcEndpointState"] = Value::from("pendingAcceptance");
            }
            m.to_string()
        }
        Body::Text(t) => t.clone(),
        Body::Json(v) => v.to_string(),
        Body::Empty => String::new(),
        Body::Huge(n) => format!(
            "{{\"vpcEndpointId\": \"{}\", \"padding\": \"{}\"}}",
            conns
                .first()
                .map_or("vpce-0abc", |c| c.endpoint_id.as_str()),
            "x".repeat(*n)
        ),
    }
}

fn sns_record(message_id: &str, message: Value) -> Value {
    json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:111122223333:vpce-notifications:3d1b0e1c",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:vpce-notifications",
            "Subject": null,
            "Message": message,
            "Timestamp": "2026-11-22T05:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/x.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {}
        }
    })
}

fn build_event(raw: &RawEvent, conns: &[FakeConn], service_id: &str) -> (Value, Kind) {
    let records = |items: &[(u64, bool, Body)]| -> (Vec<Value>, Vec<String>) {
        let mut ids: Vec<String> = Vec::new();
        let mut records = Vec::new();
        let mut previous: Option<String> = None;
        for (seed, same, body) in items {
            let id = match (&previous, same) {
                (Some(p), true) => p.clone(),
                _ => message_id(*seed),
            };
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
            records.push(sns_record(
                &id,
                Value::from(message(body, conns, service_id)),
            ));
            previous = Some(id);
        }
        (records, ids)
    };
    match raw {
        RawEvent::Sns(items) => {
            let (records, ids) = records(items);
            (json!({ "Records": records }), Kind::Sns(Some(ids)))
        }
        RawEvent::LooseSns(items, loose) => {
            let (mut records, _) = records(items);
            let first = &mut records[0];
            match loose {
                Loose::MessageObject => {
                    let text = first["Sns"]["Message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let object = match serde_json::from_str::<Value>(&text) {
                        Ok(v) if v.is_object() => v,
                        Ok(v) => json!({ "value": v }),
                        Err(_) => json!({ "text": text }),
                    };
                    first["Sns"]["Message"] = object;
                }
                Loose::NoMessageId => {
                    if let Some(sns) = first["Sns"].as_object_mut() {
                        sns.remove("MessageId");
                    }
                }
                Loose::SubjectNumber => first["Sns"]["Subject"] = json!(42),
                Loose::NoEventSource => {
                    if let Some(r) = first.as_object_mut() {
                        r.remove("EventSource");
                    }
                }
                Loose::WithSqsRecord => records.insert(
                    0,
                    json!({"eventSource": "aws:sqs", "messageId": "m", "body": "{}"}),
                ),
            }
            (json!({ "Records": records }), Kind::Sns(None))
        }
        RawEvent::Sweep(seed) => (
            json!({
                "version": "0",
                "id": message_id(*seed),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "111122223333",
                "time": "2026-11-22T05:00:00Z",
                "region": "us-east-1",
                "resources": ["arn:aws:events:us-east-1:111122223333:rule/approver-sweep"],
                "detail": {}
            }),
            Kind::Sweep,
        ),
        RawEvent::EmptyRecords => (json!({"Records": []}), Kind::Ignored),
        RawEvent::Sqs => (
            json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": "{\"vpcEndpointId\": \"vpce-0abc\"}"}]}),
            Kind::Ignored,
        ),
        RawEvent::OtherEventBridge(events_source) => (
            if *events_source {
                json!({"source": "aws.events", "detail-type": "Something Else", "detail": {}})
            } else {
                json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}})
            },
            Kind::Ignored,
        ),
        RawEvent::Arbitrary(v) => (v.clone(), Kind::Ignored),
        RawEvent::RecordsNotArray(v) => (json!({ "Records": v }), Kind::Ignored),
    }
}

// ---------------------------------------------------------------------------
// One handler case
// ---------------------------------------------------------------------------

/// Registry failures: (code, whether Lambda should retry).
const REGISTRY_FAILURES: [(&str, bool); 5] = [
    ("ProvisionedThroughputExceededException", true),
    ("ThrottlingException", true),
    ("InternalServerError", true),
    ("ResourceNotFoundException", false),
    ("AccessDeniedException", false),
];

#[derive(Debug, Clone)]
struct Case {
    /// The configuration meant (the world is built around it).
    plain: Plain,
    /// The environment the function gets, and what its parse must give.
    env: BTreeMap<String, String>,
    expected_config: Expected,
    /// The tenant registry.
    registry: Vec<(String, TenantKind)>,
    /// Every registry read with a key fails with this (an index into
    /// [`REGISTRY_FAILURES`]).
    registry_failure: Option<usize>,
    connections: Vec<FakeConn>,
    /// Endpoint id → the state it moves to once the listing is complete.
    drift: Vec<(String, String)>,
    page_cap: usize,
    ignore_service_filter: bool,
    throttle_describe: Option<usize>,
    throttle_accept: bool,
    event: Value,
    kind: Kind,
}

fn case() -> impl Strategy<Value = Case> {
    let config = (
        plain("vpce-svc-0[0-9a-f]{16}"),
        style(),
        prop::option::weighted(0.04, env_spec()),
    );
    let world = (
        prop::collection::vec(raw_conn(), 0..17),
        any::<u64>(),
        1..=5usize,
        prop::bool::weighted(0.08),
        prop::option::weighted(0.06, 0..4usize),
        prop::bool::weighted(0.04),
    );
    let registry = (
        registry_plan(),
        prop::option::weighted(0.04, 0..REGISTRY_FAILURES.len()),
    );
    (config, world, registry, raw_event()).prop_map(
        |(
            (plain, style, invalid),
            (raw_conns, salt, page_cap, ignore_service_filter, throttle_describe, throttle_accept),
            (registry, registry_failure),
            raw_event,
        )| {
            let (env, expected_config) = match invalid {
                // An environment with something wrong in it.
                Some(mut spec) => {
                    if let (Break::No, Break::No) = (&spec.service, &spec.table) {
                        spec.service = Break::Missing;
                    }
                    spec.render()
                }
                None => EnvSpec {
                    plain: plain.clone(),
                    style,
                    service: Break::No,
                    table: Break::No,
                    policy: Break::No,
                    revoke: Break::No,
                    dry_run: Break::No,
                    noise: Vec::new(),
                }
                .render(),
            };
            let connections: Vec<FakeConn> = raw_conns
                .iter()
                .enumerate()
                .map(|(i, raw)| resolve_conn(i, salt, raw, &plain.service_id, &registry))
                .collect();
            let drift = raw_conns
                .iter()
                .zip(&connections)
                .filter_map(|(r, c)| r.drift.map(|s| (c.endpoint_id.clone(), s.to_string())))
                .collect();
            let (event, kind) = build_event(&raw_event, &connections, &plain.service_id);
            Case {
                plain,
                env,
                expected_config,
                registry,
                registry_failure,
                connections,
                drift,
                page_cap,
                ignore_service_filter,
                throttle_describe,
                throttle_accept,
                event,
                kind,
            }
        },
    )
}

// ---------------------------------------------------------------------------
// The oracle: plain data in, the expected end state out
// ---------------------------------------------------------------------------

/// What the rule says for one listed connection of the configured service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Accept,
    /// pendingAcceptance, refused by the registry for this reason; then
    /// rejected or left pending by the policy.
    Refuse(&'static str),
    /// pending/available, owner no longer entitled, revocation on.
    Revoke(&'static str),
    Leave,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Configuration,
    Ignored,
    Transient,
    /// Logged, and the invocation succeeds (`permanent_error`).
    Permanent,
    Reconciled {
        accepted: usize,
        rejected: usize,
        failed: usize,
    },
}

/// Describe filters other than `service-id`, as the fake logs them.
type Filters = Vec<(String, Vec<String>)>;

fn filters(pairs: &[(&str, &[&str])]) -> Filters {
    pairs
        .iter()
        .map(|(name, values)| {
            (
                name.to_string(),
                values.iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect()
}

#[derive(Debug, Default)]
struct Oracle {
    answer: Option<Answer>,
    /// Endpoint id → state afterwards, for every connection of every service.
    states: BTreeMap<String, Option<String>>,
    /// Connection id → (decision, reason) written by CreateTags.
    tagged: BTreeMap<String, (&'static str, &'static str)>,
    trigger: &'static str,
    /// Each Describe call's filters besides `service-id`, in order.
    listings: Vec<Filters>,
    /// The accounts of each registry read.
    registry_reads: Vec<Vec<String>>,
    accept_ids: BTreeSet<String>,
    reject_ids: BTreeSet<String>,
    refused: BTreeSet<String>,
    // What was reached, for the counts.
    every_connection: bool,
    quota_listings: usize,
    registry_failed: bool,
    accepted: usize,
    rejected_policy: usize,
    revoked: usize,
    left_pending: usize,
    would_change: usize,
    /// Registry refusals (of requests and, revoking, of live ones) by reason.
    refusals: BTreeMap<&'static str, usize>,
}

/// The registry's refusal for an owner of this standing (`None`: not in
/// the registry), or `None` when entitled.
fn refusal(standing: Option<TenantKind>) -> Option<&'static str> {
    match standing {
        None => Some("not_a_tenant"),
        Some(TenantKind::Suspended) => Some("tenant_suspended"),
        Some(TenantKind::Expired) => Some("tenant_expired"),
        Some(TenantKind::Active | TenantKind::Expiring | TenantKind::Quota(_)) => None,
    }
}

fn oracle(case: &Case) -> Oracle {
    let mut o = Oracle {
        states: case
            .connections
            .iter()
            .map(|c| (c.endpoint_id.clone(), c.state.clone()))
            .collect(),
        ..Oracle::default()
    };
    let p = match &case.expected_config {
        Expected::Invalid(_) => {
            o.answer = Some(Answer::Configuration);
            return o;
        }
        Expected::Valid(p) => p,
    };
    o.trigger = match &case.kind {
        Kind::Ignored => {
            o.answer = Some(Answer::Ignored);
            return o;
        }
        Kind::Sns(_) => "sns",
        Kind::Sweep => "sweep",
    };
    // A notification reads the requests waiting; so does a sweep, unless
    // it revokes, when it reads every connection.
    o.every_connection = case.kind == Kind::Sweep && p.revoke;
    let in_listing = |c: &FakeConn| case.ignore_service_filter || c.service_id == p.service_id;
    let pages = |n: usize| n.div_ceil(case.page_cap).max(1);
    let standing = |owner: &str| {
        case.registry
            .iter()
            .find(|(id, _)| id == owner)
            .map(|(_, kind)| *kind)
    };
    // Makes the Describe calls of one listing; false when one is throttled.
    let list = |o: &mut Oracle, filter: Filters, items: usize| {
        for _ in 0..pages(items) {
            o.listings.push(filter.clone());
            if case.throttle_describe == Some(o.listings.len() - 1) {
                o.answer = Some(Answer::Transient);
                return false;
            }
        }
        true
    };

    // 1. The listing.
    let listed: Vec<&FakeConn> = case
        .connections
        .iter()
        .filter(|c| in_listing(c))
        .filter(|c| o.every_connection || c.state.as_deref() == Some("pendingAcceptance"))
        .collect();
    let filter = if o.every_connection {
        Vec::new()
    } else {
        filters(&[("vpc-endpoint-state", &["pendingAcceptance"])])
    };
    if !list(&mut o, filter, listed.len()) {
        return o;
    }
    // The listing is complete: the world moves on.
    for (id, state) in &case.drift {
        o.states.insert(id.clone(), Some(state.clone()));
    }
    let ours: Vec<&FakeConn> = listed
        .into_iter()
        .filter(|c| c.service_id == p.service_id)
        .collect();
    let is_live =
        |s: Option<&str>| matches!(s, Some("pendingAcceptance" | "pending" | "available"));

    // 2. The registry, once, for the owners of the live connections listed.
    let owners: Vec<String> = ours
        .iter()
        .filter(|c| is_live(c.state.as_deref()))
        .filter_map(|c| c.owner.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    o.registry_reads = vec![owners.clone()];
    if let Some((_, transient)) = case
        .registry_failure
        .filter(|_| !owners.is_empty())
        .map(|i| REGISTRY_FAILURES[i])
    {
        o.registry_failed = true;
        o.answer = Some(if transient {
            Answer::Transient
        } else {
            Answer::Permanent
        });
        return o;
    }

    // 3. Each owner's live endpoints: in the listing when it holds every
    // connection, else one narrow listing per owner with a quota.
    let mut live: HashMap<String, usize> = HashMap::new();
    if o.every_connection {
        for c in &ours {
            if let (Some(owner), Some("pending" | "available")) = (&c.owner, c.state.as_deref()) {
                *live.entry(owner.clone()).or_default() += 1;
            }
        }
    } else {
        for owner in &owners {
            if !matches!(standing(owner), Some(TenantKind::Quota(_))) {
                continue;
            }
            let theirs: Vec<&FakeConn> = case
                .connections
                .iter()
                .filter(|c| in_listing(c) && c.owner.as_deref() == Some(owner.as_str()))
                .filter(|c| {
                    matches!(
                        o.states.get(&c.endpoint_id).cloned().flatten().as_deref(),
                        Some("pending" | "available")
                    )
                })
                .collect();
            let filter = filters(&[
                ("vpc-endpoint-owner", &[owner.as_str()]),
                ("vpc-endpoint-state", &["pending", "available"]),
            ]);
            if !list(&mut o, filter, theirs.len()) {
                return o;
            }
            o.quota_listings += 1;
            let count = theirs
                .iter()
                .filter(|c| c.service_id == p.service_id)
                .count();
            live.insert(owner.clone(), count);
        }
    }

    // 4. The plan, in listing order; each accept counts against the quota.
    let intents: Vec<(&FakeConn, Intent)> = ours
        .iter()
        .map(|c| {
            let (Some(owner), Some(state)) = (&c.owner, &c.state) else {
                return (*c, Intent::Leave);
            };
            let standing = standing(owner);
            let intent = match state.as_str() {
                "pendingAcceptance" => match (refusal(standing), standing) {
                    (Some(reason), _) => Intent::Refuse(reason),
                    (None, Some(TenantKind::Quota(max)))
                        if live.get(owner).copied().unwrap_or(0) >= max as usize =>
                    {
                        Intent::Refuse("over_quota")
                    }
                    (None, _) => {
                        *live.entry(owner.clone()).or_default() += 1;
                        Intent::Accept
                    }
                },
                "pending" | "available" => match refusal(standing) {
                    Some(reason) if p.revoke => Intent::Revoke(reason),
                    _ => Intent::Leave,
                },
                _ => Intent::Leave,
            };
            (*c, intent)
        })
        .collect();
    for (_, intent) in &intents {
        if let Intent::Refuse(reason) | Intent::Revoke(reason) = intent {
            *o.refusals.entry(reason).or_default() += 1;
        }
    }
    let count = |want: &dyn Fn(&Intent) -> bool| intents.iter().filter(|(_, i)| want(i)).count();
    if p.leave_pending {
        o.left_pending = count(&|i| matches!(i, Intent::Refuse(_)));
    }
    if p.dry_run {
        o.would_change = count(&|i| match i {
            Intent::Accept | Intent::Revoke(_) => true,
            Intent::Refuse(_) => !p.leave_pending,
            Intent::Leave => false,
        });
        o.answer = Some(Answer::Reconciled {
            accepted: 0,
            rejected: 0,
            failed: 0,
        });
        return o;
    }

    // 5. Accepts, then rejects; a throttled accept stops the run.
    let accept_fails = case.throttle_accept && count(&|i| *i == Intent::Accept) > 0;
    let (mut accepted, mut rejected) = (0, 0);
    for (c, intent) in &intents {
        let id = &c.endpoint_id;
        let now = o.states.get(id).cloned().flatten();
        let (from, to, tag): (&[&str], &str, (&'static str, &'static str)) = match *intent {
            Intent::Accept => {
                o.accept_ids.insert(id.clone());
                (
                    &["pendingAcceptance"],
                    "pending",
                    ("accept", "entitled_tenant"),
                )
            }
            Intent::Refuse(reason) if p.leave_pending => {
                // Recorded, unless the same decision is recorded already.
                let same = c.tags.get(DECISION_TAG).map(String::as_str) == Some("leave")
                    && c.tags.get(REASON_TAG).map(String::as_str) == Some(reason)
                    && c.tags.get(TRIGGER_TAG).map(String::as_str) == Some(o.trigger);
                if let (Some(con), false) = (&c.connection_id, same) {
                    o.tagged.insert(con.clone(), ("leave", reason));
                }
                continue;
            }
            Intent::Refuse(reason) | Intent::Revoke(reason) if !accept_fails => {
                o.reject_ids.insert(id.clone());
                (
                    &["pendingAcceptance", "pending", "available"],
                    "rejected",
                    ("reject", reason),
                )
            }
            _ => continue,
        };
        if accept_fails {
            continue;
        }
        if now.as_deref().is_some_and(|s| from.contains(&s)) {
            o.states.insert(id.clone(), Some(to.to_string()));
            if let Some(con) = &c.connection_id {
                o.tagged.insert(con.clone(), tag);
            }
            match intent {
                Intent::Accept => accepted += 1,
                Intent::Revoke(_) => {
                    rejected += 1;
                    o.revoked += 1;
                }
                _ => {
                    rejected += 1;
                    o.rejected_policy += 1;
                }
            }
        } else {
            o.refused.insert(id.clone());
        }
    }
    o.accepted = accepted;
    o.answer = Some(if accept_fails {
        Answer::Transient
    } else {
        Answer::Reconciled {
            accepted,
            rejected,
            failed: o.refused.len(),
        }
    });
    o
}

/// The handler's answer, the registry's reads and the fake's end state
/// against the oracle.
fn check(
    case: &Case,
    o: &Oracle,
    result: &Result<approver_lambda::handler::Response, HandlerError>,
    fake: &Fake,
    registry: &FakeRegistry,
) -> TestCaseResult {
    let calls = fake.calls();
    let answer = o.answer.clone().unwrap_or(Answer::Ignored);
    match (&answer, result) {
        (Answer::Configuration, Err(HandlerError::Configuration(_))) => {}
        (Answer::Transient, Err(HandlerError::Transient(_))) => {}
        (Answer::Ignored, Ok(r)) => prop_assert_eq!(r.status, "ignored"),
        (Answer::Permanent, Ok(r)) => {
            prop_assert_eq!(r.status, "permanent_error");
            let detail = r.detail.clone().unwrap_or_default();
            prop_assert!(detail.contains("tenant registry"), "{}", detail);
        }
        (
            Answer::Reconciled {
                accepted,
                rejected,
                failed,
            },
            Ok(r),
        ) => {
            prop_assert_eq!(r.status, "reconciled");
            prop_assert_eq!(
                (r.accepted, r.rejected, r.failed),
                (*accepted, *rejected, *failed)
            );
            match (&case.kind, &r.trigger) {
                (Kind::Sweep, Some(Trigger::Sweep)) => {}
                (Kind::Sns(Some(ids)), Some(Trigger::Sns(got))) => prop_assert_eq!(got, ids),
                (Kind::Sns(None), Some(Trigger::Sns(_))) => {}
                (kind, trigger) => prop_assert!(false, "trigger {trigger:?} for {kind:?}"),
            }
        }
        (answer, result) => prop_assert!(false, "expected {answer:?}, got {result:?}"),
    }
    // The registry: read once a run, for exactly the owners to decide on.
    prop_assert_eq!(&registry.reads(), &o.registry_reads);

    let Expected::Valid(p) = &case.expected_config else {
        prop_assert!(
            calls.is_empty(),
            "calls with an invalid configuration: {calls:?}"
        );
        return Ok(());
    };
    // Describe: every page of each listing, with exactly its filters, each
    // filtered by the service too, and no more.
    prop_assert_eq!(&fake.listings(), &o.listings, "{:?}", calls);
    let by_service = ("service-id".to_string(), vec![p.service_id.clone()]);
    for call in &calls {
        if let Call::Describe { filters, .. } = call {
            prop_assert!(filters.contains(&by_service), "{filters:?}");
        }
    }
    // Accept and Reject: for the configured service, each id once, exactly
    // the ones the rule names.
    let mut accept_ids = Vec::new();
    let mut reject_ids = Vec::new();
    let mut tagged = Vec::new();
    for call in &calls {
        match call {
            Call::Accept { service_id, ids } => {
                prop_assert_eq!(service_id, &p.service_id);
                accept_ids.extend(ids.iter().cloned());
            }
            Call::Reject { service_id, ids } => {
                prop_assert_eq!(service_id, &p.service_id);
                reject_ids.extend(ids.iter().cloned());
            }
            Call::CreateTags { resources, tags } => {
                for r in resources {
                    tagged.push((r.clone(), tags.clone()));
                }
            }
            Call::Describe { .. } => {}
        }
    }
    let once = |ids: &[String]| ids.iter().collect::<BTreeSet<_>>().len() == ids.len();
    prop_assert!(once(&accept_ids) && once(&reject_ids), "{calls:?}");
    if p.dry_run || o.registry_failed || o.listings.is_empty() {
        prop_assert!(!calls.iter().any(Call::is_mutating), "{calls:?}");
    }
    let got: BTreeSet<String> = accept_ids.into_iter().collect();
    prop_assert_eq!(&got, &o.accept_ids);
    let got: BTreeSet<String> = reject_ids.into_iter().collect();
    prop_assert_eq!(&got, &o.reject_ids);
    // Unsuccessful items: only for what changed after the listing.
    let refusals = fake.with(|w| w.refusals.clone());
    let refused: BTreeSet<String> = refusals.iter().map(|r| r.endpoint_id.clone()).collect();
    prop_assert_eq!(&refused, &o.refused);
    prop_assert!(
        refusals.iter().all(|r| r.code == "IncorrectState"),
        "{refusals:?}"
    );
    // The history: exactly the expected connections, tagged once each,
    // with the rule that decided.
    let tagged_ids: Vec<&String> = tagged.iter().map(|(r, _)| r).collect();
    prop_assert_eq!(
        tagged_ids.len(),
        o.tagged.len(),
        "{:?} vs {:?}",
        tagged_ids,
        o.tagged
    );
    for (resource, tags) in &tagged {
        let want = o.tagged.get(resource);
        prop_assert!(want.is_some(), "{resource} tagged unexpectedly");
        let (decision, reason) = want.copied().unwrap_or_default();
        let tags: BTreeMap<&str, &str> =
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prop_assert_eq!(tags.get(DECISION_TAG).copied(), Some(decision));
        prop_assert_eq!(tags.get(REASON_TAG).copied(), Some(reason));
        prop_assert_eq!(tags.get(TRIGGER_TAG).copied(), Some(o.trigger));
        prop_assert!(tags.get(AT_TAG).is_some_and(|at| !at.is_empty()));
    }
    // The end state of every connection of every service.
    let after = fake.connections();
    prop_assert_eq!(after.len(), case.connections.len());
    for (before, now) in case.connections.iter().zip(&after) {
        prop_assert_eq!(&now.endpoint_id, &before.endpoint_id);
        prop_assert_eq!(
            &now.state,
            o.states.get(&now.endpoint_id).unwrap_or(&None),
            "{} of {} (owner {:?}, was {:?})",
            now.endpoint_id,
            now.service_id,
            before.owner,
            before.state
        );
        let was_tagged = now
            .connection_id
            .as_ref()
            .is_some_and(|id| o.tagged.contains_key(id));
        if was_tagged {
            let strip = |t: &BTreeMap<String, String>| {
                t.iter()
                    .filter(|(k, _)| !k.starts_with("privatelink-kit:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>()
            };
            // Tags of its own are kept.
            prop_assert_eq!(strip(&now.tags), strip(&before.tags));
        } else {
            prop_assert_eq!(&now.tags, &before.tags, "{} retagged", now.endpoint_id);
        }
        if now.service_id != p.service_id {
            prop_assert_eq!(now, before, "another service's connection changed");
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
struct HandlerCounts {
    accept: usize,
    reject: usize,
    leave_pending: usize,
    revoke: usize,
    dry_run: usize,
    unsuccessful: usize,
    sns: usize,
    sweep_requests: usize,
    sweep_everything: usize,
    ignored: usize,
    invalid_config: usize,
    transient: usize,
    registry_transient: usize,
    registry_permanent: usize,
    quota_listing: usize,
    multi_page: usize,
    unfiltered_listing: usize,
    accepted_connections: usize,
    /// Cases with at least one refusal of this reason.
    refusals: BTreeMap<&'static str, usize>,
}

#[test]
fn the_handler_leaves_ec2_exactly_as_an_independent_oracle_expects() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let counts = RefCell::new(HandlerCounts::default());
    let started = Instant::now();
    run("handler", case(), |case| {
        // The function's own parse of its environment.
        let config = ApproverConfig::from_lookup(|name| case.env.get(name).cloned());
        check_parse(None, &case.env, &case.expected_config, &config)?;

        let mut world = World::new(case.connections.clone());
        world.services.insert(case.plain.service_id.clone());
        world
            .services
            .extend(OTHER_SERVICES.iter().map(|s| s.to_string()));
        world.page_cap = case.page_cap;
        world.ignore_service_filter = case.ignore_service_filter;
        world.drift = case.drift.clone();
        world.throttle_describe = case.throttle_describe;
        world.throttle_accept = case.throttle_accept;
        let fake = Fake::from_world(world);
        let registry = FakeRegistry::new(tenants(&case.registry, now_epoch()));
        if let Some(i) = case.registry_failure {
            registry.fail_with("BatchGetItem", REGISTRY_FAILURES[i].0);
        }
        let approver = Approver::new(fake.client(), config, |_| registry.clone());
        let result = runtime.block_on(handle(&approver, case.event.clone()));
        let o = oracle(&case);
        check(&case, &o, &result, &fake, &registry)?;

        let mut c = counts.borrow_mut();
        let dry_run = matches!(&case.expected_config, Expected::Valid(p) if p.dry_run);
        let listed = !o.listings.is_empty();
        c.accept += usize::from(o.accepted > 0);
        c.accepted_connections += o.accepted;
        c.reject += usize::from(o.rejected_policy > 0);
        c.revoke += usize::from(o.revoked > 0);
        c.leave_pending += usize::from(o.left_pending > 0);
        c.dry_run += usize::from(dry_run && o.would_change > 0);
        c.unsuccessful += usize::from(!o.refused.is_empty());
        match (&o.answer, &case.kind) {
            (Some(Answer::Configuration), _) => c.invalid_config += 1,
            (Some(Answer::Ignored), _) => c.ignored += 1,
            (_, Kind::Sweep) if o.every_connection => c.sweep_everything += 1,
            (_, Kind::Sweep) => c.sweep_requests += 1,
            (_, _) => c.sns += 1,
        }
        c.transient += usize::from(o.answer == Some(Answer::Transient));
        if o.registry_failed {
            if o.answer == Some(Answer::Transient) {
                c.registry_transient += 1;
            } else {
                c.registry_permanent += 1;
            }
        }
        c.quota_listing += usize::from(o.quota_listings > 0);
        for reason in o.refusals.keys() {
            *c.refusals.entry(reason).or_default() += 1;
        }
        c.multi_page += usize::from(o.listings.len() > 1);
        c.unfiltered_listing += usize::from(case.ignore_service_filter && listed);
        Ok(())
    });
    let c = counts.into_inner();
    eprintln!(
        "handler: {CASES} cases in {:.1?}, each through the real handler and SDK client:\n  \
         reached an accept: {} (connections accepted: {}), a reject: {}, a leave-pending: {}, a revoke: {}, a dry run with something to do: {}\n  \
         registry refusals (cases with at least one, by rule): {:?}; quota listings: {}\n  \
         Unsuccessful items: {}; SNS triggers: {}, sweeps of the requests: {}, sweeps of everything (revoking): {}, ignored events: {}, invalid configurations: {}\n  \
         transient failures: {} (of the registry: {}), permanent registry failures: {}\n  \
         several Describe calls: {}, listings ignoring the service filter: {}",
        started.elapsed(),
        c.accept,
        c.accepted_connections,
        c.reject,
        c.leave_pending,
        c.revoke,
        c.dry_run,
        c.refusals,
        c.quota_listing,
        c.unsuccessful,
        c.sns,
        c.sweep_requests,
        c.sweep_everything,
        c.ignored,
        c.invalid_config,
        c.transient,
        c.registry_transient,
        c.registry_permanent,
        c.multi_page,
        c.unfiltered_listing,
    );
    assert!(c.accept >= 1_000, "{c:?}");
    for reason in [
        "not_a_tenant",
        "tenant_suspended",
        "tenant_expired",
        "over_quota",
    ] {
        let n = c.refusals.get(reason).copied().unwrap_or(0);
        assert!(
            n >= 300,
            "{reason} reached {n} times, fewer than 300: {c:?}"
        );
    }
    for (what, n, floor) in [
        ("reject", c.reject, 500),
        ("leave-pending", c.leave_pending, 500),
        ("revoke", c.revoke, 200),
        ("dry run", c.dry_run, 300),
        ("unsuccessful", c.unsuccessful, 100),
        ("sweep of the requests", c.sweep_requests, 500),
        ("sweep of everything", c.sweep_everything, 500),
        ("ignored", c.ignored, 300),
        ("invalid configuration", c.invalid_config, 100),
        ("transient", c.transient, 100),
        ("registry transient", c.registry_transient, 50),
        ("registry permanent", c.registry_permanent, 30),
        ("quota listing", c.quota_listing, 500),
        ("several Describe calls", c.multi_page, 2_000),
        ("unfiltered listing", c.unfiltered_listing, 300),
    ] {
        assert!(
            n >= floor,
            "{what} reached {n} times, fewer than {floor}: {c:?}"
        );
    }
}
