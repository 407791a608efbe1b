//! Helpers of the tests that run the `adv-bench` binary; each test file uses some of them.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `adv-bench ARGS`.
pub fn adv_bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adv-bench"))
        .args(args)
        .output()
        .expect("the adv-bench binary runs")
}

/// Runs `adv-bench ARGS`, asserts success and returns standard output.
pub fn run_ok(args: &[&str]) -> String {
    let output = adv_bench(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts a failure with exactly one line on stderr that contains `needle`.
pub fn assert_one_line_error(args: &[&str], needle: &str) {
    let output = adv_bench(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{args:?} should fail");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: expected '{needle}' in {stderr}"
    );
}

/// The JSON file at `path`.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the file was written"))
        .expect("the file is JSON")
}

/// The bytes of a `.npy` file of `shape` holding `raw` (`descr` such as `<f4` or `<i8`).
pub fn npy(descr: &str, shape: &[usize], raw: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let dims = if dims.len() == 1 {
        format!("{},", dims[0])
    } else {
        dims.join(", ")
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(raw);
    bytes
}
