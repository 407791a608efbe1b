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
    assert!(
        report.clean_accuracy > 0.8,
        "clean accuracy {}",
        report.clean_accuracy
    );
    let at = |attack: &str, epsilon: f32| {
        report
            .results
            .iter()
            .find(|r| r.attack == attack && r.epsilon == epsilon)
            .unwrap_or_else(|| panic!("{attack} at {epsilon}"))
            .robust_accuracy
    };
    let largest = *options.epsilons.last().unwrap();
    assert!(
        at("fgsm", largest) < report.clean_accuracy - 0.5,
        "FGSM at {largest} must bite"
    );
    for &epsilon in &options.epsilons {
        assert!(
            at("pgd-10", epsilon) <= at("fgsm", epsilon) + 0.02,
            "PGD is at least FGSM's strength"
        );
    }
    for pair in options.epsilons.windows(2) {
        assert!(
            at("pgd-10", pair[1]) <= at("pgd-10", pair[0]),
            "accuracy falls with epsilon"
        );
    }

    assert!(
        report.warnings.is_empty(),
        "a plainly trained CNN passes the sanity checks: {:?}",
        report.warnings
    );

    for result in &report.results {
        let steps = &result.accuracy_per_step;
        assert!(
            steps.windows(2).all(|w| w[1] <= w[0]),
            "{}: {steps:?}",
            result.attack
        );
        assert_eq!(
            *steps.last().unwrap(),
            result.robust_accuracy,
            "the iteration curve ends at the result"
        );
    }
    assert_eq!(report.epsilon_curves.len(), 2);
    for curve in &report.epsilon_curves {
        assert_eq!(
            curve.accuracy[0],
            (0.0, report.clean_accuracy),
            "{}",
            curve.attack
        );
        assert!(
            curve.accuracy.windows(2).all(|w| w[1].1 <= w[0].1),
            "{curve:?}"
        );
        assert_eq!(curve.minimal_epsilons.len(), report.samples);
    }

    let run = &options.run_dir;
    for file in [
        "model.bpk",
        "model.json",
        "train.json",
        "report.json",
        "report.md",
    ] {
        assert!(run.join(file).is_file(), "{file} is written");
    }
    let mut written: EvalReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    // Wall times are sums of many f64 values, which JSON keeps only to the last bit.
    let mut expected = report.clone();
    for r in [&mut written, &mut expected] {
        r.clean_wall_time_s = 0.0;
        r.results.iter_mut().for_each(|a| a.wall_time_s = 0.0);
        r.epsilon_curves
            .iter_mut()
            .for_each(|c| c.wall_time_s = 0.0);
    }
    assert_eq!(written, expected);
    let markdown = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(markdown.contains("| **worst case** |"));
}
