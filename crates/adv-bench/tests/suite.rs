//! `adv-bench run` and `merge` end to end: a run killed with SIGKILL and resumed, and a run
//! spread over shards and merged, both give the report of an uninterrupted run; resumes
//! started while a run works are refused and lose nothing.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{assert_one_line_error, read_json, run_ok};

const SUITE: &str = r#"
name = "resume-test"
seed = 5
batch_size = 16

[datasets.test]
source = "digits:test"
limit = 96

[[models]]
name = "cnn"
data = "test"
architecture = "small-cnn"
train = { data = "digits:train", epochs = 3 }

[[threats]]
norm = "linf"
epsilons = [0.05, 0.1, 0.2]
curves = { initial = 0.01, max = 0.4, bisection_steps = 5 }

[[attacks]]
name = "fgsm"

[[attacks]]
name = "pgd"
options = { steps = 40 }
"#;

/// Units of the suite: 6 clean batches, 2 attacks x 3 radii x 6 batches, 2 x 6 searches, checks.
const UNITS: usize = 6 + 36 + 12 + 1;

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn journal_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|text| text.lines().count())
        .unwrap_or(0)
}

/// The report with every wall time removed: the one thing two runs may differ in.
fn report_without_times(dir: &Path) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|key, _| !key.ends_with("wall_time_s"));
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut report = read_json(&dir.join("report.json"));
    strip(&mut report);
    report
}

fn uninterrupted(root: &Path, suite: &Path) -> Value {
    let dir = root.join("whole");
    let stdout = run_ok(&["run", path(suite), "--out", path(&dir)]);
    assert!(stdout.contains("robust (worst case)"), "{stdout}");
    assert_eq!(journal_lines(&dir.join("journal.jsonl")), 1 + UNITS);
    for file in [
        "report.md",
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.json",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    for plot in ["cnn-linf-epsilon", "cnn-linf-white-box-strength"] {
        for extension in ["svg", "png"] {
            let file = dir.join("plots").join(format!("{plot}.{extension}"));
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            assert!(size > 1000, "{} has {size} bytes", file.display());
        }
    }
    let markdown = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for section in [
        "## Leaderboard",
        "## Sanity checks",
        "## Cost",
        "Accuracy vs epsilon",
    ] {
        assert!(
            markdown.contains(section),
            "{section} missing from report.md"
        );
    }
    report_without_times(&dir)
}

fn write_suite(root: &Path) -> std::path::PathBuf {
    let suite = root.join("suite.toml");
    std::fs::write(&suite, SUITE).unwrap();
    suite
}

