//! One stack in several regions (`regions = [...]`): runs a stack command in
//! every region at once and reports each region's outcome.
//!
//! Each region's stack is today's one-region stack, so each region runs the
//! one-region command unchanged, with its own clients and its own progress
//! lines (labelled with the region). Nothing is shared between the runs but
//! the tenant registry, which only the home region writes; so one region's
//! failure never stops another's, and the report says which converged and
//! which did not. A re-run converges the rest (a converged region plans
//! nothing).

use std::fmt;

use futures_util::future::join_all;
use serde::Serialize;

use super::exit::CliError;

/// What one region's run gave.
#[derive(Debug, Serialize)]
pub struct RegionOutcome<T> {
    pub region: String,
    /// The registry's region when it is not this one's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_region: Option<String>,
    /// The command's report, when it succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<T>,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The exit code the failure alone would have given.
    #[serde(skip)]
    code: u8,
}

/// Every region's outcome, the home region first.
#[derive(Debug, Serialize)]
pub struct RegionsReport<T> {
    pub command: &'static str,
    pub regions: Vec<RegionOutcome<T>>,
    /// The regions whose run succeeded.
    pub succeeded: Vec<String>,
    /// The regions whose run failed; a re-run converges them.
    pub failed: Vec<String>,
}

impl<T> RegionsReport<T> {
    /// The error the command exits with: `None` when every region succeeded;
    /// otherwise the most specific failure's code (a refusal or bad input
    /// wins over a failed call, as one region alone would have exited), with
    /// the regions named.
    pub fn failure(&self) -> Option<CliError> {
        if self.failed.is_empty() {
            return None;
        }
        let message = format!(
            "{} failed in {} of {} regions ({}){}; re-run it: a converged region changes nothing",
            self.command,
            self.failed.len(),
            self.regions.len(),
            self.failed.join(", "),
            if self.succeeded.is_empty() {
                String::new()
            } else {
                format!(", and succeeded in {}", self.succeeded.join(", "))
            }
        );
        let code = self.regions.iter().map(|r| r.code).max().unwrap_or(1);
        Some(match code {
            4 => CliError::Refused(message),
            2 => CliError::Usage(message),
            _ => CliError::Partial(message),
        })
    }
}

impl<T: fmt::Display> fmt::Display for RegionsReport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, outcome) in self.regions.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let home = match &outcome.registry_region {
                None if i == 0 => " (home: the tenant registry)".to_string(),
                None => String::new(),
                Some(r) => format!(" (tenant registry in {r})"),
            };
            writeln!(f, "== {}{home}", outcome.region)?;
            match (&outcome.report, &outcome.error) {
                (Some(report), _) => writeln!(f, "{report}")?,
                (None, Some(error)) => writeln!(f, "FAILED: {error}")?,
                (None, None) => {}
            }
        }
        write!(f, "\n{}: ", self.command)?;
        if self.failed.is_empty() {
            write!(
                f,
                "done in all {} regions ({})",
                self.regions.len(),
                self.succeeded.join(", ")
            )
        } else {
            write!(
                f,
                "succeeded in {} of {} regions ({}); FAILED in {}: re-run it to converge the rest",
                self.succeeded.len(),
                self.regions.len(),
                if self.succeeded.is_empty() {
                    "none".to_string()
                } else {
                    self.succeeded.join(", ")
                },
                self.failed.join(", ")
            )
        }
    }
}

/// Runs `run` for every `(region, registry region)` at once and gathers
/// the outcomes in the given order.
pub async fn each_region<T, F, Fut>(
    command: &'static str,
    regions: Vec<(String, Option<String>)>,
    run: F,
) -> RegionsReport<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, CliError>>,
{
    let results = join_all((0..regions.len()).map(&run)).await;
    let mut report = RegionsReport {
        command,
        regions: Vec::new(),
        succeeded: Vec::new(),
        failed: Vec::new(),
    };
    for ((region, registry_region), result) in regions.into_iter().zip(results) {
        let outcome = match result {
            Ok(value) => {
                report.succeeded.push(region.clone());
                RegionOutcome {
                    region,
                    registry_region,
                    report: Some(value),
                    error: None,
                    code: 0,
                }
            }
            Err(error) => {
                report.failed.push(region.clone());
                RegionOutcome {
                    region,
                    registry_region,
                    report: None,
                    error: Some(format!("{error:#}")),
                    code: error.code(),
                }
            }
        };
        report.regions.push(outcome);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<(String, Option<String>)> {
        vec![
            ("us-east-1".into(), None),
            ("eu-west-1".into(), Some("us-east-1".into())),
            ("ap-south-1".into(), Some("us-east-1".into())),
        ]
    }

    #[tokio::test]
    async fn one_failed_region_is_named_and_the_others_still_report() {
        let report = each_region("up", regions(), |i| async move {
            if i == 1 {
                Err(CliError::Failed(anyhow::anyhow!(
                    "CreateLoadBalancer: throttled"
                )))
            } else {
                Ok(format!("region {i} is up"))
            }
        })
        .await;
        assert_eq!(report.succeeded, ["us-east-1", "ap-south-1"]);
        assert_eq!(report.failed, ["eu-west-1"]);
        let text = report.to_string();
        assert!(text.contains("== eu-west-1 (tenant registry in us-east-1)\nFAILED: CreateLoadBalancer: throttled"), "{text}");
        assert!(text.contains("region 2 is up"), "{text}");
        assert!(
            text.ends_with("FAILED in eu-west-1: re-run it to converge the rest"),
            "{text}"
        );
        let error = report.failure().expect("a failure");
        assert_eq!(error.code(), 3, "a partial failure");
        assert!(error
            .to_string()
            .contains("failed in 1 of 3 regions (eu-west-1)"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["regions"][1]["error"], "CreateLoadBalancer: throttled");
        assert_eq!(json["regions"][0]["report"], "region 0 is up");
    }

    #[tokio::test]
    async fn a_refusal_in_any_region_exits_as_a_refusal() {
        let report: RegionsReport<String> = each_region("down", regions(), |i| async move {
            match i {
                0 => Err(CliError::Refused("2 live connections".into())),
                _ => Err(CliError::Failed(anyhow::anyhow!("timeout"))),
            }
        })
        .await;
        assert!(report.succeeded.is_empty());
        assert_eq!(report.failure().unwrap().code(), 4);
    }

    #[tokio::test]
    async fn every_region_done_is_no_failure() {
        let report = each_region("status", regions(), |i| async move { Ok(i) }).await;
        assert!(report.failure().is_none());
        assert!(report
            .to_string()
            .ends_with("done in all 3 regions (us-east-1, eu-west-1, ap-south-1)"));
    }
}
