//! Bad input and faults through the `adv-bench` binary: each ends in one line of error (or a
//! right result), never a panic, a silently wrong number, or an input or earlier output
//! changed. One test per defect of the reliability sweep; docs/guarantees.md maps promises to
//! these tests.

mod common;

use std::path::{Path, PathBuf};

use common::{adv_bench, assert_one_line_error, npy, read_json, run_ok};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small MLP trained on the digits for one epoch, as a Burn checkpoint and as a PyTorch safetensors file.
fn trained(dir: &Path) -> (PathBuf, PathBuf) {
    let bpk = dir.join("mlp.bpk");
    run_ok(&[
        "train",
        "--model",
        "mlp",
        "--data",
        "digits:train",
        "--epochs",
        "1",
        "--out",
        path(&bpk),
    ]);
    let (model, config) =
        adv_models::load_checkpoint(&bpk, &adv_core::burn::tensor::Device::default()).unwrap();
    let safetensors = dir.join("mlp.safetensors");
    adv_models::export_weights(&model, &config, &safetensors).unwrap();
    (bpk, safetensors)
}

/// The header and data of a safetensors file.
fn read_safetensors(file: &Path) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let bytes = std::fs::read(file).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

/// `file` rewritten with every F32 tensor through `convert` (to the dtype `dtype`).
fn rewrite_floats(file: &Path, out: &Path, dtype: &str, convert: impl Fn(f32) -> Vec<u8>) {
    let (header, data) = read_safetensors(file);
    let mut new_header = serde_json::Map::new();
    let mut new_data = Vec::new();
    for (name, entry) in header {
        if name == "__metadata__" {
            new_header.insert(name, entry);
            continue;
        }
        let offsets = entry["data_offsets"].as_array().unwrap();
        let (a, b) = (
            offsets[0].as_u64().unwrap() as usize,
            offsets[1].as_u64().unwrap() as usize,
        );
        assert_eq!(entry["dtype"], "F32");
        let start = new_data.len();
        for chunk in data[a..b].chunks_exact(4) {
            new_data.extend(convert(f32::from_le_bytes(chunk.try_into().unwrap())));
        }
        let mut entry = entry.clone();
        entry["dtype"] = dtype.into();
        entry["data_offsets"] = serde_json::json!([start, new_data.len()]);
        new_header.insert(name, entry);
    }
    let mut text = serde_json::to_vec(&new_header).unwrap();
    text.resize(text.len().div_ceil(8) * 8, b' ');
    let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
    bytes.extend(text);
    bytes.extend(new_data);
    std::fs::write(out, bytes).unwrap();
}

/// The first `labels.len()` digits as `x.npy` and `labels` as `y.npy` (int64).
fn digits_npy(dir: &Path, labels: &[i64]) -> (PathBuf, PathBuf) {
    let digits = adv_core::data::embedded_digits();
    let n = labels.len();
    let raw: Vec<u8> = digits.images()[..n * 64]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let (x, y) = (dir.join("x.npy"), dir.join("y.npy"));
    std::fs::write(&x, npy("<f4", &[n, 8, 8], &raw)).unwrap();
    let raw: Vec<u8> = labels.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&y, npy("<i8", &[n], &raw)).unwrap();
    (x, y)
}

fn clean_accuracy(args: &[&str], json: &Path) -> f64 {
    let mut all = args.to_vec();
    all.extend(["--attack", "fgsm", "--eps", "0.1", "--json", path(json)]);
    run_ok(&all);
    read_json(json)["clean_accuracy"].as_f64().unwrap()
}

/// Writes one f32 value in another float type.
type Encoder = Box<dyn Fn(f32) -> Vec<u8>>;

