//! Tenants in and out as CSV or JSON, for `tenants import` and `tenants
//! export`. Pure. Every problem of a file is reported at once, with its line
//! (CSV) or index (JSON) and what to write, and nothing is imported from a
//! file with problems.
//!
//! CSV: a header line naming the columns (any order; `account_id` required;
//! `name`, `status`, `expires_at`, `max_endpoints`, `allowed_regions`,
//! `notes` optional), one tenant per line. Fields may be quoted with `"` (a
//! `""` inside is a quote), so names and notes may hold commas. `expires_at`
//! is RFC 3339 (`2027-06-30T00:00:00Z`), empty for none. `allowed_regions`
//! is the consumer regions the tenant may connect from, separated by spaces
//! or `;` (`eu-west-1;us-east-1`), empty for every region the service
//! supports. JSON: an array of objects with the same keys (`allowed_regions`
//! an array of strings, or a string as in CSV). Export writes both with every column, so an export
//! imports back unchanged.

use std::collections::HashSet;

use aws_smithy_types::date_time::{DateTime, Format};
use privatelink_core::approval::{parse_regions, AccountId, Tenant, TenantStatus};

/// The columns, in export order.
pub const COLUMNS: [&str; 7] = [
    "account_id",
    "name",
    "status",
    "expires_at",
    "max_endpoints",
    "allowed_regions",
    "notes",
];

/// An RFC 3339 time as seconds since the epoch.
pub fn parse_time(raw: &str) -> Result<i64, String> {
    DateTime::from_str(raw.trim(), Format::DateTime)
        .map(|t| t.secs())
        .map_err(|_| format!("{raw:?} is not an RFC 3339 time: write it like 2027-06-30T00:00:00Z"))
}

/// Seconds since the epoch as RFC 3339.
pub fn format_time(secs: i64) -> String {
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// One row's fields, before validation.
#[derive(Debug, Default)]
struct Row {
    account_id: Option<String>,
    name: Option<String>,
    status: Option<String>,
    expires_at: Option<String>,
    max_endpoints: Option<String>,
    allowed_regions: Option<String>,
    notes: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Validates a row into a tenant (version 0: a row carries no version).
fn tenant(row: Row, at: &str, problems: &mut Vec<String>) -> Option<Tenant> {
    let before = problems.len();
    let account = non_empty(row.account_id);
    let account_id = match account.as_deref().map(AccountId::parse) {
        None => {
            problems.push(format!(
                "{at}: account_id is empty: write the 12-digit account id"
            ));
            None
        }
        Some(Err(e)) => {
            problems.push(format!("{at}: {e}"));
            None
        }
        Some(Ok(id)) => Some(id),
    };
    let status = match non_empty(row.status) {
        None => TenantStatus::Active,
        Some(raw) => TenantStatus::parse(&raw).unwrap_or_else(|| {
            problems.push(format!(
                "{at}: status {raw:?} is not a status: write active or suspended"
            ));
            TenantStatus::Active
        }),
    };
    let expires_at = non_empty(row.expires_at).and_then(|raw| {
        parse_time(&raw)
            .map_err(|e| problems.push(format!("{at}: expires_at {e}")))
            .ok()
    });
    let max_endpoints = non_empty(row.max_endpoints).and_then(|raw| {
        raw.parse::<u32>()
            .map_err(|_| {
                problems.push(format!(
                    "{at}: max_endpoints {raw:?} is not a whole number from 0 to 4294967295"
                ))
            })
            .ok()
    });
    let allowed_regions = parse_regions(row.allowed_regions.as_deref().unwrap_or_default())
        .map_err(|e| problems.push(format!("{at}: allowed_regions {e}")))
        .unwrap_or_default();
    let account_id = account_id?;
    if problems.len() > before {
        return None;
    }
    Some(Tenant {
        name: non_empty(row.name).unwrap_or_else(|| account_id.as_str().to_string()),
        account_id,
        status,
        expires_at,
        max_endpoints,
        allowed_regions,
        notes: non_empty(row.notes),
        updated_by: None,
        updated_at: None,
        version: 0,
    })
}

/// Rejects a second row for the same account.
fn check_unique(tenants: &[(String, Tenant)], problems: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for (at, t) in tenants {
        if !seen.insert(t.account_id.as_str()) {
            problems.push(format!(
                "{at}: account {} is listed twice: keep one row per account",
                t.account_id
            ));
        }
    }
}

/// Splits one CSV line into fields (RFC 4180 quoting, one line per record).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() && !was_quoted => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is not closed: end it with \"".into());
    }
    fields.push(field);
    Ok(fields)
}

