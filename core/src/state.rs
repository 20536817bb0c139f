//! Endpoint and connection states, read robustly.
//!
//! AWS returns these states in camelCase (`pendingAcceptance`), while the
//! SDK's generated `State` enum expects PascalCase (`PendingAcceptance`), so
//! real values arrive as `State::Unknown("pendingAcceptance")`
//! (aws-sdk-rust#619, aws/aws-sdk#360). Nothing in this kit matches on the
//! SDK enum's variants: every state goes through [`EndpointState::from_wire`],
//! which compares case-insensitively and keeps unknown values visible.

use std::fmt;

/// The lifecycle of an interface endpoint, as seen by its owner (consumer)
/// and by the service owner (provider) as a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", from = "String")]
pub enum EndpointState {
    PendingAcceptance,
    Pending,
    Available,
    Rejected,
    Deleting,
    Deleted,
    Failed,
    Expired,
    Partial,
    /// A value this version does not know; kept verbatim.
    Other(String),
}

impl EndpointState {
    const KNOWN: [(EndpointState, &'static str); 9] = [
        (EndpointState::PendingAcceptance, "pendingAcceptance"),
        (EndpointState::Pending, "pending"),
        (EndpointState::Available, "available"),
        (EndpointState::Rejected, "rejected"),
        (EndpointState::Deleting, "deleting"),
        (EndpointState::Deleted, "deleted"),
        (EndpointState::Failed, "failed"),
        (EndpointState::Expired, "expired"),
        (EndpointState::Partial, "partial"),
    ];

    /// Parses a state string in any casing.
    pub fn from_wire(raw: &str) -> Self {
        Self::KNOWN
            .iter()
            .find(|(_, wire)| wire.eq_ignore_ascii_case(raw))
            .map(|(state, _)| state.clone())
            .unwrap_or_else(|| EndpointState::Other(raw.to_string()))
    }

    /// Reads the SDK's `State` through its raw string, whatever variant the
    /// SDK chose for it.
    pub fn from_sdk(state: &aws_sdk_ec2::types::State) -> Self {
        Self::from_wire(state.as_str())
    }

    /// The value in AWS's own casing, as the API and its filters use it.
    pub fn as_wire(&self) -> &str {
        match self {
            EndpointState::Other(raw) => raw,
            known => Self::KNOWN
                .iter()
                .find(|(state, _)| state == known)
                .map(|(_, wire)| *wire)
                .unwrap_or("unknown"),
        }
    }

    /// True for states from which the connection can still become usable
    /// without anyone deciding anything more.
    pub fn is_settling(&self) -> bool {
        matches!(self, EndpointState::Pending)
    }

    /// A live connection: a request waiting for a decision, or accepted
    /// (being set up or carrying traffic). The one definition behind `down`
    /// refusing without `--force`, the owners the approver reads the
    /// registry for, and the operator's `reject` (AWS rejects exactly these).
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            EndpointState::PendingAcceptance | EndpointState::Pending | EndpointState::Available
        )
    }

    /// True for states that no longer carry traffic and never will again.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            EndpointState::Rejected
                | EndpointState::Deleted
                | EndpointState::Failed
                | EndpointState::Expired
        )
    }
}

impl fmt::Display for EndpointState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_wire())
    }
}

impl From<EndpointState> for String {
    fn from(state: EndpointState) -> String {
        state.as_wire().to_string()
    }
}

impl From<String> for EndpointState {
    fn from(raw: String) -> Self {
        EndpointState::from_wire(&raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::State;

    #[test]
    fn the_wire_casing_that_the_sdk_enum_misses_is_understood() {
        // What AWS sends: the SDK cannot map it to its variant...
        let sdk = State::from("pendingAcceptance");
        assert!(!matches!(sdk, State::PendingAcceptance));
        // ...but we read it right.
        assert_eq!(
            EndpointState::from_sdk(&sdk),
            EndpointState::PendingAcceptance
        );
        assert_eq!(
            EndpointState::from_sdk(&State::PendingAcceptance),
            EndpointState::PendingAcceptance
        );
    }

    #[test]
    fn every_known_state_round_trips_in_any_casing() {
        for (state, wire) in EndpointState::KNOWN {
            assert_eq!(EndpointState::from_wire(wire), state);
            assert_eq!(EndpointState::from_wire(&wire.to_uppercase()), state);
            assert_eq!(state.as_wire(), wire);
        }
    }

    #[test]
    fn unknown_states_are_kept_verbatim() {
        let state = EndpointState::from_wire("hibernating");
        assert_eq!(state, EndpointState::Other("hibernating".into()));
        assert_eq!(state.to_string(), "hibernating");
        assert!(!state.is_final() && !state.is_settling() && !state.is_live());
    }

    #[test]
    fn live_means_requested_or_accepted() {
        for (state, _) in EndpointState::KNOWN {
            let live = matches!(
                state,
                EndpointState::PendingAcceptance
                    | EndpointState::Pending
                    | EndpointState::Available
            );
            assert_eq!(state.is_live(), live, "{state}");
            // Nothing is both live and final.
            assert!(!(state.is_live() && state.is_final()), "{state}");
        }
    }

    #[test]
    fn serializes_in_aws_casing() {
        let json = serde_json::to_string(&EndpointState::PendingAcceptance).unwrap();
        assert_eq!(json, "\"pendingAcceptance\"");
        let back: EndpointState = serde_json::from_str("\"AVAILABLE\"").unwrap();
        assert_eq!(back, EndpointState::Available);
    }
}
