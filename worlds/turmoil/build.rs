//! The binary exports its `getrandom` so that the libraries that look it up at run time (std's
//! hash seeds, the getrandom crate) find the binary's seeded stand-in (src/overrides.rs).

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=getrandom");
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=clock_gettime");
}
