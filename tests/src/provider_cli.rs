//! Running the real `endpoint-service` stack commands (plan, up, status,
//! down, iam-policy) against the emulator as one account: a stack config
//! written to a fresh directory with a small approver package, and the
//! command's exit code, stdout (parsed when JSON) and stderr.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::bins::{command, Run};
use crate::Account;
use anyhow::{Context, Result};

/// The smallest valid zip (an empty archive). The emulator's Lambda stores
/// the package and never runs it.
pub const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A directory holding one stack config and its approver package.
#[derive(Debug)]
pub struct StackDir {
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl Drop for StackDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A stack config creating its own VPC (10.40.0.0/16), one port (443 to
/// 8443 on two IP targets), seeding the tenant registry with `allowlist`.
/// `extra` is appended verbatim (more TOML tables).
pub fn stack_toml(name: &str, allowlist: &[&str], extra: &str) -> String {
    stack_toml_with_access(name, allowlist, "", extra)
}

/// [`stack_toml`] with more keys of the `[access]` table (`revoke = true`,
/// `non_allowlisted = "leave-pending"`, `allow_any_principal = true`), one
/// per line.
pub fn stack_toml_with_access(name: &str, allowlist: &[&str], access: &str, extra: &str) -> String {
    let ids: Vec<String> = allowlist.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"name = "{name}"
region = "us-east-1"

[network]
vpc_cidr = "10.40.0.0/16"

[service]
ports = [443]
target_port = 8443
targets = ["10.40.0.10", "10.40.16.10"]

[access]
allowlist = [{}]
{access}

[approver]
package = "bootstrap.zip"
{extra}"#,
        ids.join(", ")
    )
}

impl StackDir {
    /// Writes `toml` as `stack.toml` next to an approver package.
    pub fn new(toml: &str) -> Result<StackDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "privatelink-provider-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("bootstrap.zip"), EMPTY_ZIP)?;
        let config = dir.join("stack.toml");
        std::fs::write(&config, toml)?;
        Ok(StackDir { dir, config })
    }

    /// Replaces the config text.
    pub fn rewrite(&self, toml: &str) -> Result<()> {
        std::fs::write(&self.config, toml).context("rewriting stack.toml")
    }

    pub fn config(&self) -> &Path {
        &self.config
    }
}

/// Runs `endpoint-service ARGS` as `account`.
pub fn run(account: &Account, args: &[&str]) -> Result<Run> {
    let mut command = command("endpoint-service", Some(account))?;
    Run::capture(command.args(args).env("RUST_BACKTRACE", "0"))
}

/// Runs `endpoint-service ARGS --output json` as `account`, off the async
/// runtime's worker.
pub async fn run_json(account: &Account, args: &[&str]) -> Result<Run> {
    let account = account.clone();
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.extend(["--output".to_string(), "json".to_string()]);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&account, &args)
    })
    .await
    .context("joining the endpoint-service run")?
}