fn quote_csv(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) || value.trim() != value {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Reads a CSV file (see the module docs).
pub fn parse_csv(text: &str) -> Result<Vec<Tenant>, Vec<String>> {
    let mut problems = Vec::new();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(vec![
            "the file is empty: write a header line (account_id,name,status,expires_at,max_endpoints,allowed_regions,notes) and one line per tenant".into(),
        ]);
    };
    let columns: Vec<String> = match split_csv(header) {
        Ok(c) => c
            .into_iter()
            .map(|c| c.trim().to_ascii_lowercase())
            .collect(),
        Err(e) => return Err(vec![format!("line {header_line}: {e}")]),
    };
    for c in &columns {
        if !COLUMNS.contains(&c.as_str()) {
            problems.push(format!(
                "line {header_line}: unknown column {c:?}: the columns are {}",
                COLUMNS.join(", ")
            ));
        }
    }
    if !columns.iter().any(|c| c == "account_id") {
        problems.push(format!(
            "line {header_line}: no account_id column: the header must name it (e.g. account_id,name)"
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut tenants = Vec::new();
    for (number, line) in lines {
        let at = format!("line {number}");
        let fields = match split_csv(line) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                continue;
            }
        };
        if fields.len() != columns.len() {
            problems.push(format!(
                "{at}: {} field(s) but the header has {} column(s)",
                fields.len(),
                columns.len()
            ));
            continue;
        }
        let mut row = Row::default();
        for (column, value) in columns.iter().zip(fields) {
            let slot = match column.as_str() {
                "account_id" => &mut row.account_id,
                "name" => &mut row.name,
                "status" => &mut row.status,
                "expires_at" => &mut row.expires_at,
                "max_endpoints" => &mut row.max_endpoints,
                "allowed_regions" => &mut row.allowed_regions,
                _ => &mut row.notes,
            };
            *slot = Some(value);
        }
        if let Some(t) = tenant(row, &at, &mut problems) {
            tenants.push((at, t));
        }
    }
    check_unique(&tenants, &mut problems);
    if problems.is_empty() {
        Ok(tenants.into_iter().map(|(_, t)| t).collect())
    } else {
        Err(problems)
    }
}

/// Reads a JSON array of tenant objects (see the module docs).
pub fn parse_json(text: &str) -> Result<Vec<Tenant>, Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| vec![format!("not JSON: {e}: write an array of tenant objects")])?;
    let Some(array) = value.as_array() else {
        return Err(vec![
            "not a JSON array: write [{\"account_id\": \"123456789012\", \"name\": \"...\"}, ...]"
                .into(),
        ]);
    };
    let mut problems = Vec::new();
    let mut tenants = Vec::new();
    for (index, entry) in array.iter().enumerate() {
        let at = format!("entry {index}");
        let Some(object) = entry.as_object() else {
            problems.push(format!("{at}: not an object"));
            continue;
        };
        let mut row = Row::default();
        for (key, value) in object {
            let text = match value {
                serde_json::Value::Null => None,
                // allowed_regions: ["eu-west-1", "us-east-1"].
                serde_json::Value::Array(items) if key == "allowed_regions" => {
                    let regions: Option<Vec<&str>> =
                        items.iter().map(serde_json::Value::as_str).collect();
                    match regions {
                        Some(regions) => Some(regions.join(" ")),
                        None => {
                            problems.push(format!(
                                "{at}: allowed_regions holds a non-string: write [\"eu-west-1\", ...]"
                            ));
                            continue;
                        }
                    }
                }
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                other => {
                    problems.push(format!(
                        "{at}: {key} is {other}: write a string or a number"
                    ));
                    continue;
                }
            };
            match key.as_str() {
                "account_id" => row.account_id = text,
                "name" => row.name = text,
                "status" => row.status = text,
                "expires_at" => row.expires_at = text,
                "max_endpoints" => row.max_endpoints = text,
                "allowed_regions" => row.allowed_regions = text,
                "notes" => row.notes = text,
                // What export adds besides the columns: who and when.
                "updated_by" | "updated_at" | "version" => {}
                other => problems.push(format!(
                    "{at}: unknown key {other:?}: the keys are {}",
                    COLUMNS.join(", ")
                )),
            }
        }
        if let Some(t) = tenant(row, &at, &mut problems) {
            tenants.push((at, t));
        }
    }
    check_unique(&tenants, &mut problems);
    if problems.is_empty() {
        Ok(tenants.into_iter().map(|(_, t)| t).collect())
    } else {
        Err(problems)
    }
}

