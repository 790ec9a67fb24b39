//! The `folio` binary: the station window with no arguments, else a command.

fn main() -> std::process::ExitCode {
    folio::cli::run()
}
