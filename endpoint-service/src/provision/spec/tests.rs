//! Table-driven tests of the configuration: every mistake names its file,
//! line, key and fix; the shipped examples parse.

mod parsing {
    use super::super::*;

    const GOOD: &str = r#"
name = "acme-api"
region = "us-east-1"

[network]
vpc_cidr = "10.40.0.0/16"

[service]
ports = [443]
target_port = 8443
targets = ["10.40.1.10", "10.40.2.10"]

[access]
allowlist = ["111111111111", "222222222222"]

[approver]
package = "bootstrap.zip"

[tags]
team = "platform"
"#;

    fn parse(text: &str) -> Result<StackSpec, SpecError> {
        StackSpec::parse(Path::new("stack.toml"), text, &Overrides::default())
    }

    #[test]
    fn a_good_file_gives_a_full_spec_with_defaults() {
        let spec = parse(GOOD).expect("valid");
        assert_eq!(spec.name.as_str(), "acme-api");
        assert_eq!(spec.ports, [443]);
        assert_eq!(spec.target_port, Some(8443));
        assert_eq!(spec.targets.kind, TargetKind::Ip);
        assert_eq!(spec.allowlist.len(), 2);
        assert_eq!(spec.non_allowlisted, NonAllowlistedPolicy::Reject);
        assert!(!spec.allow_any_principal);
        assert_eq!(spec.health_check, HealthCheckSpec::default());
        assert_eq!(spec.approver.package, Path::new("bootstrap.zip"));
        assert_eq!(spec.approver.sweep_schedule, DEFAULT_SWEEP_SCHEDULE);
        assert_eq!(spec.tags.get("team").map(String::as_str), Some("platform"));
        match spec.network {
            NetworkSpec::Create { cidr } => assert_eq!(cidr.to_string(), "10.40.0.0/16"),
            other => panic!("{other:?}"),
        }
    }

    /// GOOD in three regions, with one more region served cross-region.
    fn three_regions(region: Option<&str>) -> Result<StackSpec, SpecError> {
        let text = GOOD.replacen(
            "region = \"us-east-1\"",
            "regions = [\"us-east-1\", \"eu-west-1\", \"ap-south-1\"]\n\
             supported_regions = [\"us-west-2\"]",
            1,
        );
        let overrides = Overrides {
            region: region.map(str::to_string),
            ..Overrides::default()
        };
        StackSpec::parse(Path::new("stack.toml"), &text, &overrides)
    }

    #[test]
    fn regions_give_one_spec_per_region_and_only_the_home_one_owns_the_registry() {
        let spec = three_regions(None).expect("valid");
        assert!(spec.is_multi_region());
        let specs = spec.per_region();
        let regions: Vec<_> = specs.iter().map(|s| s.region.clone().unwrap()).collect();
        assert_eq!(regions, ["us-east-1", "eu-west-1", "ap-south-1"]);
        let home = &specs[0];
        assert_eq!(home.registry_region, None);
        assert_eq!(home.name.role(), "acme-api-approver");
        assert!(home.supported_regions.contains("us-west-2"));
        for other in &specs[1..] {
            assert_eq!(other.registry_region.as_deref(), Some("us-east-1"));
            let region = other.region.as_deref().unwrap();
            assert_eq!(other.name.role(), format!("acme-api-approver-{region}"));
            assert_eq!(other.name.tenants_table(), "acme-api-tenants");
            assert!(
                other.supported_regions.is_empty(),
                "served by the home service"
            );
            assert_eq!(other.allowlist, home.allowlist);
        }
    }

