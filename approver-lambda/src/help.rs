//! The `--help` text: what the function is and every setting it reads.

use privatelink_core::approval::config::ENV_VARS;

/// The help text printed by `approver-lambda --help`.
pub fn text() -> String {
    let mut out = String::from(
        "approver-lambda: the AWS Lambda function that accepts PrivateLink connection requests\n\
         from allowlisted AWS accounts, and only from them.\n\
         \n\
         Triggers: the endpoint service's SNS connection notifications (any number of records)\n\
         and a scheduled EventBridge rule (the sweep, e.g. rate(5 minutes)). Both run the same\n\
         reconcile: list every connection of the service, decide each from its real owner and\n\
         state (never from the notification), accept/reject in batches, and log one JSON line\n\
         per decision.\n\
         \n\
         Run by the Lambda runtime (AWS_LAMBDA_RUNTIME_API); started outside Lambda it exits\n\
         with status 2. This text is printed for --help or -h.\n\
         \n\
         Environment:\n",
    );
    for (name, help) in ENV_VARS {
        out.push_str(&format!("  {name:<34} {help}\n"));
    }
    out.push_str(
        "  AWS_REGION, AWS_ENDPOINT_URL,\n\
         \x20 AWS_MAX_ATTEMPTS                   the standard AWS SDK settings (credentials: the function's role)\n\
         \x20 RUST_LOG                           log filter (default: info)\n\
         \n\
         Policies:\n\
         \x20 pendingAcceptance, owner allowlisted           -> accept\n\
         \x20 pendingAcceptance, owner not allowlisted       -> reject (policy reject) or leave (policy leave-pending)\n\
         \x20 pending/available, owner not allowlisted       -> reject if APPROVER_REVOKE=true, else leave\n\
         \x20 anything else                                  -> leave\n\
         Invalid configuration fails closed: every invocation logs what is wrong, accepts nothing\n\
         and returns an error.\n\
         \n\
         Errors: transient AWS failures (throttling, 5xx, timeouts) fail the invocation so Lambda\n\
         retries it; permanent ones (unknown service, access denied, malformed messages) are logged\n\
         and the invocation succeeds.\n\
         \n\
         IAM: ec2:DescribeVpcEndpointConnections, ec2:AcceptVpcEndpointConnections and\n\
         ec2:RejectVpcEndpointConnections on the endpoint service.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_every_variable_and_policy() {
        let text = super::text();
        for (name, _) in privatelink_core::approval::config::ENV_VARS {
            assert!(text.contains(name), "{name}");
        }
        for word in [
            "reject",
            "leave-pending",
            "AWS_ENDPOINT_URL",
            "fails closed",
        ] {
            assert!(text.contains(word), "{word}");
        }
    }
}
