//! Inception-v3 gives torchvision's logits from torchvision's state dict, read from both
//! `.safetensors` and `.pth`. Ignored: it needs the reference files (about 220 MB, not committed)
//! that `tests/data/inception_v3_torchvision.py` writes with torch 2.9.0 and torchvision 0.24.0:
//!
//! ```sh
//! python crates/adv-models/tests/data/inception_v3_torchvision.py /tmp/keys.txt /tmp/inception-ref
//! ADV_INCEPTION_REFERENCE=/tmp/inception-ref \
//!     cargo test -p adv-models --test inception_v3_torchvision -- --ignored --nocapture
//! ```

use std::path::{Path, PathBuf};

use adv_core::burn::tensor::{Device, Tensor, TensorData};
use adv_core::to_floats;
use adv_models::{InceptionV3Config, ModelConfig, inception_v3, load_weights};

/// A raw little-endian `float32` file, as NumPy's `tofile` writes it.
fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
#[ignore = "needs the torchvision reference files in ADV_INCEPTION_REFERENCE (see the file's docs)"]
fn inception_v3_matches_torchvision() {
    let dir = PathBuf::from(
        std::env::var_os("ADV_INCEPTION_REFERENCE")
            .expect("set ADV_INCEPTION_REFERENCE to the folder the reference script wrote"),
    );
    let device = Device::default();
    let images = Tensor::<4>::from_data(
        TensorData::new(read_f32(&dir.join("images.f32")), [4, 3, 299, 299]),
        &device,
    );
    // torchvision got ImageNet-normalized images with `transform_input`, and the raw images
    // without; ours always gets the raw images.
    let plain = InceptionV3Config {
        transform_input: false,
        normalization: None,
        ..inception_v3()
    };
    for weights in ["inception_v3.safetensors", "inception_v3.pth"] {
        for (config, reference) in [
            (inception_v3(), "logits_transform_input.f32"),
            (plain.clone(), "logits_plain.f32"),
        ] {
            let config = ModelConfig::InceptionV3(config);
            let model = load_weights(&config, &dir.join(weights), &device)
                .unwrap_or_else(|e| panic!("{e}"));
            let ours = to_floats(model.forward(images.clone()));
            let theirs = read_f32(&dir.join(reference));
            assert_eq!(ours.len(), theirs.len());
            let scale = theirs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let max_difference = ours
                .iter()
                .zip(&theirs)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            println!(
                "{weights}, {reference}: max |logit difference| {max_difference:.3e}, \
                 max |logit| {scale:.3e}, relative {:.3e}",
                max_difference / scale
            );
            assert!(
                max_difference < 1e-3 * scale,
                "{weights}, {reference}: {max_difference} against logits up to {scale}"
            );
        }
    }
}
