//! The `adv-bench` binary end to end: train, eval, attacks, and one-line errors.

mod common;

use std::path::Path;

use common::{assert_one_line_error, read_json, run_ok};

fn train_checkpoint(dir: &Path) -> String {
    let weights = dir.join("digits.bpk");
    let weights = weights.to_str().unwrap().to_owned();
    run_ok(&[
        "train",
        "--data",
        "digits:train",
        "--epochs",
        "3",
        "--out",
        &weights,
    ]);
    assert!(
        dir.join("digits.json").is_file(),
        "the architecture sidecar is written"
    );
    weights
}

#[test]
fn train_then_eval_writes_the_report_contract() {
    let dir = tempfile::tempdir().unwrap();
    let weights = train_checkpoint(dir.path());
    let json = dir.path().join("report.json");
    let stdout = run_ok(&[
        "eval",
        "--weights",
        &weights,
        "--data",
        "digits:test",
        "--attack",
        "fgsm",
        "--attack",
        "pgd",
        "--steps",
        "5",
        "--eps",
        "0.1",
        "--eps",
        "0.3",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("| fgsm |") && stdout.contains("| pgd-5 |"),
        "{stdout}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let clean = report["clean_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&clean));
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "two attacks at two epsilons");
    for result in results {
        let robust = result["robust_accuracy"].as_f64().unwrap();
        let epsilon = result["epsilon"].as_f64().unwrap();
        assert!(
            robust <= clean,
            "robust accuracy never exceeds clean accuracy"
        );
        assert!(result["max_perturbation"].as_f64().unwrap() <= epsilon * (1.0 + 1e-5));
        assert!(result["mean_perturbation"].as_f64().unwrap() <= epsilon * (1.0 + 1e-5));
        assert!(result["cost"]["forward_samples"].as_u64().unwrap() > 0);
        assert!(result["cost"]["backward_samples"].as_u64().unwrap() > 0);
        assert!(result["wall_time_s"].as_f64().unwrap() >= 0.0);
    }
}

/// Every attack of the white-box suite runs by name with its options; the minimal-distance ones
/// report the distances they found under an unbounded L2 budget.
#[test]
fn the_white_box_suite_runs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let weights = train_checkpoint(dir.path());
    let json = dir.path().join("report.json");
    let json = json.to_str().unwrap();
    let eval = |args: &[&str]| {
        let mut all: Vec<&str> = vec![
            "eval",
            "--weights",
            &weights,
            "--data",
            "digits:test",
            "--limit",
            "16",
            "--json",
            json,
        ];
        all.extend_from_slice(args);
        run_ok(&all);
        read_json(json.as_ref())["results"]
            .as_array()
            .unwrap()
            .clone()
    };
    let results = eval(&[
        "--attack",
        "bim",
        "--attack",
        "mim",
        "--attack",
        "dim",
        "--attack",
        "ti",
        "--steps",
        "3",
        "--decay",
        "0.5",
        "--diversity-prob",
        "0.7",
        "--kernel-size",
        "3",
    ]);
    let labels: Vec<&str> = results
        .iter()
        .map(|r| r["attack"].as_str().unwrap())
        .collect();
    // Each flag reaches the attacks that have the option, and the labels show it.
    assert_eq!(
        labels,
        [
            "bim-3",
            "mim-3-decay=0.5",
            "dim-3-decay=0.5-diversity-prob=0.7",
            "ti-3-decay=0.5-kernel-size=3-diversity-prob=0.7"
        ]
    );
    assert_eq!(results[3]["config"]["attack"], "ti");
    assert!(
        results[3]["config"]["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == "kernel-size" && s["value"] == "3"),
        "{}",
        results[3]["config"]
    );
    let results = eval(&[
        "--norm",
        "l2",
        "--eps",
        "1e6",
        "--attack",
        "deepfool",
        "--overshoot",
        "0.05",
        "--attack",
        "cw",
        "--steps",
        "100",
        "--search-steps",
        "2",
        "--initial-const",
        "10",
        "--confidence",
        "0.5",
    ]);
    for result in &results {
        assert!(
            result["mean_perturbation"].as_f64().unwrap() > 0.0,
            "{result}"
        );
        assert!(
            result["max_perturbation"].as_f64().unwrap() < 1e3,
            "{result}"
        );
    }
    assert_eq!(
        results[0]["robust_accuracy"], 0.0,
        "deepfool breaks every sample without a budget"
    );
}

