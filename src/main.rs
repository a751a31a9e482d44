use std::process::ExitCode;

/// The one place relman ends: a command's own exit code, or the error that stopped
/// it, printed here once (SPEC §3's exit codes).
fn main() -> ExitCode {
    match relman::cli::main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("relman: {e}");
            e.exit_code()
        }
    }
}
