//! The `folio` binary: dispatches to the command line (and, later, the window).

fn main() -> std::process::ExitCode {
    folio::cli::run()
}
