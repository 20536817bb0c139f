//! The operator's view of the service's connections: owner, state, age,
//! the owner's standing in the tenant registry (and whether it is an
//! allowed principal), and the last decision recorded on the connection.
//! The same rows serve `connections` and `history`.

use std::fmt;
use std::time::SystemTime;

use super::drift::Drift;
use super::principals::Principals;
use crate::approval::{LastDecision, Listed, Standing, Tenants};
use crate::state::EndpointState;

/// A tenant's standing as shown and serialized (`entitled`, `suspended`,
/// `expired`, `not_a_tenant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStanding {
    Entitled,
    Suspended,
    Expired,
    NotATenant,
}

impl From<Standing> for TenantStanding {
    fn from(standing: Standing) -> Self {
        match standing {
            Standing::Entitled { .. } => TenantStanding::Entitled,
            Standing::Suspended => TenantStanding::Suspended,
            Standing::Expired => TenantStanding::Expired,
            Standing::NotATenant => TenantStanding::NotATenant,
        }
    }
}

impl TenantStanding {
    pub fn as_str(&self) -> &'static str {
        match self {
            TenantStanding::Entitled => "entitled",
            TenantStanding::Suspended => "suspended",
            TenantStanding::Expired => "expired",
            TenantStanding::NotATenant => "not a tenant",
        }
    }
}

/// One connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionRow {
    pub endpoint_id: String,
    pub connection_id: Option<String>,
    pub owner: Option<String>,
    pub state: Option<EndpointState>,
    /// Creation time, RFC 3339.
    pub created: Option<String>,
    pub age_seconds: Option<u64>,
    /// The owner's tenant name, when the owner is a tenant.
    pub tenant: Option<String>,
    /// The owner's standing in the registry; absent when the registry was
    /// not read.
    pub standing: Option<TenantStanding>,
    /// The owner is an allowed principal of the service (explicitly, or
    /// through `*`).
    pub in_allowed_principals: bool,
    pub last_decision: Option<LastDecision>,
}

impl ConnectionRow {
    /// `Acme (entitled)`, `Acme (suspended)`, `not a tenant`, or `-` when
    /// the registry was not read.
    pub fn tenant_cell(&self) -> String {
        match (&self.tenant, self.standing) {
            (_, None) => "-".into(),
            (Some(name), Some(standing)) => format!("{name} ({})", standing.as_str()),
            (None, Some(standing)) => standing.as_str().into(),
        }
    }
}

/// Builds the rows, keeping only connections in one of `states` (all when
/// empty). `tenants` holds the owners' tenants as read from the registry
/// (`None`: not read).
pub fn rows(
    listed: &[Listed],
    tenants: Option<&Tenants>,
    principals: &Principals,
    states: &[EndpointState],
    now: SystemTime,
) -> Vec<ConnectionRow> {
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    listed
        .iter()
        .filter(|l| {
            states.is_empty()
                || l.connection
                    .state
                    .as_ref()
                    .is_some_and(|s| states.contains(s))
        })
        .map(|l| {
            let owner = l.connection.owner.clone();
            let tenant = owner
                .as_deref()
                .and_then(|o| tenants.and_then(|t| t.by_account.get(o)));
            let standing = match (tenants, owner.as_deref()) {
                (Some(tenants), Some(owner)) => Some(tenants.standing(owner).into()),
                _ => None,
            };
            ConnectionRow {
                endpoint_id: l.connection.endpoint_id.clone(),
                connection_id: l.connection_id.clone(),
                state: l.connection.state.clone(),
                created: l
                    .created
                    .and_then(|c| c.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
                age_seconds: l
                    .created
                    .map(|c| now_secs.saturating_sub(c.secs()).max(0) as u64),
                tenant: tenant.map(|t| t.name.clone()),
                standing,
                in_allowed_principals: principals.any()
                    || owner.as_deref().is_some_and(|o| principals.allows(o)),
                last_decision: l.last.clone(),
                owner,
            }
        })
        .collect()
}

/// Parses a `--state` value: any casing, with or without `-`/`_`
/// (`pendingAcceptance`, `pending-acceptance`, `AVAILABLE`). Unknown names
/// are an error listing the valid ones.
pub fn parse_state(raw: &str) -> Result<EndpointState, String> {
    let squashed: String = raw.chars().filter(|c| *c != '-' && *c != '_').collect();
    match EndpointState::from_wire(&squashed) {
        EndpointState::Other(_) => Err(format!(
            "{raw:?} is not a connection state: use one of pendingAcceptance, pending, available, \
             rejected, deleting, deleted, failed, expired, partial"
        )),
        state => Ok(state),
    }
}

/// A short age: `42s`, `5m`, `3h12m`, `2d4h`.
pub fn short_age(seconds: u64) -> String {
    let (d, h, m) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

/// `connections`: the rows plus the drift warning, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionsView {
    pub service_id: String,
    pub connections: Vec<ConnectionRow>,
    /// The principals compared with the registry, when it could be read.
    pub drift: Option<Drift>,
    /// Why the tenant registry could not be read, if it could not.
    pub registry_problem: Option<String>,
}

/// A left-aligned table with a header (shared by the operator views).
pub(super) fn table(
    f: &mut fmt::Formatter<'_>,
    header: &[&str],
    rows: &[Vec<String>],
) -> fmt::Result {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(&format!("{cell:<w$}"));
        }
        write!(f, "{}", text.trim_end())
    };
    line(f, &header.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
    for row in rows {
        writeln!(f)?;
        line(f, row)?;
    }
    Ok(())
}

