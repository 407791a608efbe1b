//! The main job end to end on the embedded digits: training works, attacks bite, and the run
//! folder holds everything the README promises.

use adv_bench::{EvalReport, QuickstartOptions, run_quickstart};

#[test]
fn quickstart_trains_attacks_and_writes_the_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = QuickstartOptions::new(dir.path().join("run"));
    options.epochs = 10;
    options.pgd_steps = 10;
    options.progress = false;
    let outcome = run_quickstart(&options).unwrap();
    let report = &outcome.report;

    assert_eq!(report.samples, 360);
    assert!(report.clean_accuracy > 0.8, "clean accuracy {}", report.clean_accuracy);
    let at = |attack: &str, epsilon: f32| {
        report
            .results
            .iter()
            .find(|r| r.attack == attack && r.epsilon == epsilon)
            .unwrap_or_else(|| panic!("{attack} at {epsilon}"))
            .robust_accuracy
    };
    let largest = *options.epsilons.last().unwrap();
    assert!(at("fgsm", largest) < report.clean_accuracy - 0.5, "FGSM at {largest} must bite");
    for &epsilon in &options.epsilons {
        assert!(at("pgd-10", epsilon) <= at("fgsm", epsilon) + 0.02, "PGD is at least FGSM's strength");
    }
    for pair in options.epsilons.windows(2) {
        assert!(at("pgd-10", pair[1]) <= at("pgd-10", pair[0]), "accuracy falls with epsilon");
    }

    let run = &options.run_dir;
    for file in ["model.bpk", "model.json", "train.json", "report.json", "report.md"] {
        assert!(run.join(file).is_file(), "{file} is written");
    }
    let written: EvalReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(&written, report);
    let markdown = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(markdown.contains("| **worst case** |"));
}