/// Defect 2: F16, BF16 and F64 weights load as f32 (with a note), and give the f32 result;
/// defect 3: a NaN weight is refused naming the tensor.
#[test]
fn float_types_convert_and_non_finite_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, safetensors) = trained(dir.path());
    let json = dir.path().join("r.json");
    let eval = |weights: &Path| -> Vec<String> {
        [
            "eval",
            "--model",
            "mlp",
            "--data",
            "digits:test",
            "--weights",
            path(weights),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let reference = {
        let args = eval(&safetensors);
        clean_accuracy(&args.iter().map(String::as_str).collect::<Vec<_>>(), &json)
    };
    let kinds: [(&str, Encoder, f64); 3] = [
        (
            "F64",
            Box::new(|v| f64::from(v).to_le_bytes().to_vec()),
            0.0,
        ),
        (
            "F16",
            Box::new(|v| half::f16::from_f32(v).to_le_bytes().to_vec()),
            0.02,
        ),
        (
            "BF16",
            Box::new(|v| half::bf16::from_f32(v).to_le_bytes().to_vec()),
            0.05,
        ),
    ];
    for (dtype, convert, tolerance) in kinds {
        let file = dir.path().join(format!("{dtype}.safetensors"));
        rewrite_floats(&safetensors, &file, dtype, convert);
        let args = eval(&file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = adv_bench(&[&args[..], &["--attack", "fgsm", "--json", path(&json)]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{dtype}: {stderr}");
        assert!(
            stderr.contains(&format!("{dtype} tensors converted to f32")),
            "{stderr}"
        );
        let accuracy = read_json(&json)["clean_accuracy"].as_f64().unwrap();
        assert!(
            (accuracy - reference).abs() <= tolerance,
            "{dtype}: {accuracy} vs {reference}"
        );
    }
    for bad in [f32::NAN, f32::INFINITY] {
        let file = dir.path().join("bad.safetensors");
        let (header, _) = read_safetensors(&safetensors);
        let first = header
            .keys()
            .find(|k| *k != "__metadata__")
            .unwrap()
            .clone();
        let seen = std::cell::Cell::new(false);
        rewrite_floats(&safetensors, &file, "F32", |v| {
            let v = if seen.replace(true) { v } else { bad };
            v.to_le_bytes().to_vec()
        });
        let args = eval(&file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_one_line_error(&args, &format!("tensor {first} holds a non-finite value"));
    }
}

/// Defect 3: a normalization that divides to infinity is refused, not turned into NaN logits
/// read as an accuracy.
#[test]
fn a_normalization_that_overflows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (bpk, _) = trained(dir.path());
    for normalization in ["0/1e-45", "nan/0.5", "0.5/0"] {
        assert_one_line_error(
            &[
                "eval",
                "--weights",
                path(&bpk),
                "--data",
                "digits:test",
                "--normalization",
                normalization,
            ],
            "normalization",
        );
    }
}

/// `eval` of the MLP `weights` on the `.npy` images `x` with labels `y`.
fn eval_npy<'a>(weights: &'a Path, x: &'a Path, y: &'a Path) -> Vec<&'a str> {
    vec![
        "eval",
        "--model",
        "mlp",
        "--weights",
        path(weights),
        "--data",
        path(x),
        "--labels",
        path(y),
    ]
}

/// Defect 1: labels no model can have are refused naming label and sample, in eval and train;
/// labels that stop short of the weights' classes load with the weights' class count.
#[test]
fn labels_are_checked_against_the_model_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, safetensors) = trained(dir.path());
    for huge in [1i64 << 31, 1 << 62] {
        let (x, y) = digits_npy(dir.path(), &[3, huge, 1]);
        let needle = format!("label {huge} of sample 1");
        assert_one_line_error(&eval_npy(&safetensors, &x, &y), &needle);
        assert_one_line_error(
            &[
                "train",
                "--model",
                "mlp",
                "--data",
                path(&x),
                "--labels",
                path(&y),
                "--out",
                path(&dir.path().join("t.bpk")),
            ],
            &needle,
        );
        assert!(!dir.path().join("t.bpk").exists());
    }
    // Labels up to 8 with 10-class weights: the class count comes from the weights.
    let digits = adv_core::data::embedded_digits();
    let labels: Vec<i64> = digits.labels()[..40]
        .iter()
        .map(|&l| (l as i64).min(8))
        .collect();
    let (x, y) = digits_npy(dir.path(), &labels);
    run_ok(&[&eval_npy(&safetensors, &x, &y)[..], &["--attack", "fgsm"]].concat());
    // A 9-class model against data with label 9: named, before any work.
    let few = dir.path().join("few");
    std::fs::create_dir(&few).unwrap();
    let nine: Vec<i64> = digits.labels()[..60]
        .iter()
        .map(|&l| l as i64)
        .filter(|&l| l < 9)
        .collect();
    let (x9, y9) = digits_npy(&few, &nine);
    let nine_bpk = dir.path().join("nine.bpk");
    run_ok(&[
        "train",
        "--model",
        "mlp",
        "--data",
        path(&x9),
        "--labels",
        path(&y9),
        "--epochs",
        "1",
        "--out",
        path(&nine_bpk),
    ]);
    assert_one_line_error(
        &[
            "eval",
            "--weights",
            path(&nine_bpk),
            "--data",
            "digits:test",
            "--attack",
            "fgsm",
        ],
        "the model has 9 classes",
    );
}

