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