#[test]
fn a_run_killed_midway_resumes_to_the_uninterrupted_report() {
    let root = tempfile::tempdir().unwrap();
    let suite = write_suite(root.path());
    let expected = uninterrupted(root.path(), &suite);

    let dir = root.path().join("killed");
    let journal = dir.join("journal.jsonl");
    // Killed three times: within its first milliseconds (folder, lock, header), then at two
    // points of the grid, each time restarted with the same command.
    for (wait_ms, lines) in [(15u64, 0usize), (0, 12), (0, 25)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_adv-bench"))
            .args(["run", path(&suite), "--out", path(&dir)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(wait_ms));
        while journal_lines(&journal) < lines {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before it could be killed"
            );
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the run stalls"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let recorded = journal_lines(&journal);
    assert!(
        recorded < 1 + UNITS,
        "the kill came after the last unit ({recorded} lines)"
    );
    // A kill during a write leaves a torn last line; resuming must drop it.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    file.write_all(br#"{"evaluation":0,"unit":"att"#).unwrap();
    drop(file);

    run_ok(&["run", "--resume", path(&dir)]);
    assert_eq!(journal_lines(&journal), 1 + UNITS);
    assert_eq!(report_without_times(&dir), expected);
}

/// One process per run folder, with real processes: while a run works, every resume of its
/// folder is refused with one line and changes nothing; the run still ends with every unit
/// and the uninterrupted report, and a resume after it appends nothing.
#[test]
fn concurrent_resumes_are_refused_and_lose_nothing() {
    let root = tempfile::tempdir().unwrap();
    let suite = write_suite(root.path());
    let expected = uninterrupted(root.path(), &suite);

    let dir = root.path().join("contended");
    let journal = dir.join("journal.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_adv-bench"))
        .args(["run", path(&suite), "--out", path(&dir)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // The header is written under the lock: from then on the folder is held.
    while journal_lines(&journal) < 1 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run stalls"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut refused = 0;
    while refused < 5 && child.try_wait().unwrap().is_none() {
        let output = Command::new(env!("CARGO_BIN_EXE_adv-bench"))
            .args(["run", "--resume", path(&dir)])
            .output()
            .unwrap();
        if output.status.success() {
            // Only possible once the run has ended and released the folder.
            assert!(
                child.try_wait().unwrap().is_some(),
                "a resume ran beside the run"
            );
            break;
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("another process (pid "), "{stderr}");
        refused += 1;
    }
    assert!(child.wait().unwrap().success());
    assert!(refused >= 1, "no resume was tried while the run worked");
    assert_eq!(journal_lines(&journal), 1 + UNITS);
    assert_eq!(report_without_times(&dir), expected);
    run_ok(&["run", "--resume", path(&dir)]);
    assert_eq!(
        journal_lines(&journal),
        1 + UNITS,
        "a complete run appends nothing"
    );
}

#[test]
fn shards_merge_into_the_uninterrupted_report() {
    let root = tempfile::tempdir().unwrap();
    let suite = write_suite(root.path());
    let expected = uninterrupted(root.path(), &suite);

    let dir = root.path().join("sharded");
    for shard in ["1/3", "2/3"] {
        let stdout = run_ok(&["run", path(&suite), "--out", path(&dir), "--shard", shard]);
        assert!(stdout.contains("adv-bench merge"), "{stdout}");
    }
    assert_one_line_error(&["merge", path(&dir)], "incomplete");

    run_ok(&["run", path(&suite), "--out", path(&dir), "--shard", "3/3"]);
    let lines: usize = (1..=3)
        .map(|k| journal_lines(&dir.join(format!("journal-{k}-of-3.jsonl"))) - 1)
        .sum();
    assert_eq!(lines, UNITS, "the shards split the units without overlap");
    run_ok(&["merge", path(&dir)]);
    assert_eq!(report_without_times(&dir), expected);
}

#[test]
fn resuming_with_another_suite_and_bad_suites_are_one_line_errors() {
    let root = tempfile::tempdir().unwrap();
    let suite = write_suite(root.path());
    let dir = root.path().join("run");
    let small = SUITE
        .replace("steps = 40", "steps = 2")
        .replace("limit = 96", "limit = 16");
    std::fs::write(&suite, &small).unwrap();
    run_ok(&["run", path(&suite), "--out", path(&dir)]);
    let sharded = root.path().join("sharded");
    run_ok(&[
        "run",
        path(&suite),
        "--out",
        path(&sharded),
        "--shard",
        "1/2",
    ]);
    std::fs::write(&suite, small.replace("seed = 5", "seed = 6")).unwrap();
    let cases: [(Vec<&str>, &str); 6] = [
        (
            vec!["run", path(&suite), "--out", path(&dir)],
            "another suite",
        ),
        // Another shard count (so another journal file) in the folder of another suite: the
        // trained model there must not be reused.
        (
            vec![
                "run",
                path(&suite),
                "--out",
                path(&sharded),
                "--shard",
                "1/3",
            ],
            "another suite",
        ),
        (vec!["run", "--resume", path(root.path())], "suite.json"),
        (vec!["run", "missing.toml"], "missing.toml"),
        (vec!["run", path(&suite), "--shard", "4/3"], "shard"),
        (vec!["merge", path(root.path())], "no journal"),
    ];
    for (args, needle) in cases {
        assert_one_line_error(&args, needle);
    }
}

/// The suites shipped in `suites/` that read the shared data (`with_shared_data`) or not, after
/// checking that they parse and expand; their names.
fn check_shipped_suites(with_shared_data: bool) -> Vec<String> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../suites");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let file = entry.unwrap().path();
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("${ADV_SHARED_DATA}") != with_shared_data {
            continue;
        }
        let suite = adv_bench::Suite::from_file(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!suite.evaluations().unwrap().is_empty());
        checked.push(suite.name);
    }
    checked
}

#[test]
fn shipped_suites_are_valid() {
    let checked = check_shipped_suites(false);
    assert!(checked.contains(&"quickstart".to_owned()), "{checked:?}");
}

#[test]
#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
fn shipped_suites_on_the_shared_data_are_valid() {
    let checked = check_shipped_suites(true);
    assert!(checked.len() >= 2, "{checked:?}");
}

/// Every model with weights is loaded and checked before any unit runs: a damaged file of the
/// second model stops the run before the first model's attacks, and the journal records no
/// unit.
#[test]
fn a_bad_model_file_is_reported_before_any_work() {
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good.bpk");
    run_ok(&[
        "train",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--out",
        path(&good),
    ]);
    let garbage = root.path().join("garbage.bpk");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    let suite = root.path().join("suite.toml");
    std::fs::write(
        &suite,
        format!(
            r#"
name = "two-models"

[datasets.test]
source = "digits:test"
limit = 32

[[models]]
name = "good"
data = "test"
weights = "{}"

[[models]]
name = "bad"
data = "test"
architecture = "mlp"
weights = "{}"

[[threats]]
norm = "linf"
epsilons = [0.1]

[[attacks]]
name = "pgd"
"#,
            path(&good),
            path(&garbage)
        ),
    )
    .unwrap();
    let dir = root.path().join("run");
    assert_one_line_error(&["run", path(&suite), "--out", path(&dir)], "garbage.bpk");
    assert_eq!(
        journal_lines(&dir.join("journal.jsonl")),
        1,
        "only the header"
    );
}

/// The clean pass of a model runs once per batch, whatever the number of its threat models,
/// attacks and radii: the journal holds one clean record per batch.
#[test]
fn the_clean_pass_runs_once_per_model_and_batch() {
    let root = tempfile::tempdir().unwrap();
    let suite = root.path().join("suite.toml");
    let text = SUITE
        .replace("limit = 96", "limit = 32")
        .replace("steps = 40", "steps = 2")
        .replace("epochs = 3", "epochs = 1")
        + "\n[[threats]]\nnorm = \"l2\"\nepsilons = [0.5, 1.0]\n";
    std::fs::write(&suite, text).unwrap();
    let dir = root.path().join("run");
    run_ok(&["run", path(&suite), "--out", path(&dir)]);
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let clean = journal
        .lines()
        .filter(|line| line.contains(r#""unit":"clean""#))
        .count();
    assert_eq!(clean, 2, "32 samples in batches of 16");
    let report = read_json(&dir.join("report.json"));
    let evaluations = report["evaluations"].as_array().unwrap();
    assert_eq!(evaluations.len(), 2);
    assert_eq!(
        evaluations[0]["report"]["clean_accuracy"],
        evaluations[1]["report"]["clean_accuracy"]
    );
}

/// Every value under `key` anywhere in `value`.
fn find_all<'a>(value: &'a Value, key: &str, found: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if let Some(hit) = map.get(key) {
                found.push(hit);
            }
            map.values().for_each(|v| find_all(v, key, found));
        }
        Value::Array(items) => items.iter().for_each(|v| find_all(v, key, found)),
        _ => {}
    }
}

