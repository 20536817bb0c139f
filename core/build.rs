//! Puts the git commit the binaries are built from into `--version`
//! (`PRIVATELINK_KIT_COMMIT`), so a bug report names the exact code. Outside
//! a git checkout (a source tarball) the commit is "unknown".

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=PRIVATELINK_KIT_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself (branch switch), the branch's
    // loose ref and packed-refs. Only files that exist are named: cargo
    // treats a missing one as always changed and would rebuild every time.
    let git = Path::new("../.git");
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        if let Some(reference) = head.strip_prefix("ref: ") {
            watched.push(reference.trim().to_string());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    for file in watched {
        if git.join(&file).is_file() {
            println!("cargo:rerun-if-changed=../.git/{file}");
        }
    }
}
