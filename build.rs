//! Link settings of the `worker` binary (nothing is generated).
//!
//! On glibc Linux the binary is linked with packed relative relocations (`-z
//! pack-relative-relocs`, DT_RELR; GNU ld 2.38+ or lld, glibc 2.36+ at run time). A
//! position-independent Rust binary carries ~42,000 relative relocations (every pointer in its
//! vtables and static tables); as classic 24-byte RELA entries that is a 1 MB `.rela.dyn` that
//! the loader reads at every start, about 1 MB of the file and of the idle RSS (BENCHMARKS.md,
//! issue 18). DT_RELR encodes the same relocations in a few KB, and the binary stays
//! position-independent (ASLR kept). The image's static musl build is left as it is.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
