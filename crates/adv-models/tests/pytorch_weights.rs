//! Third-party PyTorch weights load exactly: the accuracies are those an independent NumPy
//! forward pass gets (see `$ADV_SHARED_DATA/README.md`). Ignored, with the reason, when `ADV_SHARED_DATA` is unset.

use std::path::{Path, PathBuf};

use adv_core::burn::tensor::Device;
use adv_core::data::{load_idx, load_npy};
use adv_core::{Classifier, Dataset, to_floats, to_ints};
use adv_models::{Model, ModelConfig, export_weights, load_weights};

/// The shared data folder (`$ADV_SHARED_DATA`); the tests that call this are ignored when it
/// is unset.
fn shared_data() -> PathBuf {
    std::env::var_os("ADV_SHARED_DATA")
        .map(PathBuf::from)
        .expect("ADV_SHARED_DATA names the shared data folder")
}

fn cifar_sample(data: &Path) -> Dataset {
    let dir = data.join("cifar10-sample");
    load_npy(&dir.join("x200.npy"), &dir.join("y200.npy")).unwrap()
}

/// Correctly classified samples.
fn correct(model: &Model, data: &Dataset, batch_size: usize, device: &Device) -> usize {
    data.batches(batch_size, device)
        .map(|batch| {
            let predicted = to_ints(model.forward(batch.images).argmax(1).flatten::<1>(0, 1));
            let labels = to_ints(batch.labels);
            predicted
                .iter()
                .zip(&labels)
                .filter(|(p, l)| p == l)
                .count()
        })
        .sum()
}

fn load(arch: &str, input: [usize; 3], path: &Path, device: &Device) -> Model {
    let config = ModelConfig::from_name(arch, input, 10).unwrap();
    load_weights(&config, path, device).unwrap_or_else(|e| panic!("{e}"))
}