/// Every tenant as CSV, with a header.
pub fn to_csv(tenants: &[Tenant]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for t in tenants {
        let fields = [
            t.account_id.to_string(),
            t.name.clone(),
            t.status.as_str().to_string(),
            t.expires_at.map(format_time).unwrap_or_default(),
            t.max_endpoints.map(|m| m.to_string()).unwrap_or_default(),
            t.allowed_regions
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" "),
            t.notes.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| quote_csv(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Every tenant as a JSON array (times as RFC 3339, plus who changed each
/// and when).
pub fn to_json(tenants: &[Tenant]) -> String {
    let array: Vec<serde_json::Value> = tenants
        .iter()
        .map(|t| {
            serde_json::json!({
                "account_id": t.account_id,
                "name": t.name,
                "status": t.status,
                "expires_at": t.expires_at.map(format_time),
                "max_endpoints": t.max_endpoints,
                "allowed_regions": t.allowed_regions,
                "notes": t.notes,
                "updated_by": t.updated_by,
                "updated_at": t.updated_at.map(format_time),
                "version": t.version,
            })
        })
        .collect();
    serde_json::to_string_pretty(&array).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Tenant> {
        vec![
            Tenant {
                expires_at: Some(parse_time("2027-06-30T00:00:00Z").unwrap()),
                max_endpoints: Some(2),
                allowed_regions: ["eu-west-1".to_string(), "us-east-1".to_string()].into(),
                notes: Some("trial, \"gold\" plan".into()),
                ..Tenant::active(AccountId::parse("111111111111").unwrap(), "Acme, Inc.")
            },
            Tenant {
                status: TenantStatus::Suspended,
                ..Tenant::active(AccountId::parse("222222222222").unwrap(), "Beta")
            },
        ]
    }

    #[test]
    fn an_export_imports_back_unchanged() {
        assert_eq!(parse_csv(&to_csv(&sample())), Ok(sample()));
        assert_eq!(parse_json(&to_json(&sample())), Ok(sample()));
    }

    #[test]
    fn columns_in_any_order_and_defaults() {
        let got = parse_csv("name,account_id\nAcme,111111111111\n,222222222222\n").unwrap();
        assert_eq!(got[0].name, "Acme");
        assert_eq!(got[0].status, TenantStatus::Active);
        assert_eq!(got[1].name, "222222222222");
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "account_id,name,status,expires_at,max_endpoints\n\
                    11111111111,A,active,,\n\
                    222222222222,B,paused,,\n\
                    333333333333,C,active,next week,-1\n\
                    444444444444,D\n\
                    555555555555,E,active,,\n\
                    555555555555,E2,active,,\n";
        let problems = parse_csv(text).unwrap_err();
        let joined = problems.join("\n");
        for expected in [
            "line 2: allowlist entry \"11111111111\"",
            "line 3: status \"paused\" is not a status",
            "line 4: expires_at \"next week\" is not an RFC 3339 time",
            "line 4: max_endpoints \"-1\"",
            "line 5: 2 field(s) but the header has 5",
            "line 7: account 555555555555 is listed twice",
        ] {
            assert!(
                joined.contains(expected),
                "missing {expected:?} in\n{joined}"
            );
        }
        assert_eq!(problems.len(), 6, "{joined}");
    }

    #[test]
    fn bad_headers_and_json_shapes_are_explained() {
        assert!(parse_csv("").unwrap_err()[0].contains("the file is empty"));
        assert!(parse_csv("acount_id\n1").unwrap_err()[0].contains("unknown column \"acount_id\""));
        assert!(parse_json("{}").unwrap_err()[0].contains("not a JSON array"));
        let e = parse_json(r#"[{"account_id": "111111111111", "plan": "gold"}]"#).unwrap_err();
        assert!(e[0].contains("unknown key \"plan\""), "{e:?}");
        let ok = parse_json(r#"[{"account_id": "111111111111", "max_endpoints": 3}]"#).unwrap();
        assert_eq!(ok[0].max_endpoints, Some(3));
    }

    #[test]
    fn allowed_regions_are_separated_by_spaces_or_semicolons_or_a_json_array() {
        let regions = |t: &Tenant| t.allowed_regions.iter().cloned().collect::<Vec<_>>();
        let csv = "account_id,allowed_regions\n\
                   111111111111,eu-west-1;us-east-1\n\
                   222222222222,eu-west-1 ap-south-1\n\
                   333333333333,\n";
        let got = parse_csv(csv).unwrap();
        assert_eq!(regions(&got[0]), ["eu-west-1", "us-east-1"]);
        assert_eq!(regions(&got[1]), ["ap-south-1", "eu-west-1"]);
        assert!(got[2].allowed_regions.is_empty());
        assert!(to_csv(&got).contains("111111111111,111111111111,active,,,eu-west-1 us-east-1,"));

        let json = r#"[{"account_id": "111111111111", "allowed_regions": ["eu-west-1"]},
                       {"account_id": "222222222222", "allowed_regions": "eu-west-1;us-east-1"}]"#;
        let got = parse_json(json).unwrap();
        assert_eq!(regions(&got[0]), ["eu-west-1"]);
        assert_eq!(regions(&got[1]), ["eu-west-1", "us-east-1"]);
        let exported: serde_json::Value = serde_json::from_str(&to_json(&got)).unwrap();
        assert_eq!(
            exported[0]["allowed_regions"],
            serde_json::json!(["eu-west-1"])
        );

        let bad = parse_csv("account_id,allowed_regions\n111111111111,EU West\n").unwrap_err();
        assert!(bad[0].starts_with("line 2: allowed_regions"), "{bad:?}");
        let bad =
            parse_json(r#"[{"account_id": "111111111111", "allowed_regions": [1]}]"#).unwrap_err();
        assert!(bad[0].contains("allowed_regions"), "{bad:?}");
    }
}
