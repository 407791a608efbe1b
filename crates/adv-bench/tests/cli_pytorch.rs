//! `adv-bench eval` on third-party PyTorch weights: built-in architecture names, architecture
//! files, normalization. Ignored, with the reason, when `ADV_SHARED_DATA` is unset.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_one_line_error, read_json, run_ok};

/// The shared data folder (`$ADV_SHARED_DATA`); the tests that call this are ignored when it
/// is unset.
fn shared_data() -> PathBuf {
    std::env::var_os("ADV_SHARED_DATA")
        .map(PathBuf::from)
        .expect("ADV_SHARED_DATA names the shared data folder")
}

fn path(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// Runs `eval` with FGSM and returns the clean accuracy of its JSON report.
fn clean_accuracy(data: &Path, extra: &[&str]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let json = path(&dir.path().join("report.json"));
    let sample = data.join("cifar10-sample");
    let mut args = vec![
        "eval".to_owned(),
        "--data".into(),
        path(&sample.join("x200.npy")),
        "--labels".into(),
        path(&sample.join("y200.npy")),
        "--attack".into(),
        "fgsm".into(),
        "--batch-size".into(),
        "200".into(),
        "--json".into(),
        json.clone(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&args);
    read_json(json.as_ref())["clean_accuracy"].as_f64().unwrap()
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn eval_takes_a_builtin_resnet_with_pytorch_weights() {
    let data = shared_data();
    let th = path(&data.join("weights/resnet20-12fca82f.th"));
    assert_eq!(
        clean_accuracy(&data, &["--model", "resnet20", "--weights", &th]),
        0.925
    );
    // The same normalization spelled out changes nothing; removing it costs accuracy.
    let spelled = [
        "--model",
        "resnet20",
        "--weights",
        &th,
        "--normalization",
        "0.485,0.456,0.406/0.229,0.224,0.225",
    ];
    assert_eq!(clean_accuracy(&data, &spelled), 0.925);
    assert!(
        clean_accuracy(
            &data,
            &[
                "--model",
                "resnet20",
                "--weights",
                &th,
                "--normalization",
                "none"
            ]
        ) < 0.9
    );
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn eval_takes_an_architecture_file() {
    let data = shared_data();
    let arch =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../adv-models/architectures/cifar_cnn_a.json");
    let weights = path(&data.join("weights/cifar_cnn_a_adv.model"));
    let accuracy = clean_accuracy(&data, &["--arch", &path(&arch), "--weights", &weights]);
    assert!(accuracy > 0.4, "{accuracy}");
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn mismatched_models_and_normalizations_are_one_line_errors() {
    let data = shared_data();
    let sample = data.join("cifar10-sample");
    let th = path(&data.join("weights/resnet20-12fca82f.th"));
    let base = [
        "eval",
        "--data",
        &path(&sample.join("x200.npy")),
        "--labels",
        &path(&sample.join("y200.npy")),
        "--weights",
        &th,
    ];
    for (extra, needle) in [
        (&["--model", "resnet56"][..], "missing from the file"),
        (&["--model", "resnet21"][..], "6n + 2"),
        (
            &["--model", "resnet20", "--normalization", "0.5/0.5"][..],
            "channels",
        ),
        (
            &["--model", "resnet20", "--normalization", "0.5,0.5,0.5"][..],
            "cannot read normalization",
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        assert_one_line_error(&args, needle);
    }
}