fn check_resnet(arch: &str, file: &str, expected_correct: usize) {
    let data = shared_data();
    let device = Device::default();
    let sample = cifar_sample(&data);
    let weights = data.join("weights");
    let from_th = load(
        arch,
        [3, 32, 32],
        &weights.join(format!("{file}.th")),
        &device,
    );
    let from_safetensors = load(
        arch,
        [3, 32, 32],
        &weights.join(format!("{file}.safetensors")),
        &device,
    );
    assert_eq!(
        correct(&from_th, &sample, 200, &device),
        expected_correct,
        "{file}.th"
    );
    assert_eq!(
        correct(&from_safetensors, &sample, 200, &device),
        expected_correct,
        "{file}.safetensors"
    );
    let probe = sample.batch(0, 4, &device).images;
    assert_eq!(
        to_floats(from_th.forward(probe.clone())),
        to_floats(from_safetensors.forward(probe))
    );
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn akamaster_resnet20_reaches_92_5_percent_from_th_and_safetensors() {
    check_resnet("resnet20", "resnet20-12fca82f", 185);
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn akamaster_resnet56_reaches_94_5_percent_from_th_and_safetensors() {
    check_resnet("resnet56", "resnet56-4bfd9763", 189);
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn burn_example_mnist_cnn_reaches_98_5_percent_on_the_mnist_test_set() {
    let data = shared_data();
    let device = Device::default();
    let mnist = data.join("mnist");
    let test = load_idx(
        &mnist.join("t10k-images-idx3-ubyte.gz"),
        &mnist.join("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let model = load(
        "mnist-cnn",
        [1, 28, 28],
        &data.join("weights/mnist.safetensors"),
        &device,
    );
    let correct = correct(&model, &test, 1000, &device);
    assert!(correct >= 9850, "{correct} of 10000");
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn adversarially_trained_cnn_a_loads_from_its_architecture_file() {
    let data = shared_data();
    let device = Device::default();
    let arch = Path::new(env!("CARGO_MANIFEST_DIR")).join("architectures/cifar_cnn_a.json");
    let config = ModelConfig::from_file(&arch).unwrap();
    let model = load_weights(
        &config,
        &data.join("weights/cifar_cnn_a_adv.model"),
        &device,
    )
    .unwrap();
    assert_eq!(
        correct(&model, &cifar_sample(&data), 200, &device),
        CNN_A_CORRECT
    );
}

/// 70.0%, measured with this loader: far from chance (20 of 200) and below the clean ResNets, as
/// expected of a small adversarially trained CNN; a wrong flatten order or layout gives chance.
const CNN_A_CORRECT: usize = 140;

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn wrong_architectures_and_damaged_files_are_errors_naming_the_problem() {
    let data = shared_data();
    let device = Device::default();
    let th = data.join("weights/resnet20-12fca82f.th");
    let resnet56 = ModelConfig::from_name("resnet56", [3, 32, 32], 10).unwrap();
    let error = load_weights(&resnet56, &th, &device)
        .unwrap_err()
        .to_string();
    // 3 stages of 6 extra blocks, each with 2 convolutions and 2 batch norms of 4 tensors.
    let needle =
        "180 missing from the file: layer1.3.bn1.bias [16], layer1.3.bn1.running_mean [16]";
    assert!(error.contains(needle), "{error}");
    let hundred = ModelConfig::from_name("resnet20", [3, 32, 32], 100).unwrap();
    let error = load_weights(&hundred, &th, &device)
        .unwrap_err()
        .to_string();
    let needle = "2 with a different shape: linear.bias (model [100], file [10]), linear.weight (model [100, 64], file [10, 64])";
    assert!(error.contains(needle), "{error}");
    let mnist = ModelConfig::from_name("mnist-cnn", [1, 28, 28], 10).unwrap();
    let error = load_weights(&mnist, &th, &device).unwrap_err().to_string();
    assert!(
        error.contains("unexpected in the file: ") && error.contains(" and "),
        "{error}"
    );
    assert!(
        error.contains("conv1.weight (model [8, 1, 3, 3], file [16, 3, 3, 3])"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    for name in [
        "resnet20-12fca82f.th",
        "resnet20-12fca82f.safetensors",
        "cifar_cnn_a_adv.model",
    ] {
        let bytes = std::fs::read(data.join("weights").join(name)).unwrap();
        let cut = dir.path().join(name);
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let config = ModelConfig::from_name("resnet20", [3, 32, 32], 10).unwrap();
        assert!(
            load_weights(&config, &cut, &device).is_err(),
            "truncated {name} loaded"
        );
    }
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn exported_safetensors_have_the_pytorch_names_shapes_and_values() {
    let data = shared_data();
    let device = Device::default();
    let config = ModelConfig::from_name("resnet20", [3, 32, 32], 10).unwrap();
    let model = load_weights(&config, &data.join("weights/resnet20-12fca82f.th"), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("resnet20.safetensors");
    export_weights(&model, &config, &exported).unwrap();
    // Every tensor of the original file but the batch-norm counters, same names and shapes.
    let header = |path: &Path| -> Vec<(String, serde_json::Value)> {
        let bytes = std::fs::read(path).unwrap();
        let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..8 + length]).unwrap();
        let mut tensors: Vec<(String, serde_json::Value)> = header
            .into_iter()
            .filter(|(name, _)| name != "__metadata__" && !name.ends_with("num_batches_tracked"))
            .map(|(name, info)| (name, info["shape"].clone()))
            .collect();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        tensors
    };
    assert_eq!(
        header(&exported),
        header(&data.join("weights/resnet20-12fca82f.safetensors"))
    );
    let reloaded = load_weights(&config, &exported, &device).unwrap();
    let probe = cifar_sample(&data).batch(0, 4, &device).images;
    assert_eq!(
        to_floats(reloaded.forward(probe.clone())),
        to_floats(model.forward(probe))
    );
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn batch_norms_keep_running_statistics_while_attacks_take_gradients() {
    let data = shared_data();
    let device = Device::default();
    let model = load(
        "resnet20",
        [3, 32, 32],
        &data.join("weights/resnet20-12fca82f.safetensors"),
        &device,
    );
    let images = cifar_sample(&data).batch(0, 8, &device).images;
    let plain = to_floats(model.forward(images.clone()));
    let keys = adv_core::draw_keys(&(0..8).collect::<Vec<u64>>(), 0);
    let result = model.value_and_grad(images, &keys, &|logits: adv_core::burn::tensor::Tensor<
        2,
    >| { logits.sum_dim(1).squeeze_dim(1) });
    // Batch statistics of 8 images would give other logits than the running statistics.
    for (a, b) in to_floats(result.logits).iter().zip(&plain) {
        assert!(
            (a - b).abs() < 1e-4,
            "{a} vs {b}: the gradient pass used batch statistics"
        );
    }
    assert!(to_floats(result.grad).iter().any(|g| *g != 0.0));
}
