//! The allowlist: which AWS accounts may connect. Parsing is strict (12
//! ASCII digits, nothing else) because a lenient parser here is a security
//! hole: an entry that is "almost" an account id must be an error with a fix,
//! never silently normalised into something that matches.

use std::collections::BTreeSet;
use std::fmt;

/// A 12-digit AWS account id, validated.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl From<AccountId> for String {
    fn from(id: AccountId) -> String {
        id.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = AllowlistError;
    fn try_from(raw: String) -> Result<AccountId, AllowlistError> {
        AccountId::parse(&raw)
    }
}

impl AccountId {
    /// Parses one account id, explaining what to write instead when it is
    /// not exactly 12 ASCII digits.
    pub fn parse(raw: &str) -> Result<AccountId, AllowlistError> {
        if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(AccountId(raw.to_string()));
        }
        Err(AllowlistError::BadEntry {
            entry: raw.to_string(),
            hint: hint_for(raw),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to write instead of a bad entry, for the common mistakes.
fn hint_for(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let only_digits_and_dashes = raw.chars().all(|c| c.is_ascii_digit() || c == '-');
    if raw.starts_with("arn:") {
        return match raw.split(':').nth(4) {
            Some(account) if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) => {
                format!("write the account id alone: {account}")
            }
            _ => "write the 12-digit account id alone, not an ARN".to_string(),
        };
    }
    if only_digits_and_dashes && digits.len() == 12 {
        return format!("write the 12 digits without separators: {digits}");
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) && raw.len() < 12 && !raw.is_empty() {
        return format!(
            "account ids have exactly 12 digits, this one has {}; if leading zeros were lost, write {:0>12}",
            raw.len(),
            raw
        );
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) && raw.len() > 12 {
        return format!(
            "account ids have exactly 12 digits, this one has {}",
            raw.len()
        );
    }
    if raw.starts_with('"') || raw.starts_with('\'') || raw.ends_with('"') || raw.ends_with('\'') {
        return "write the account ids without quotes, e.g. 123456789012,210987654321".to_string();
    }
    "write a 12-digit AWS account id such as 123456789012".to_string()
}

/// Errors in the allowlist text, naming the bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowlistError {
    #[error("allowlist entry {entry:?} is not an AWS account id: {hint}")]
    BadEntry { entry: String, hint: String },
    #[error("the allowlist is empty: list at least one 12-digit account id, separated by commas or spaces (e.g. 123456789012,210987654321)")]
    Empty,
}

/// The accounts whose connection requests are accepted. Deduplicated and
/// sorted, so its `Debug`/JSON form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Allowlist(BTreeSet<AccountId>);

impl Allowlist {
    /// Parses account ids separated by commas and/or whitespace. Every bad
    /// entry is reported (not only the first); duplicates are dropped.
    pub fn parse(text: &str) -> Result<Allowlist, Vec<AllowlistError>> {
        let mut ids = BTreeSet::new();
        let mut errors = Vec::new();
        for entry in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            match AccountId::parse(entry) {
                Ok(id) => {
                    ids.insert(id);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() && ids.is_empty() {
            errors.push(AllowlistError::Empty);
        }
        if errors.is_empty() {
            Ok(Allowlist(ids))
        } else {
            Err(errors)
        }
    }

    /// An allowlist of already validated ids.
    pub fn from_ids(ids: impl IntoIterator<Item = AccountId>) -> Allowlist {
        Allowlist(ids.into_iter().collect())
    }

    /// True only for an exact match of a listed account id: no trimming,
    /// no case folding, nothing that could make a near-miss match.
    pub fn contains(&self, owner: &str) -> bool {
        self.0.iter().any(|id| id.as_str() == owner)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &AccountId> {
        self.0.iter()
    }
}

impl fmt::Display for Allowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.0.iter().map(AccountId::as_str).collect();
        f.write_str(&ids.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &Allowlist) -> Vec<&str> {
        list.iter().map(AccountId::as_str).collect()
    }

    #[test]
    fn separators_and_duplicates() {
        let cases = [
            ("123456789012", vec!["123456789012"]),
            (
                "123456789012,210987654321",
                vec!["123456789012", "210987654321"],
            ),
            (
                " 210987654321 , 123456789012\n123456789012\t",
                vec!["123456789012", "210987654321"],
            ),
            (",,123456789012,,", vec!["123456789012"]),
        ];
        for (text, expected) in cases {
            let list = Allowlist::parse(text).expect(text);
            assert_eq!(ids(&list), expected, "{text:?}");
        }
    }

    #[test]
    fn bad_entries_are_named_with_what_to_write() {
        let cases = [
            ("12345678901", "12345678901", "write 012345678901"),
            (
                "1234-5678-9012",
                "1234-5678-9012",
                "without separators: 123456789012",
            ),
            (
                "arn:aws:iam::123456789012:root",
                "arn:aws:iam::123456789012:root",
                "alone: 123456789012",
            ),
            ("\"123456789012\"", "\"123456789012\"", "without quotes"),
            ("1234567890123", "1234567890123", "has 13"),
            ("acme-prod", "acme-prod", "12-digit AWS account id"),
            (
                "１２３４５６７８９０１２",
                "１２３４５６７８９０１２",
                "12-digit",
            ),
        ];
        for (text, entry, hint) in cases {
            let errors = Allowlist::parse(text).expect_err(text);
            assert_eq!(errors.len(), 1, "{text:?}: {errors:?}");
            let message = errors[0].to_string();
            assert!(message.contains(&format!("{entry:?}")), "{message}");
            assert!(message.contains(hint), "{text:?}: {message}");
        }
    }

    #[test]
    fn every_bad_entry_is_reported() {
        let errors = Allowlist::parse("123456789012,abc;def,42").expect_err("bad");
        let entries: Vec<String> = errors
            .iter()
            .map(|e| match e {
                AllowlistError::BadEntry { entry, .. } => entry.clone(),
                AllowlistError::Empty => "<empty>".into(),
            })
            .collect();
        assert_eq!(entries, ["abc;def", "42"]);
    }

    #[test]
    fn empty_is_an_error() {
        for text in ["", "  ", ",", " , \n"] {
            assert_eq!(Allowlist::parse(text), Err(vec![AllowlistError::Empty]));
        }
    }

    #[test]
    fn contains_is_exact() {
        let list = Allowlist::parse("123456789012").expect("valid");
        assert!(list.contains("123456789012"));
        for near in [
            " 123456789012",
            "123456789012 ",
            "0123456789012",
            "12345678901",
            "",
        ] {
            assert!(!list.contains(near), "{near:?}");
        }
    }
}