fn opt(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

impl fmt::Display for ConnectionsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.connections.is_empty() {
            write!(f, "{}: no connections", self.service_id)?;
        } else {
            writeln!(
                f,
                "{}: {} connection(s)",
                self.service_id,
                self.connections.len()
            )?;
            let rows: Vec<Vec<String>> = self
                .connections
                .iter()
                .map(|c| {
                    vec![
                        c.endpoint_id.clone(),
                        opt(c.owner.as_deref()),
                        opt(c.state.as_ref().map(EndpointState::as_wire)),
                        c.age_seconds.map_or("-".into(), short_age),
                        c.tenant_cell(),
                        if c.in_allowed_principals { "yes" } else { "no" }.to_string(),
                        c.last_decision.as_ref().map_or("-".into(), |d| {
                            format!("{} ({}, {})", d.decision, d.reason, d.trigger)
                        }),
                    ]
                })
                .collect();
            table(
                f,
                &[
                    "ENDPOINT",
                    "OWNER",
                    "STATE",
                    "AGE",
                    "TENANT",
                    "PRINCIPAL",
                    "LAST DECISION",
                ],
                &rows,
            )?;
        }
        if let Some(problem) = &self.registry_problem {
            write!(f, "\nwarning: {problem}")?;
        } else if let Some(drift) = self.drift.as_ref().filter(|d| !d.in_sync) {
            write!(f, "\n{drift}")?;
        }
        Ok(())
    }
}

/// `history`: the last decision recorded on each connection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryView {
    pub service_id: String,
    pub connections: Vec<ConnectionRow>,
}

impl fmt::Display for HistoryView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.connections.is_empty() {
            return write!(f, "{}: no connections", self.service_id);
        }
        writeln!(f, "{}: last decision per connection", self.service_id)?;
        let rows: Vec<Vec<String>> = self
            .connections
            .iter()
            .map(|c| {
                let d = c.last_decision.as_ref();
                vec![
                    c.endpoint_id.clone(),
                    opt(c.owner.as_deref()),
                    opt(c.state.as_ref().map(EndpointState::as_wire)),
                    opt(d.map(|d| d.decision.as_str())),
                    opt(d.map(|d| d.reason.as_str())),
                    opt(d.map(|d| d.trigger.as_str())),
                    opt(d.and_then(|d| d.by.as_deref())),
                    opt(d.map(|d| d.at.as_str())),
                ]
            })
            .collect();
        table(
            f,
            &[
                "ENDPOINT", "OWNER", "STATE", "DECISION", "REASON", "TRIGGER", "BY", "AT",
            ],
            &rows,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::{AccountId, Connection, Tenant, TenantStatus};

    fn listed(id: &str, owner: &str, state: &str, created: i64) -> Listed {
        Listed {
            connection: Connection {
                endpoint_id: id.into(),
                owner: Some(owner.into()),
                state: Some(EndpointState::from_wire(state)),
                region: Some("us-east-1".into()),
            },
            connection_id: Some(format!("vpce-con-{id}")),
            created: Some(aws_smithy_types::DateTime::from_secs(created)),
            last: None,
        }
    }

    #[test]
    fn rows_filter_by_state_and_show_the_owners_standing() {
        let all = [
            listed("vpce-1", "111111111111", "pendingAcceptance", 1_000),
            listed("vpce-2", "222222222222", "available", 1_000),
            listed("vpce-3", "333333333333", "rejected", 1_000),
        ];
        let acme = Tenant::active(AccountId::parse("111111111111").expect("valid"), "Acme");
        let globex = Tenant {
            status: TenantStatus::Suspended,
            ..Tenant::active(AccountId::parse("333333333333").expect("valid"), "Globex")
        };
        let tenants = Tenants::new([acme, globex], 5_000);
        let principals = Principals::from_list([
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::222222222222:root",
        ]);
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + 3_700);
        let every = rows(&all, Some(&tenants), &principals, &[], now);
        let cells: Vec<_> = every.iter().map(ConnectionRow::tenant_cell).collect();
        assert_eq!(
            cells,
            ["Acme (entitled)", "not a tenant", "Globex (suspended)"]
        );
        let allowed: Vec<_> = every.iter().map(|r| r.in_allowed_principals).collect();
        assert_eq!(allowed, [true, true, false]);
        assert_eq!(every[0].age_seconds, Some(3_700));
        assert_eq!(every[0].created.as_deref(), Some("1970-01-01T00:16:40Z"));
        let json = serde_json::to_value(&every[1]).expect("serializes");
        assert_eq!(json["standing"], "not_a_tenant");
        let pending = rows(
            &all,
            None,
            &Principals::from_list(["*"]),
            &[EndpointState::PendingAcceptance, EndpointState::Rejected],
            now,
        );
        let ids: Vec<_> = pending.iter().map(|r| r.endpoint_id.as_str()).collect();
        assert_eq!(ids, ["vpce-1", "vpce-3"]);
        assert_eq!(pending[0].tenant_cell(), "-");
        assert!(pending.iter().all(|r| r.in_allowed_principals));
    }

    #[test]
    fn states_parse_in_any_spelling() {
        for raw in [
            "pendingAcceptance",
            "pending-acceptance",
            "PENDING_ACCEPTANCE",
        ] {
            assert_eq!(
                parse_state(raw),
                Ok(EndpointState::PendingAcceptance),
                "{raw}"
            );
        }
        assert_eq!(parse_state("Available"), Ok(EndpointState::Available));
        let error = parse_state("accepted").expect_err("not a state");
        assert!(
            error.contains("\"accepted\" is not a connection state"),
            "{error}"
        );
    }

    #[test]
    fn ages_are_short() {
        let cases = [
            (5, "5s"),
            (300, "5m"),
            (3_720, "1h2m"),
            (2 * 86_400 + 4 * 3_600, "2d4h"),
        ];
        for (secs, text) in cases {
            assert_eq!(short_age(secs), text);
        }
    }
}
