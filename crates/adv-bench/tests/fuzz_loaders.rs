//! Every loader on mutated valid files (truncations, bit flips, header words overwritten with
//! huge counts, inserted bytes): each must return a value or an error, never panic, abort or
//! allocate without bound. The allocator of this test binary holds the whole process to 3 GiB,
//! so an unbounded allocation aborts the run and fails it.
//!
//! `PROPTEST_CASES` sets the cases per loader (CI: the default below; `cargo xtask fuzz` runs
//! many more).

use std::path::{Path, PathBuf};

mod common;

use adv_core::burn::tensor::Device;
use common::npy;
use proptest::prelude::*;

/// The most memory the test process may hold at once; an allocation beyond it fails, and an
/// infallible one aborts the run.
const LIMIT: usize = 3 << 30;

#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, LIMIT);

/// One change to a file.
#[derive(Clone, Debug)]
enum Mutation {
    /// Keep this fraction of the bytes.
    Truncate(f64),
    /// Flip one bit at this fraction of the length.
    FlipBit(f64, u8),
    /// Overwrite four bytes at this fraction of the length (header words lie near the start,
    /// so positions are drawn from the first 64 bytes half of the time) with a huge count.
    Huge(f64, bool, u32),
    /// Insert bytes at this fraction of the length.
    Insert(f64, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Mutation::Truncate),
        (0.0..1.0f64, 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (
            0.0..1.0f64,
            any::<bool>(),
            prop_oneof![
                Just(u32::MAX),
                Just(0x7fff_ffff),
                Just(0x0100_0000),
                any::<u32>()
            ]
        )
            .prop_map(|(at, near_start, value)| Mutation::Huge(at, near_start, value)),
        (0.0..1.0f64, proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..4)
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len.saturating_sub(1));
        match m {
            Mutation::Truncate(f) => bytes.truncate((f * bytes.len() as f64) as usize),
            Mutation::FlipBit(f, bit) if !bytes.is_empty() => {
                let i = at(*f, bytes.len());
                bytes[i] ^= 1 << bit;
            }
            Mutation::Huge(f, near_start, value) if bytes.len() >= 4 => {
                let len = if *near_start {
                    bytes.len().min(64)
                } else {
                    bytes.len()
                };
                let i = at(*f, len - 3);
                // Both byte orders: IDX is big-endian, the rest little-endian.
                let word = if value % 2 == 0 {
                    value.to_be_bytes()
                } else {
                    value.to_le_bytes()
                };
                bytes[i..i + 4].copy_from_slice(&word);
            }
            Mutation::Insert(f, extra) => {
                let i = at(*f, bytes.len() + 1);
                bytes.splice(i..i, extra.iter().copied());
            }
            _ => {}
        }
    }
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300)
}

/// Runs `load` on `seed` mutated, written to `name` in a fresh folder, for every case.
fn fuzz(seed: Vec<u8>, name: &str, load: impl Fn(&Path) -> bool) {
    fuzz_cases(cases(), seed, name, load)
}

/// [`fuzz`] with `cases` cases.
fn fuzz_cases(cases: u32, seed: Vec<u8>, name: &str, load: impl Fn(&Path) -> bool) {
    assert!(
        load_seed(&seed, name, &load),
        "{name}: the unmutated seed must load"
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&mutations(), |mutations| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(name);
            std::fs::write(&file, apply(seed.clone(), &mutations)).unwrap();
            // Ok or Err are both fine; a panic fails the case, an abort the run.
            let _ = load(&file);
            Ok(())
        })
        .unwrap();
}

fn load_seed(seed: &[u8], name: &str, load: &impl Fn(&Path) -> bool) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, seed).unwrap();
    load(&file)
}

/// Writes `bytes` beside `file` under `name` and returns its path.
fn beside(file: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let other = file.with_file_name(name);
    std::fs::write(&other, bytes).unwrap();
    other
}

