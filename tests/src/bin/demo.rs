//! `tests/demo.sh` runs this: the whole flow on the local emulator, narrated.
//! See `privatelink_tests::demo`. Ctrl-C stops everything it started.

use std::process::ExitCode;

use privatelink_tests::demo::{self, DemoOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let workdir = std::env::temp_dir().join(format!("privatelink-demo-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&workdir) {
        eprintln!("demo: creating {}: {e}", workdir.display());
        return ExitCode::FAILURE;
    }
    let outcome = match DemoOptions::build(workdir.clone(), true) {
        Err(e) => Err(e),
        Ok(options) => tokio::select! {
            outcome = demo::run(options) => outcome,
            _ = tokio::signal::ctrl_c() => {
                // Dropping the demo's future stops the emulator, the runtime
                // emulator and any child command it was running.
                eprintln!("\ninterrupted: stopping everything the demo started");
                let _ = std::fs::remove_dir_all(&workdir);
                return ExitCode::from(130);
            }
        },
    };
    let _ = std::fs::remove_dir_all(&workdir);
    match outcome {
        Ok(summary) if summary.leftovers.is_empty() => {
            println!(
                "\nDone in {:.1} s: the tenant customer was accepted by the Lambda, the other \
                 one by the operator's override, both verified over HTTPS, and nothing is left.",
                summary.elapsed.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Ok(summary) => {
            eprintln!(
                "\ndemo: teardown left {} resources behind",
                summary.leftovers.len()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("\ndemo failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
