// Links the system libraries Folio calls through its own small FFI modules
// (zbar for barcodes). Installed by installer/setup.sh.
fn main() {
    println!("cargo:rustc-link-lib=zbar");
    println!("cargo:rustc-link-lib=sane");
    println!("cargo:rerun-if-changed=build.rs");
}
