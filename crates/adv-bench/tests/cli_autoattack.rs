//! `adv-bench eval --attack NAME` reaches every attack of the AutoAttack family, with its
//! options, and rejects the norms they do not support in one line.

use std::process::{Command, Output};

fn adv_bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adv-bench"))
        .args(args)
        .output()
        .expect("the adv-bench binary runs")
}

#[test]
fn eval_reaches_the_autoattack_family() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("mlp.bpk");
    let weights = weights.to_str().unwrap();
    let output = adv_bench(&["train", "--model", "mlp", "--epochs", "3", "--out", weights]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = dir.path().join("report.json");
    let mut args = vec![
        "eval",
        "--weights",
        weights,
        "--data",
        "digits:test",
        "--limit",
        "40",
    ];
    for attack in [
        "apgd-ce",
        "apgd-dlr",
        "apgd-t",
        "fab-t",
        "square",
        "autoattack",
    ] {
        args.extend(["--attack", attack]);
    }
    args.extend([
        "--steps",
        "5",
        "--restarts",
        "2",
        "--queries",
        "50",
        "--norm",
        "l2",
    ]);
    args.extend(["--eps", "0.5", "--json", json.to_str().unwrap()]);
    let output = adv_bench(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let labels: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attack"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "apgd-ce-5-x2",
            "apgd-dlr-5-x2",
            "apgd-t-5-x2",
            "fab-t-5",
            "square-50",
            "autoattack-custom"
        ]
    );
    let robust = |i: usize| report["results"][i]["robust_accuracy"].as_f64().unwrap();
    for i in 0..5 {
        assert!(
            robust(5) <= robust(i) + 1e-6,
            "autoattack is the worst case: {labels:?}"
        );
    }
    let square = &report["results"][4]["cost"];
    assert_eq!(
        square["backward_samples"].as_u64().unwrap(),
        0,
        "square only queries scores"
    );
    // The clean check of the 40 images, at most 50 queries per attacked sample, and the
    // harness's verdict on each returned example.
    let attacked = report["results"][4]["attacked"].as_u64().unwrap();
    assert!(
        square["forward_samples"].as_u64().unwrap() <= 40 + 51 * attacked,
        "{square}"
    );

    let output = adv_bench(&[
        "eval",
        "--weights",
        weights,
        "--data",
        "digits:test",
        "--attack",
        "autoattack",
        "--norm",
        "l1",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("autoattack does not support the l1 norm"),
        "{stderr}"
    );
}