/// Two copies of one model averaged by logits are that model: same clean and robust accuracy.
#[test]
fn an_ensemble_of_copies_scores_as_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let weights = train_checkpoint(dir.path());
    let copy = dir.path().join("copy.bpk");
    std::fs::copy(&weights, &copy).unwrap();
    std::fs::copy(dir.path().join("digits.json"), dir.path().join("copy.json")).unwrap();
    let copy = copy.to_str().unwrap();
    let json = dir.path().join("report.json");
    let json = json.to_str().unwrap();
    let accuracies = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--data",
            "digits:test",
            "--attack",
            "fgsm",
            "--eps",
            "0.1",
            "--json",
            json,
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
        let report = read_json(json.as_ref());
        (
            report["clean_accuracy"].clone(),
            report["results"][0]["robust_accuracy"].clone(),
            report["context"]["model"].as_str().unwrap().to_owned(),
        )
    };
    let single = accuracies(&["--weights", &weights]);
    let ensemble = accuracies(&[
        "--weights",
        &weights,
        "--weights",
        copy,
        "--ensemble",
        "logits",
    ]);
    assert_eq!((&single.0, &single.1), (&ensemble.0, &ensemble.1));
    assert!(ensemble.2.starts_with("ensemble of"), "{}", ensemble.2);
    assert_one_line_error(
        &[
            "eval",
            "--weights",
            &weights,
            "--weights",
            copy,
            "--data",
            "digits:test",
        ],
        "--ensemble",
    );
}

#[test]
fn attacks_lists_the_catalogue() {
    let stdout = run_ok(&["attacks"]);
    assert!(stdout.contains("| fgsm | linf, l2 |") && stdout.contains("| pgd | linf, l2, l1 |"));
    let list: serde_json::Value = serde_json::from_str(&run_ok(&["attacks", "--json"])).unwrap();
    assert!(list.as_array().unwrap().iter().any(|a| a["name"] == "pgd"));
}

#[test]
fn bad_arguments_and_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bpk");
    let missing = missing.to_str().unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--model",
            "small-cnn",
            "--weights",
            missing,
            "--data",
            "digits:test",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let check = |extra: &[&str], needle: &str| {
        let args = eval(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_one_line_error(&args, needle);
    };
    check(&[], "missing.bpk");
    check(&["--eps", "-0.1"], "epsilon -0.1");
    check(&["--eps", "abc"], "cannot read epsilon");
    check(&["--attack", "zoo2"], "unknown attack 'zoo2'");
    check(&["--norm", "l3"], "unknown norm");
    check(
        &["--attack", "fgsm", "--norm", "l1"],
        "fgsm does not support the l1 norm",
    );
    check(
        &["--steps", "0"],
        "pgd: steps 0 is outside its range (>= 1)",
    );
    // An option the attack lacks is an error naming the attack and its options, as a flag or
    // in the attack's own settings.
    let pgd_options = "pgd has no option 'decay' (its options: steps, step-size, random-start, start-std, loss, l1-fraction)";
    check(&["--attack", "pgd", "--decay", "0.5"], pgd_options);
    check(&["--attack", "pgd:decay=0.5"], pgd_options);
    check(
        &["--attack", "fgsm", "--attack", "bim", "--decay", "0.5"],
        "no attack given has option 'decay'",
    );
    check(&["--attack", "pgd:steps=x"], "steps: 'x' is not");
    check(&["--attack", "pgd:steps"], "write NAME:key=value");
    check(
        &["--attack", "pgd", "--attack", "pgd:steps=10"],
        "two attacks are labelled 'pgd-10'",
    );
    check(
        &["--attack", "pgd", "--knowledge", "score-based"],
        "pgd needs WhiteBox access, and the threat model grants only ScoreBased",
    );
    check(&["--backend", "onnx"], "unknown backend");
    check(&["--goal", "sideways"], "unknown goal");
    check(
        &["--attack", "cw", "--norm", "linf"],
        "cw does not support the linf norm",
    );
    check(
        &["--attack", "ti", "--kernel-size", "4"],
        "kernel size 4 must be odd",
    );
    check(
        &["--attack", "deepfool", "--overshoot", "-1"],
        "deepfool: overshoot -1 is outside its range (>= 0)",
    );

    let garbage = dir.path().join("garbage.bpk");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    assert_one_line_error(
        &[
            "eval",
            "--model",
            "mlp",
            "--weights",
            garbage.to_str().unwrap(),
            "--data",
            "digits:test",
        ],
        "garbage.bpk",
    );
    let bad_data = dir.path().join("images.npy");
    std::fs::write(&bad_data, b"\x93NUMPY garbage").unwrap();
    assert_one_line_error(
        &[
            "eval",
            "--model",
            "mlp",
            "--weights",
            missing,
            "--data",
            bad_data.to_str().unwrap(),
        ],
        "images.npy",
    );
    assert_one_line_error(&["train", "--epochs", "0", "--out", missing], "epochs");
    assert_one_line_error(&["eval", "--weights", missing], "--data");
}