    #[test]
    fn region_picks_one_of_the_regions_and_refuses_any_other() {
        let specs = three_regions(Some("eu-west-1"))
            .expect("valid")
            .per_region();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].region.as_deref(), Some("eu-west-1"));
        assert_eq!(specs[0].registry_region.as_deref(), Some("us-east-1"));
        let error = three_regions(Some("sa-east-1")).expect_err("not a region of the stack");
        assert_eq!(error.problems[0].key, "--region");
        assert!(error.problems[0]
            .message
            .contains("not one of the stack's regions"));
    }

    #[test]
    fn a_one_region_file_is_its_own_only_spec() {
        let spec = parse(GOOD).expect("valid");
        assert!(!spec.is_multi_region());
        assert_eq!(spec.per_region(), vec![spec.clone()]);
    }

    #[test]
    fn several_regions_refuse_what_lives_in_one_region() {
        let text = GOOD
            .replacen(
                "region = \"us-east-1\"",
                "regions = [\"us-east-1\", \"eu-west-1\"]",
                1,
            )
            .replacen(
                "vpc_cidr = \"10.40.0.0/16\"",
                "vpc_id = \"vpc-0123456789abcdef0\"\nsubnet_ids = [\"subnet-0123456789abcdef0\"]",
                1,
            )
            .replacen(
                "target_port = 8443\ntargets = [\"10.40.1.10\", \"10.40.2.10\"]",
                "targets = [\"i-0123456789abcdef0\"]",
                1,
            );
        let error = parse(&text).expect_err("region-bound resources");
        let keys: Vec<_> = error.problems.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"network.vpc_id"), "{error}");
        assert!(keys.contains(&"service.targets"), "{error}");
        assert!(
            error.to_string().contains("a VPC lives in one region"),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("instance ids name instances of one region"),
            "{error}"
        );
    }

    #[test]
    fn the_allowlist_only_seeds_the_registry_so_it_may_be_empty_or_absent() {
        for (from, to) in [
            ("\"111111111111\", \"222222222222\"", ""),
            ("allowlist = [\"111111111111\", \"222222222222\"]\n", ""),
        ] {
            let text = GOOD.replacen(from, to, 1);
            let spec = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(spec.allowlist.is_empty());
        }
        let blank = GOOD.replacen("\"111111111111\", \"222222222222\"", "\"\"", 1);
        let error = parse(&blank).expect_err("only an empty entry");
        assert!(
            error
                .to_string()
                .contains("allowlist = [] to seed no tenant"),
            "{error}"
        );
    }

    /// (replace this, with that, key expected, message fragment expected)
    #[test]
    fn each_mistake_names_the_key_line_and_fix() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "\"111111111111\", \"222222222222\"",
                "\"11111111111\"",
                "access.allowlist",
                "12 digits",
            ),
            (
                "10.40.0.0/16",
                "10.40.0.0/33",
                "network.vpc_cidr",
                "prefix length",
            ),
            (
                "10.40.0.0/16",
                "10.40.0.1/16",
                "network.vpc_cidr",
                "write 10.40.0.0/16",
            ),
            (
                "10.40.0.0/16",
                "10.0.0.0/8",
                "network.vpc_cidr",
                "/16 to /24",
            ),
            (
                "ports = [443]",
                "ports = [70000]",
                "service.ports",
                "1 to 65535",
            ),
            (
                "ports = [443]",
                "ports = []",
                "service.ports",
                "at least one",
            ),
            (
                "target_port = 8443",
                "target_port = 0",
                "service.target_port",
                "1 to 65535",
            ),
            (
                "name = \"acme-api\"",
                "name = \"Acme\"",
                "name",
                "lowercase",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"US East\"",
                "region",
                "us-east-1",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"us-east-1\"\nsupported_regions = [\"EU West\"]",
                "supported_regions",
                "eu-west-1",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"us-east-1\"\nsupported_regions = [\"eu-west-1\", \"us-east-1\"]",
                "supported_regions",
                "own region",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"us-east-1\"\nsupported_regions = [\"eu-west-1\", \"eu-west-1\"]",
                "supported_regions",
                "twice",
            ),
            (
                "region = \"us-east-1\"",
                "regions = [\"us-east-1\", \"eu-west-1\", \"us-east-1\"]",
                "regions",
                "twice",
            ),
            (
                "region = \"us-east-1\"",
                "regions = []",
                "regions",
                "at least one",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"us-east-1\"\nregions = [\"us-east-1\", \"eu-west-1\"]",
                "region",
                "not both",
            ),
            (
                "region = \"us-east-1\"",
                "regions = [\"us-east-1\", \"eu-west-1\"]\nsupported_regions = [\"eu-west-1\"]",
                "supported_regions",
                "its own stack",
            ),
            (
                "region = \"us-east-1\"",
                "regions = [\"us-east-1\", \"eu-west-1\"]\nsupported_regions = [\"us-east-1\"]",
                "supported_regions",
                "own region",
            ),
            (
                "\"10.40.1.10\", \"10.40.2.10\"",
                "\"10.40.1.10\", \"i-0123456789abcdef0\"",
                "service.targets",
                "one kind",
            ),
            (
                "\"10.40.1.10\", \"10.40.2.10\"",
                "\"10.99.1.10\"",
                "service.targets",
                "outside",
            ),
            (
                "\"10.40.1.10\", \"10.40.2.10\"",
                "\"web-1\"",
                "service.targets",
                "neither",
            ),
            (
                "team = \"platform\"",
                "\"privatelink-kit:stack\" = \"x\"",
                "tags.privatelink-kit:stack",
                "reserved",
            ),
            (
                "vpc_cidr = \"10.40.0.0/16\"",
                "vpc_cidr = \"10.40.0.0/16\"\nvpc_id = \"vpc-0123456789abcdef0\"",
                "network.vpc_cidr",
                "not both",
            ),
            (
                "vpc_cidr = \"10.40.0.0/16\"",
                "vpc_id = \"vpc-12\"\nsubnet_ids = [\"subnet-0123456789abcdef0\"]",
                "network.vpc_id",
                "vpc-0123456789abcdef0",
            ),
            (
                "vpc_cidr = \"10.40.0.0/16\"",
                "vpc_id = \"vpc-0123456789abcdef0\"",
                "network.subnet_ids",
                "list the subnets",
            ),
            (
                "package = \"bootstrap.zip\"",
                "package = \"bootstrap.zip\"\narchitecture = \"aarch64\"",
                "approver.architecture",
                "arm64",
            ),
            (
                "package = \"bootstrap.zip\"",
                "package = \"bootstrap.zip\"\nsweep_schedule = \"every 5 minutes\"",
                "approver.sweep_schedule",
                "rate(15 minutes)",
            ),
            (
                "allowlist = [",
                "non_allowlisted = \"ignore\"\nallowlist = [",
                "access.non_allowlisted",
                "leave-pending",
            ),
            (
                "[tags]",
                "[health_check]\nprotocol = \"tcp\"\npath = \"/x\"\n[tags]",
                "health_check.path",
                "http",
            ),
            (
                "[tags]",
                "[health_check]\ninterval_seconds = 1\n[tags]",
                "health_check.interval_seconds",
                "5 to 300",
            ),
            (
                "[tags]",
                "[health_check]\nprotocol = \"udp\"\n[tags]",
                "health_check.protocol",
                "\"tcp\"",
            ),
            (
                "team = \"platform\"",
                "team = \"platform\"\n[service2]\nx = 1",
                "service2",
                "unknown field",
            ),
            (
                "ports = [443]",
                "ports = [443]\nport = 80",
                "port",
                "unknown field",
            ),
            (
                "[access]\nallowlist = [\"111111111111\", \"222222222222\"]\n",
                "",
                "",
                "missing field `access`",
            ),
        ];
        for (from, to, key, fragment) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let error = parse(&text).expect_err(&text);
            let found = error.problems.iter().find(|p| p.key == *key);
            let problem = found.unwrap_or_else(|| panic!("no problem for {key:?} in {error}"));
            assert!(
                problem.message.contains(fragment),
                "{key}: {}",
                problem.message
            );
            assert_eq!(problem.file, Path::new("stack.toml"));
            if !key.is_empty() {
                assert!(problem.line.is_some(), "{problem}");
            }
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = GOOD
            .replace("ports = [443]", "ports = [0]")
            .replace("\"111111111111\", \"222222222222\"", "\"1\"");
        let error = parse(&text).expect_err("two problems");
        let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["service.ports", "access.allowlist"]);
        // The line is the one of the key's value.
        assert_eq!(error.problems[0].line, Some(9));
    }

    #[test]
    fn the_package_is_checked_only_when_asked_and_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("spec-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("stack.toml");
        std::fs::write(&config, GOOD).unwrap();
        let check = Overrides {
            check_package: true,
            ..Default::default()
        };
        let error = StackSpec::load(&config, &check).expect_err("no package yet");
        assert_eq!(error.problems[0].key, "approver.package");
        assert!(error.problems[0].message.contains("cargo lambda build"));
        std::fs::write(dir.join("bootstrap.zip"), b"not a zip").unwrap();
        let error = StackSpec::load(&config, &check).expect_err("not a zip");
        assert!(error.problems[0].message.contains("not a zip"));
        std::fs::write(dir.join("bootstrap.zip"), b"PK\x03\x04rest").unwrap();
        let spec = StackSpec::load(&config, &check).expect("valid");
        assert_eq!(spec.approver.package, dir.join("bootstrap.zip"));
        assert!(StackSpec::load(&config, &Overrides::default()).is_ok());
        let missing = StackSpec::load(&dir.join("nope.toml"), &check).expect_err("missing");
        assert!(missing.to_string().contains("nope.toml"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn supported_regions_are_the_other_regions_sorted_and_default_to_none() {
        assert!(parse(GOOD).unwrap().supported_regions.is_empty());
        let text = GOOD.replacen(
            "region = \"us-east-1\"",
            "region = \"us-east-1\"\nsupported_regions = [\"eu-west-1\", \"ap-south-1\"]",
            1,
        );
        let spec = parse(&text).unwrap();
        assert_eq!(
            spec.supported_regions.iter().collect::<Vec<_>>(),
            ["ap-south-1", "eu-west-1"]
        );
        // `--region` names the home region too: listing it is refused.
        let overrides = Overrides {
            region: Some("eu-west-1".into()),
            ..Default::default()
        };
        let error = StackSpec::parse(Path::new("s.toml"), &text, &overrides).unwrap_err();
        assert_eq!(error.problems[0].key, "supported_regions");
        assert!(error.problems[0].message.contains("own region"));
    }

    #[test]
    fn overrides_win() {
        let overrides = Overrides {
            name: Some("other".into()),
            region: Some("eu-west-1".into()),
            allow_partial_az_coverage: true,
            check_package: false,
        };
        let spec = StackSpec::parse(Path::new("s.toml"), GOOD, &overrides).unwrap();
        assert_eq!(spec.name.as_str(), "other");
        assert_eq!(spec.region.as_deref(), Some("eu-west-1"));
        assert!(spec.allow_partial_az_coverage);
        let bad = Overrides {
            name: Some("Bad Name".into()),
            ..Default::default()
        };
        let error = StackSpec::parse(Path::new("s.toml"), GOOD, &bad).unwrap_err();
        assert_eq!(error.problems[0].key, "--name");
    }

    #[test]
    fn cidr_arithmetic() {
        let vpc = Ipv4Cidr::parse("10.40.0.0/16").unwrap();
        assert_eq!(subnet_cidr(&vpc, 0).unwrap().to_string(), "10.40.0.0/20");
        assert_eq!(subnet_cidr(&vpc, 5).unwrap().to_string(), "10.40.80.0/20");
        assert_eq!(subnet_cidr(&vpc, 15).unwrap().to_string(), "10.40.240.0/20");
        assert!(subnet_cidr(&vpc, 16).is_none());
        assert!(vpc.contains("10.40.255.1".parse().unwrap()));
        assert!(!vpc.contains("10.41.0.1".parse().unwrap()));
    }
}

mod examples {
    use super::super::*;

    /// The shipped examples are valid configs (the package is built later).
    #[test]
    fn the_examples_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for (file, ports) in [
            ("stack.toml", vec![443]),
            ("existing-vpc.toml", vec![443, 8080]),
        ] {
            let spec = StackSpec::load(&dir.join(file), &Overrides::default())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(spec.ports, ports, "{file}");
            assert_eq!(spec.name.as_str(), "acme-api");
        }
    }
}

/// `[gateway]`: the gateway's hosts are the targets, on its port, checked on
/// its health port; `[service] targets` and the health check's protocol,
/// port and path are refused beside it, each with the line and the fix.
mod gateway {
    use super::super::*;

    fn text(service: &str, gateway: &str, extra: &str) -> String {
        format!(
            r#"name = "acme-api"
[network]
vpc_cidr = "10.40.0.0/16"
[service]
ports = [443, 8443]
{service}
{gateway}
[access]
allowlist = []
[approver]
package = "bootstrap.zip"
{extra}"#
        )
    }

    fn parse(text: &str) -> Result<StackSpec, SpecError> {
        StackSpec::parse(Path::new("stack.toml"), text, &Overrides::default())
    }

    #[test]
    fn the_gateway_hosts_are_the_targets_on_its_port_with_proxy_protocol() {
        let spec = parse(&text(
            "",
            "[gateway]\ntargets = [\"10.40.1.10\", \"10.40.2.10\"]\nport = 9443\nhealth_port = 9081",
            "[health_check]\ninterval_seconds = 30",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(spec.proxy_protocol_v2());
        assert_eq!(
            spec.gateway,
            Some(GatewaySpec {
                port: 9443,
                health_port: Some(9081)
            })
        );
        assert_eq!(spec.targets.kind, TargetKind::Ip);
        assert_eq!(spec.targets.ids, ["10.40.1.10", "10.40.2.10"]);
        // Every port's target group forwards to the gateway's one port.
        assert_eq!(spec.target_port, Some(9443));
        assert_eq!(
            spec.health_check,
            HealthCheckSpec {
                protocol: HealthProtocol::Http,
                port: Some(9081),
                path: Some("/".into()),
                interval_seconds: 30,
                ..HealthCheckSpec::default()
            }
        );

        // Without a health port: TCP on the gateway's port; instance ids work.
        let spec = parse(&text(
            "",
            "[gateway]\ntargets = [\"i-0123456789abcdef0\"]\nport = 9443",
            "",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spec.targets.kind, TargetKind::Instance);
        assert_eq!(spec.health_check, HealthCheckSpec::default());

        // Without a gateway, nothing changes: no PROXY header for the app.
        let spec = parse(&text("targets = [\"10.40.1.10\"]", "", "")).unwrap();
        assert!(!spec.proxy_protocol_v2());
        assert_eq!(spec.gateway, None);
    }

    #[test]
    fn mistakes_name_the_line_the_key_and_the_fix() {
        let gateway = "[gateway]\ntargets = [\"10.40.1.10\"]\nport = 9443\nhealth_port = 9081";
        let cases: &[(String, &str, usize, &str)] = &[
            // Two sources of targets.
            (
                text("targets = [\"10.40.1.10\"]", gateway, ""),
                "service.targets",
                6,
                "remove service.targets",
            ),
            (
                text("target_port = 8080", gateway, ""),
                "service.target_port",
                6,
                "remove service.target_port",
            ),
            // No targets at all.
            (
                text("", "", ""),
                "service.targets",
                5,
                "add a [gateway] section",
            ),
            // The health check follows the gateway.
            (
                text("", gateway, "[health_check]\nprotocol = \"tcp\""),
                "health_check.protocol",
                16,
                "remove health_check.protocol",
            ),
            (
                text("", gateway, "[health_check]\npath = \"/healthz\""),
                "health_check.path",
                16,
                "remove health_check.path",
            ),
            (
                text(
                    "",
                    "[gateway]\ntargets = [\"10.40.1.10\"]\nport = 9443\nhealth_port = 9443",
                    "",
                ),
                "gateway.health_port",
                10,
                "port of its own",
            ),
            (
                text("", "[gateway]\ntargets = [\"10.40.1.10\"]\nport = 0", ""),
                "gateway.port",
                9,
                "1 to 65535",
            ),
            (
                text("", "[gateway]\ntargets = [\"10.99.1.10\"]\nport = 9443", ""),
                "gateway.targets",
                8,
                "outside network.vpc_cidr",
            ),
            (
                text("", "[gateway]\ntargets = []\nport = 9443", ""),
                "gateway.targets",
                8,
                "at least one target",
            ),
        ];
        for (text, key, line, fix) in cases {
            let error = parse(text).expect_err(text);
            let problem = error
                .problems
                .iter()
                .find(|p| p.key == *key && p.message.contains(fix))
                .unwrap_or_else(|| panic!("{key} ({fix}) not reported for\n{text}\n{error}"));
            assert_eq!(problem.line, Some(*line), "{text}\n{error}");
        }
    }

    #[test]
    fn the_gateway_example_parses() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gateway.toml");
        let spec = StackSpec::load(&file, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            spec.gateway,
            Some(GatewaySpec {
                port: 8443,
                health_port: Some(8081)
            })
        );
        assert_eq!(spec.targets.ids, ["10.40.0.20", "10.40.16.20"]);
    }

    #[test]
    fn an_unknown_gateway_key_is_an_error() {
        let error = parse(&text(
            "",
            "[gateway]\ntargets = [\"10.40.1.10\"]\nport = 9443\nhealth_path = \"/\"",
            "",
        ))
        .expect_err("unknown key");
        assert!(error.to_string().contains("health_path"), "{error}");
    }
}
