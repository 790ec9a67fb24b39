//! The `folio` binary: the station window with no arguments, else a command.

fn main() -> std::process::ExitCode {
    // First, while this is the only thread: OCR's OpenMP reads it when loaded.
    folio::imaging::ocr::limit_threads();
    folio::store::tpm::quiet_library();
    folio::cli::run()
}
