//! Names and the ownership tag of a provider stack: the one convention the
//! provisioning code, `status`/`down`, the operator commands and the tests
//! use to find a stack's resources without any local state file.
//!
//! Every resource is tagged at creation with [`STACK_TAG`] = stack name (and
//! [`MANAGED_BY_TAG`]), so a lost id is rediscovered by tag (EC2) or by the
//! deterministic name below plus a tag check (ELBv2, SNS, Lambda, IAM).

/// Tag key whose value is the stack name.
pub const STACK_TAG: &str = "privatelink-kit:stack";
/// Tag key naming the tool that owns the resource.
pub const MANAGED_BY_TAG: &str = "privatelink-kit:managed-by";
/// Value of [`MANAGED_BY_TAG`].
pub const MANAGED_BY: &str = "endpoint-service";

/// Longest stack name: ELBv2 names are at most 32 characters and the
/// longest suffix we add is `-tg-65535` (9).
pub const MAX_STACK_NAME: usize = 23;

/// Why a stack name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackNameError {
    #[error("the stack name is empty: choose a short name such as \"acme-api\"")]
    Empty,
    #[error(
        "the stack name {0:?} is longer than {MAX_STACK_NAME} characters \
         (load balancer names are limited to 32 with our suffixes): shorten it"
    )]
    TooLong(String),
    #[error(
        "the stack name {0:?} may only contain lowercase letters, digits and '-', \
         and must start with a letter and not end with '-'"
    )]
    Characters(String),
}

/// A validated stack name, from which every resource name derives.
///
/// IAM is global, so a stack built in several regions cannot give each
/// region's approver role the same name: outside the home region the role
/// and its boundary carry the region ([`StackName::in_region`]). Every other
/// name is regional and stays the same in every region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StackName {
    name: String,
    /// The region the IAM names carry (`None`: the home region's names).
    iam_region: Option<String>,
}

impl serde::Serialize for StackName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl StackName {
    pub fn parse(name: &str) -> Result<StackName, StackNameError> {
        if name.is_empty() {
            return Err(StackNameError::Empty);
        }
        if name.len() > MAX_STACK_NAME {
            return Err(StackNameError::TooLong(name.to_string()));
        }
        let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(StackNameError::Characters(name.to_string()));
        }
        Ok(StackName {
            name: name.to_string(),
            iam_region: None,
        })
    }

    /// The same stack in `region`, outside its home region: its IAM names
    /// carry the region (the role `acme-approver-eu-west-1`), since one
    /// account's roles are shared by all its regions.
    pub fn in_region(&self, region: &str) -> StackName {
        StackName {
            name: self.name.clone(),
            iam_region: Some(region.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    fn iam_suffix(&self) -> String {
        self.iam_region
            .as_deref()
            .map(|r| format!("-{r}"))
            .unwrap_or_default()
    }

    /// The internal Network Load Balancer.
    pub fn load_balancer(&self) -> String {
        format!("{}-nlb", self.name)
    }
    /// The target group for one service port.
    pub fn target_group(&self, port: u16) -> String {
        format!("{}-tg-{port}", self.name)
    }
    /// The SNS topic receiving connection notifications.
    pub fn topic(&self) -> String {
        format!("{}-connections", self.name)
    }
    /// The approver Lambda function.
    pub fn function(&self) -> String {
        format!("{}-approver", self.name)
    }
    /// The approver's IAM role.
    pub fn role(&self) -> String {
        format!("{}-approver{}", self.name, self.iam_suffix())
    }
    /// The managed policy that is the approver role's permissions boundary.
    pub fn boundary(&self) -> String {
        format!("{}-approver-boundary{}", self.name, self.iam_suffix())
    }
    /// The tenant registry's DynamoDB table.
    pub fn tenants_table(&self) -> String {
        format!("{}-tenants", self.name)
    }
    /// The EventBridge rule that runs the scheduled sweep.
    pub fn sweep_rule(&self) -> String {
        format!("{}-sweep", self.name)
    }
}

impl std::fmt::Display for StackName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_any_call() {
        assert_eq!(StackName::parse(""), Err(StackNameError::Empty));
        assert!(matches!(
            StackName::parse("a-very-long-stack-name-xx"),
            Err(StackNameError::TooLong(_))
        ));
        for bad in ["Acme", "1acme", "acme-", "acme_api", "acme api"] {
            assert!(
                matches!(StackName::parse(bad), Err(StackNameError::Characters(_))),
                "{bad}"
            );
        }
        let name = StackName::parse("acme-api").unwrap();
        assert_eq!(name.load_balancer(), "acme-api-nlb");
        assert_eq!(name.target_group(443), "acme-api-tg-443");
    }

    #[test]
    fn outside_the_home_region_only_the_iam_names_carry_the_region() {
        let home = StackName::parse("acme-api").unwrap();
        let other = home.in_region("eu-west-1");
        assert_eq!(home.role(), "acme-api-approver");
        assert_eq!(other.role(), "acme-api-approver-eu-west-1");
        assert_eq!(other.boundary(), "acme-api-approver-boundary-eu-west-1");
        assert_eq!(other.function(), home.function());
        assert_eq!(other.tenants_table(), home.tenants_table());
        assert_eq!(other.load_balancer(), home.load_balancer());
        assert_eq!(other.to_string(), "acme-api");
        // IAM role names are at most 64 characters.
        let longest = StackName::parse(&"a".repeat(MAX_STACK_NAME)).unwrap();
        assert!(longest.in_region("ap-southeast-5").role().len() <= 64);
    }

    #[test]
    fn the_longest_name_fits_elbv2_limits() {
        let name = StackName::parse(&"a".repeat(MAX_STACK_NAME)).unwrap();
        assert!(name.target_group(65535).len() <= 32);
        assert!(name.load_balancer().len() <= 32);
    }
}