#[test]
fn a_checkpoint_knows_its_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let weights = train_checkpoint(dir.path());
    assert_one_line_error(
        &[
            "eval",
            "--model",
            "mlp",
            "--weights",
            &weights,
            "--data",
            "digits:test",
        ],
        "disagrees with the checkpoint's architecture small-cnn",
    );
    assert_one_line_error(
        &[
            "eval",
            "--weights",
            &weights,
            "--data",
            "digits:test",
            "--goal",
            "targeted",
            "--target",
            "12",
        ],
        "target class 12 does not exist",
    );
}

/// Every objective trains from the command line and its checkpoint's sidecar records the
/// objective, its options and the weight decay; a killed-and-rerun command resumes.
#[test]
fn every_objective_trains_from_the_command_line_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let listing = run_ok(&["objectives"]);
    let names: Vec<String> = listing
        .lines()
        .skip(2)
        .filter_map(|line| line.split('|').nth(1).map(|n| n.trim().to_owned()))
        .collect();
    assert!(names.len() >= 15, "{names:?}");
    for name in &names {
        let out = dir.path().join(format!("{name}.bpk"));
        // The ADT generators at the reference's width (256) are too slow for a debug build.
        let objective = match name.as_str() {
            "adt-expam" | "adt-impam" => format!("{name}:filters=4"),
            _ => name.clone(),
        };
        let mut args = vec![
            "train",
            "--model",
            "mlp",
            "--data",
            "digits:test",
            "--epochs",
            "1",
            "--objective",
            &objective,
            "--weight-decay",
            "0.0005",
            "--out",
            out.to_str().unwrap(),
        ];
        if name != "standard" {
            args.extend(["--eps", "0.1"]);
        }
        // Ens-AT's surrogate: the standard model, trained first.
        let surrogate = dir.path().join("standard.bpk");
        if name == "ens-at" {
            args.extend(["--surrogates", surrogate.to_str().unwrap()]);
        }
        run_ok(&args);
        let sidecar = read_json(&out.with_extension("json"));
        let training = &sidecar["training"];
        assert_eq!(training["objective"], name.as_str());
        assert_eq!(
            training["settings"]["weight_decay"].as_f64().unwrap() as f32,
            5e-4
        );
        assert_eq!(training["history"].as_array().unwrap().len(), 1);
        assert!(!out.with_extension("bpk.checkpoint").exists());
    }
    // Every checkpoint loads as its sidecar describes it (the center objectives' heads
    // included), and evaluating it carries its training record into the report.
    let json = dir.path().join("report.json");
    for name in &names {
        let weights = dir.path().join(format!("{name}.bpk"));
        run_ok(&[
            "eval",
            "--weights",
            weights.to_str().unwrap(),
            "--data",
            "digits:test",
            "--limit",
            "20",
            "--attack",
            "fgsm",
            "--eps",
            "0.1",
            "--json",
            json.to_str().unwrap(),
        ]);
        assert_eq!(
            read_json(&json)["context"]["training"]["objective"],
            name.as_str()
        );
    }
    assert_one_line_error(
        &[
            "train",
            "--objective",
            "pgd-at",
            "--beta",
            "3",
            "--out",
            "x.bpk",
        ],
        "pgd-at has no option 'beta'",
    );
    assert_one_line_error(
        &["train", "--objective", "madry2"],
        "unknown objective 'madry2'",
    );
}