#[test]
fn npy_images_and_labels() {
    let images: Vec<u8> = (0..4 * 6 * 6)
        .flat_map(|i| (i as f32 / 144.0).to_le_bytes())
        .collect();
    let labels: Vec<u8> = [0i64, 1, 2, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let (x, y) = (npy("<f4", &[4, 6, 6], &images), npy("<i8", &[4], &labels));
    let y2 = y.clone();
    fuzz(x, "x.npy", move |file| {
        adv_core::data::load_npy(file, &beside(file, "y.npy", &y2)).is_ok()
    });
    let x = npy("<f4", &[4, 6, 6], &images);
    fuzz(y, "y.npy", move |file| {
        adv_core::data::load_npy(&beside(file, "x.npy", &x), file).is_ok()
    });
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    bytes
}

#[test]
fn idx_plain_and_gzip() {
    let images = idx(0x0803, &[3, 5, 5], &[7; 75]);
    let labels = idx(0x0801, &[3], &[0, 4, 9]);
    for gz in [false, true] {
        let pack = |b: &[u8]| if gz { gzip(b) } else { b.to_vec() };
        let (x, y) = (pack(&images), pack(&labels));
        let y2 = y.clone();
        fuzz(x.clone(), "x-images-idx3-ubyte", move |file| {
            adv_core::data::load_idx(file, &beside(file, "y-labels-idx1-ubyte", &y2)).is_ok()
        });
        fuzz(y, "y-labels-idx1-ubyte", move |file| {
            adv_core::data::load_idx(&beside(file, "x-images-idx3-ubyte", &x), file).is_ok()
        });
    }
}

#[test]
fn digits_csv() {
    let row = |label: u8| {
        let mut values: Vec<String> = (0..64).map(|i| (i % 17).to_string()).collect();
        values.push(label.to_string());
        values.join(",")
    };
    let csv = format!("{}\n{}\n{}\n", row(0), row(3), row(9)).into_bytes();
    fuzz(csv.clone(), "d.csv", |file| {
        adv_core::data::load_digits_csv(file).is_ok()
    });
    fuzz(gzip(&csv), "d.csv.gz", |file| {
        adv_core::data::load_digits_csv(file).is_ok()
    });
}

#[test]
fn cifar_binary() {
    let record = |label: u8| {
        let mut r = vec![label];
        r.extend((0..3072).map(|i| (i % 251) as u8));
        r
    };
    let bytes = [record(1), record(7)].concat();
    fuzz(bytes, "data_batch_1.bin", |file| {
        adv_core::data::load_cifar10_bin(&[file.to_path_buf()]).is_ok()
    });
}

#[test]
fn image_folders() {
    let encode = |format: image::ImageFormat, colour: bool| {
        let mut bytes = Vec::new();
        let cursor = &mut std::io::Cursor::new(&mut bytes);
        if colour {
            image::RgbImage::from_fn(6, 5, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 9]))
                .write_to(cursor, format)
                .unwrap();
        } else {
            image::GrayImage::from_fn(6, 5, |x, y| image::Luma([(x * y) as u8 * 9]))
                .write_to(cursor, format)
                .unwrap();
        }
        bytes
    };
    for (format, name) in [
        (image::ImageFormat::Png, "a_1.png"),
        (image::ImageFormat::Jpeg, "a_1.jpg"),
    ] {
        let other = encode(format, false);
        let other_name = name.replace("a_1", "b_0");
        fuzz(encode(format, true), name, move |file| {
            beside(file, &other_name, &other);
            adv_core::data::load_image_folder(file.parent().unwrap()).is_ok()
        });
    }
}

/// A small MLP's checkpoint: the architecture and its safetensors export.
fn mlp() -> (adv_models::ModelConfig, Vec<u8>) {
    let config = adv_models::ModelConfig::from_name("mlp", [1, 4, 4], 3).unwrap();
    let model = config.init(&Device::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.safetensors");
    adv_models::export_weights(&model, &config, &file).unwrap();
    (config, std::fs::read(file).unwrap())
}

#[test]
fn safetensors_weights() {
    let (config, bytes) = mlp();
    fuzz(bytes, "m.safetensors", move |file| {
        adv_models::load_weights(&config, file, &Device::default()).is_ok()
    });
}

#[test]
fn architecture_files() {
    let json = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../adv-models/architectures/cifar_cnn_a.json"
    ))
    .unwrap();
    fuzz(json, "arch.json", |file| {
        adv_models::ModelConfig::from_file(file).is_ok()
    });
}

#[test]
fn suite_files() {
    let suite = br#"name = "fuzz"
[datasets.d]
source = "digits:test"
limit = 10

[[models]]
name = "m"
data = "d"
architecture = "mlp"
train = { data = "digits:train", epochs = 1, batch_size = 64 }

[[threats]]
norm = "linf"
epsilons = [0.1, "8/255"]
goal = { kind = "targeted", targets = "random" }
curves = { initial = 0.01, max = 0.4, bisection_steps = 2 }

[[attacks]]
name = "pgd"
options = { steps = 5 }
"#
    .to_vec();
    fuzz(suite, "suite.toml", |file| {
        adv_bench::Suite::from_file(file)
            .and_then(|s| s.check())
            .is_ok()
    });
}

/// The shared data's PyTorch files (zip and legacy pickle), mutated (pickles are never
/// executed, only parsed): ignored when
/// `ADV_SHARED_DATA` is unset.
#[test]
#[cfg_attr(not(shared_data), ignore = "ADV_SHARED_DATA is not set")]
fn pytorch_weights() {
    let shared = PathBuf::from(std::env::var_os("ADV_SHARED_DATA").unwrap());
    let cnn_a = adv_models::ModelConfig::from_file(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../adv-models/architectures/cifar_cnn_a.json"
    )))
    .unwrap();
    for (name, config) in [
        // A zip-format state dict and a legacy (pre-1.6) pickle.
        ("cifar_cnn_a_adv.model", cnn_a),
        (
            "resnet20-12fca82f.th",
            adv_models::ModelConfig::from_name("resnet20", [3, 32, 32], 10).unwrap(),
        ),
    ] {
        let bytes = std::fs::read(shared.join("weights").join(name)).unwrap();
        // Fewer cases: each builds and loads a real network.
        fuzz_cases(cases() / 5, bytes, name, move |file| {
            adv_models::load_weights(&config, file, &Device::default()).is_ok()
        });
    }
}