/// A suite trains a model with a robust objective (`train = { objective = "pgd-at:eps=0.1" }`)
/// on the first `limit` samples: the report's training record names the objective with its
/// radius, the weight decay and the sample count; an
/// unknown objective or option in a suite is a one-line error.
#[test]
fn a_suite_trains_with_any_objective_and_records_it() {
    let root = tempfile::tempdir().unwrap();
    let suite = root.path().join("suite.toml");
    std::fs::write(
        &suite,
        r#"
name = "robust-training"
seed = 3

[datasets.test]
source = "digits:test"
limit = 32

[[models]]
name = "pgd-at"
data = "test"
architecture = "mlp"
train = { data = "digits:train", limit = 400, epochs = 1, objective = "pgd-at:eps=0.1,steps=2", weight_decay = 0.0005 }

[[threats]]
norm = "linf"
epsilons = [0.1]

[[attacks]]
name = "fgsm"
"#,
    )
    .unwrap();
    let dir = root.path().join("run");
    run_ok(&["run", path(&suite), "--out", path(&dir)]);
    let report = read_json(&dir.join("report.json"));
    let mut objectives = Vec::new();
    find_all(&report, "objective", &mut objectives);
    assert!(objectives.iter().any(|o| *o == "pgd-at"), "{objectives:?}");
    let mut options = Vec::new();
    find_all(&report, "objective_options", &mut options);
    let text = serde_json::to_string(&options).unwrap();
    assert!(text.contains("eps") && text.contains("0.1"), "{text}");
    let mut decays = Vec::new();
    find_all(&report, "weight_decay", &mut decays);
    assert!(
        decays
            .iter()
            .any(|d| (d.as_f64().unwrap_or(0.0) - 5e-4).abs() < 1e-9),
        "{decays:?}"
    );

    for (objective, needle) in [
        ("pgd-att", "unknown objective 'pgd-att'"),
        ("pgd-at:beta=1", "beta"),
    ] {
        let bad = root.path().join("bad.toml");
        let text = std::fs::read_to_string(&suite)
            .unwrap()
            .replace("pgd-at:eps=0.1,steps=2", objective);
        std::fs::write(&bad, text).unwrap();
        assert_one_line_error(
            &[
                "run",
                path(&bad),
                "--out",
                path(&root.path().join("bad-run")),
            ],
            needle,
        );
    }
}
