//! Declares the `loom` cfg so `--cfg loom` builds are checked, not warned about.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