/// Defect 4: a radius beyond the box's diameter is capped to it with a note, and gives the
/// result at the diameter (not the clean input from an overflowed eps^2).
#[test]
fn radii_wider_than_the_box_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let (bpk, _) = trained(dir.path());
    let json = dir.path().join("r.json");
    let output = adv_bench(&[
        "eval",
        "--weights",
        path(&bpk),
        "--data",
        "digits:test",
        "--limit",
        "60",
        "--norm",
        "l2",
        "--attack",
        "pgd",
        "--eps",
        "1e20",
        "--eps",
        "8",
        "--json",
        path(&json),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("wider than the l2 diameter of the input box (8)"),
        "{stderr}"
    );
    let report = read_json(&json);
    let results = report["results"].as_array().unwrap();
    let (huge, diameter) = (&results[0], &results[1]);
    assert_eq!(
        (huge["epsilon"].as_f64(), diameter["epsilon"].as_f64()),
        (Some(1e20), Some(8.0))
    );
    assert_eq!(
        huge["robust_accuracy"], diameter["robust_accuracy"],
        "{report}"
    );
    assert!(
        huge["robust_accuracy"].as_f64().unwrap() < 0.1,
        "the whole box is reachable: {report}"
    );
}

/// Defect 13: equal radii are refused; defect 6: outputs never overwrite inputs or each other.
#[test]
fn outputs_never_overwrite_inputs_and_radii_are_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let (bpk, _) = trained(dir.path());
    let before = std::fs::read(&bpk).unwrap();
    let sidecar = dir.path().join("mlp.json");
    let sidecar_before = std::fs::read(&sidecar).unwrap();
    let eval = [
        "eval",
        "--weights",
        path(&bpk),
        "--data",
        "digits:test",
        "--attack",
        "fgsm",
    ];
    assert_one_line_error(
        &[&eval[..], &["--eps", "0.1", "--eps", "1/10"]].concat(),
        "listed twice",
    );
    assert_one_line_error(&[&eval[..], &["--json", path(&bpk)]].concat(), "--weights");
    assert_one_line_error(
        &[&eval[..], &["--markdown", path(&sidecar)]].concat(),
        "sidecar",
    );
    let report = dir.path().join("r.json");
    assert_one_line_error(
        &[
            &eval[..],
            &["--json", path(&report), "--markdown", path(&report)],
        ]
        .concat(),
        "--json",
    );
    assert_one_line_error(
        &[&eval[..], &["--json", path(dir.path())]].concat(),
        "is a folder",
    );
    assert_eq!(std::fs::read(&bpk).unwrap(), before);
    assert_eq!(std::fs::read(&sidecar).unwrap(), sidecar_before);
    let json_out = dir.path().join("model.json");
    for out in [&json_out, dir.path()] {
        assert_one_line_error(
            &[
                "train",
                "--data",
                "digits:train",
                "--epochs",
                "1",
                "--out",
                path(out),
            ],
            "NAME.bpk",
        );
    }
    assert!(!json_out.exists());
    assert_eq!(std::fs::read(&bpk).unwrap(), before);
}

