//! `adv-bench eval --attack NAME` reaches every attack of the AutoAttack family, with its
//! options, and rejects the norms they do not support in one line.

mod common;

use common::{assert_one_line_error, read_json, run_ok};

#[test]
fn eval_reaches_the_autoattack_family() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("mlp.bpk");
    let weights = weights.to_str().unwrap();
    run_ok(&["train", "--model", "mlp", "--epochs", "3", "--out", weights]);
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
    run_ok(&args);
    let report = read_json(&json);
    let labels: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attack"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "apgd-ce-5-restarts=2",
            "apgd-dlr-5-restarts=2",
            "apgd-t-5-restarts=2",
            "fab-t-5-restarts=2",
            "square-50",
            "autoattack-steps=5-restarts=2-queries=50"
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
    // At most 50 queries per attacked sample; the harness's verification of each returned
    // example is billed apart.
    let attacked = report["results"][4]["attacked"].as_u64().unwrap();
    assert!(
        square["forward_samples"].as_u64().unwrap() <= 50 * attacked,
        "{square}"
    );
    assert!(report["results"][4]["mean_queries"].as_f64().unwrap() <= 50.0);
    assert_eq!(
        report["results"][4]["harness_cost"]["forward_samples"]
            .as_u64()
            .unwrap(),
        attacked
    );

    assert_one_line_error(
        &[
            "eval",
            "--weights",
            weights,
            "--data",
            "digits:test",
            "--attack",
            "autoattack",
            "--norm",
            "l1",
        ],
        "autoattack does not support the l1 norm",
    );
}
