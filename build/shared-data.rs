//! Build script of the crates whose tests read the shared data (`$ADV_SHARED_DATA`): it sets
//! `cfg(shared_data)` when the variable is set, so that those tests show as ignored, with the
//! reason, when it is not (instead of passing without checking anything).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(shared_data)");
    println!("cargo::rerun-if-env-changed=ADV_SHARED_DATA");
    if std::env::var_os("ADV_SHARED_DATA").is_some() {
        println!("cargo::rustc-cfg=shared_data");
    }
}
