//! The `--help` text: what the function is and every setting it reads.

use privatelink_core::approval::config::ENV_VARS;

/// The help text printed by `approver-lambda --help`.
pub fn text() -> String {
    let mut out = String::from(
        "approver-lambda: the AWS Lambda function that accepts PrivateLink connection requests\n\
         from the vendor's entitled tenants, and only from them. Tenants live in the tenant\n\
         registry, a DynamoDB table (one item per AWS account: status active|suspended,\n\
         optional expires_at and max_endpoints), written by `endpoint-service tenants ...`.\n\
         \n\
         Triggers: the endpoint service's SNS connection notifications (any number of records)\n\
         and a scheduled EventBridge rule (the sweep, e.g. rate(5 minutes)). Both run the same\n\
         reconcile: list the service's connections that need a decision (a notification, or a\n\
         sweep without revocation: the pendingAcceptance ones; a sweep with APPROVER_REVOKE=true:\n\
         all of them), read the registry for just their owners (BatchGetItem, strongly\n\
         consistent, right before accepting), decide each from its real owner and state (never\n\
         from the notification), accept/reject in batches, and log one JSON line per decision\n\
         whose `reason` names the rule that decided.\n\
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
         The registry's rule (reason codes as logged):\n\
         \x20 pendingAcceptance, owner an active, unexpired tenant under max_endpoints\n\
         \x20                                    -> accept (entitled_tenant)\n\
         \x20 pendingAcceptance, owner not in the registry (not_a_tenant), suspended\n\
         \x20   (tenant_suspended), past expires_at (tenant_expired), already holding\n\
         \x20   max_endpoints live endpoints (over_quota), or connecting from a region not in\n\
         \x20   the tenant's allowed_regions (region_not_allowed; the endpoint's\n\
         \x20   VpcEndpointRegion, else the service's own)\n\
         \x20                                    -> reject (policy reject) or leave (policy leave-pending)\n\
         \x20 pending/available, owner no longer entitled (not_a_tenant, tenant_suspended,\n\
         \x20   tenant_expired, region_not_allowed; a quota never revokes)\n\
         \x20                                    -> reject if APPROVER_REVOKE=true, else leave\n\
         \x20 anything else                      -> leave\n\
         A tenant suspended or removed while a run is in flight is never left connected: the\n\
         run reads the registry right before it accepts, and the `tenants` command that made\n\
         the change runs its own reconcile afterwards, rejecting the tenant's connections\n\
         whether or not the accept landed first.\n\
         Invalid configuration fails closed: every invocation logs what is wrong, accepts nothing\n\
         and returns an error.\n\
         \n\
         Errors: transient AWS failures (throttling, 5xx, timeouts; EC2's or DynamoDB's) fail the\n\
         invocation so Lambda retries it; permanent ones (unknown service or table, access\n\
         denied, malformed messages) are logged with what to fix and the invocation succeeds.\n\
         \n\
         IAM: ec2:DescribeVpcEndpointConnections, ec2:AcceptVpcEndpointConnections and\n\
         ec2:RejectVpcEndpointConnections on the endpoint service, ec2:CreateTags on its\n\
         connections (the decision history), and dynamodb:GetItem and dynamodb:BatchGetItem on\n\
         the registry's table only (`endpoint-service iam-policy` prints the policy).\n",
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
            "registry",
            "dynamodb:BatchGetItem",
            "entitled_tenant",
            "not_a_tenant",
            "tenant_suspended",
            "tenant_expired",
            "over_quota",
            "region_not_allowed",
        ] {
            assert!(text.contains(word), "{word}");
        }
        // The old environment variable is gone from the contract.
        assert!(
            !text.contains("APPROVER_ALLOWLIST") && !text.contains("allowlisted"),
            "{text}"
        );
    }
}