/// Defect 11: messages that say what is wrong.
#[test]
fn weights_paths_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let readme = dir.path().join("README.md");
    std::fs::write(&readme, "# not weights").unwrap();
    let eval = |w: &Path| {
        vec![
            "eval".to_owned(),
            "--model".into(),
            "mlp".into(),
            "--data".into(),
            "digits:test".into(),
            "--weights".into(),
            path(w).to_owned(),
        ]
    };
    let strs = |v: &[String]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let run = |w: &Path, needle: &str| {
        let args = strs(&eval(w));
        assert_one_line_error(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle);
    };
    run(&readme, "unknown weights format");
    #[cfg(unix)]
    {
        let (a, b) = (dir.path().join("a.bpk"), dir.path().join("b.bpk"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        run(&a, "symbolic links");
    }
    run(&dir.path().join("missing.safetensors"), "no such file");
    let output = adv_bench(&[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("Usage"));
}

fn suite_with(dir: &Path, train_extra: &str, threat_extra: &str, model_extra: &str) -> PathBuf {
    suite_with_radii(dir, train_extra, threat_extra, model_extra, "[0.1]")
}

fn suite_with_radii(
    dir: &Path,
    train_extra: &str,
    threat_extra: &str,
    model_extra: &str,
    radii: &str,
) -> PathBuf {
    let text = format!(
        "name = \"t\"\n[datasets.d]\nsource = \"digits:test\"\nlimit = 20\n\n[[models]]\nname = \"m\"\n\
         data = \"d\"\narchitecture = \"mlp\"\ntrain = {{ data = \"digits:train\", epochs = 1{train_extra} }}\n\
         {model_extra}\n[[threats]]\nnorm = \"linf\"\nepsilons = {radii}\n{threat_extra}\n[[attacks]]\nname = \"fgsm\"\n"
    );
    let file = dir.join("suite.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// Defects 9, 10 and 11 in suites: unknown keys named, nan named, one goal spelling, late
/// checks made before training.
#[test]
fn suite_settings_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cases = [
        (
            "",
            "goal = { kind = \"untargeted\", bogus = 1 }",
            "",
            "bogus",
        ),
        (
            "",
            "curves = { initial = 0.01, max = 0.4, bisection_steps = 2, skip = [\"fgsm\"] }",
            "",
            "skip",
        ),
        (
            "",
            "",
            "normalization = { mean = [0.5], std = [0.5], bogus = 1 }",
            "bogus",
        ),
        (
            "",
            "",
            "normalization = { mean = [nan], std = [0.5] }",
            "mean",
        ),
        (", learning_rate = nan", "", "", "learning_rate"),
        (
            "",
            "goal = { kind = \"targeted\", targets = { fixed = 99 } }",
            "",
            "nothing was trained",
        ),
    ];
    for (train, threat, model, needle) in cases {
        let file = suite_with(dir.path(), train, threat, model);
        assert_one_line_error(&["run", path(&file), "--out", path(&out)], needle);
        assert!(!out.join("models").exists(), "{needle}: nothing is trained");
        let _ = std::fs::remove_dir_all(&out);
    }
    let file = suite_with_radii(dir.path(), "", "", "", "[0.1, \"1/10\"]");
    assert_one_line_error(&["run", path(&file), "--out", path(&out)], "twice");
    // The goal spelled as on the command line.
    let file = suite_with(
        dir.path(),
        "",
        "goal = { kind = \"targeted-or-misclassified\", targets = \"least-likely\" }",
        "",
    );
    run_ok(&["run", path(&file), "--out", path(&out)]);
    // A run folder that is a file.
    let file_out = dir.path().join("a-file");
    std::fs::write(&file_out, "x").unwrap();
    assert_one_line_error(&["run", path(&file), "--out", path(&file_out)], "is a file");
}

/// Defect 5: one process per run folder. While another process holds the folder's lock, a
/// resume is refused naming its pid and changes nothing; once it is released, the resume runs.
#[test]
fn a_second_process_on_a_run_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = suite_with(dir.path(), "", "", "");
    let out = dir.path().join("run");
    run_ok(&["run", path(&file), "--out", path(&out)]);
    let journal = out.join("journal.jsonl");
    let before = std::fs::read(&journal).unwrap();
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(out.join("journal.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    std::fs::write(out.join("journal.lock"), "4242").unwrap();
    assert_one_line_error(
        &["run", "--resume", path(&out)],
        "another process (pid 4242)",
    );
    assert_eq!(std::fs::read(&journal).unwrap(), before);
    drop(lock);
    run_ok(&["run", "--resume", path(&out)]);
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        before,
        "a complete run appends nothing"
    );
}

/// Defect 7: reports are written whole or not at all; no temporary file is left behind.
#[test]
fn reports_are_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let (bpk, _) = trained(dir.path());
    let json = dir.path().join("r.json");
    std::fs::write(&json, "the earlier report").unwrap();
    run_ok(&[
        "eval",
        "--weights",
        path(&bpk),
        "--data",
        "digits:test",
        "--attack",
        "fgsm",
        "--json",
        path(&json),
    ]);
    read_json(&json);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Defect 12: `adv-bench train` and a suite's `train` table have one set of defaults.
#[test]
fn cli_and_suite_training_share_their_defaults() {
    let dir = tempfile::tempdir().unwrap();
    // `trained` runs `adv-bench train --model mlp --data digits:train --epochs 1`.
    trained(dir.path());
    let file = suite_with(dir.path(), "", "", "");
    let out = dir.path().join("run");
    run_ok(&["run", path(&file), "--out", path(&out)]);
    let settings = |sidecar: &Path| read_json(sidecar)["training"]["settings"].clone();
    let (from_cli, from_suite) = (
        settings(&dir.path().join("mlp.json")),
        settings(&out.join("models/m.json")),
    );
    assert!(from_cli.is_object(), "{from_cli}");
    assert_eq!(from_cli, from_suite);
}

/// A real 1x1 PNG whose header claims `side`x`side` (CRC fixed): a decompression bomb's header.
fn png_claiming(side: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::GrayImage::from_pixel(1, 1, image::Luma([7]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes[16..20].copy_from_slice(&side.to_be_bytes());
    bytes[20..24].copy_from_slice(&side.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    bytes
}

/// Defect 8: decompression bombs are refused from their headers, before any decoding: a PNG
/// folder too large to hold, a PNG too large a side, a gzip IDX whose header promises too much.
#[test]
fn decompression_bombs_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let (bpk, _) = trained(dir.path());
    let eval = |data: &Path, needle: &str| {
        assert_one_line_error(
            &[
                "eval",
                "--weights",
                path(&bpk),
                "--data",
                path(data),
                "--attack",
                "fgsm",
            ],
            needle,
        );
    };
    let folder = dir.path().join("bombs");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..8 {
        std::fs::write(
            folder.join(format!("bomb_{i}_{}.png", i % 2)),
            png_claiming(14_000),
        )
        .unwrap();
    }
    eval(&folder, "too large to hold in memory");
    let one = dir.path().join("one");
    std::fs::create_dir(&one).unwrap();
    std::fs::write(one.join("big_0.png"), png_claiming(40_000)).unwrap();
    eval(&one, "40000x40000");
    // IDX images claiming 60,000 images of 2,000 x 2,000 (gzip), and a real labels file.
    let mut header = 0x0803u32.to_be_bytes().to_vec();
    for d in [60_000u32, 2_000, 2_000] {
        header.extend(d.to_be_bytes());
    }
    header.extend([0u8; 100]);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &header).unwrap();
    let images = dir.path().join("x-images-idx3-ubyte.gz");
    std::fs::write(&images, encoder.finish().unwrap()).unwrap();
    let mut labels = 0x0801u32.to_be_bytes().to_vec();
    labels.extend(1u32.to_be_bytes());
    labels.push(0);
    std::fs::write(dir.path().join("x-labels-idx1-ubyte.gz"), &labels).unwrap();
    eval(&images, "more than");
}
