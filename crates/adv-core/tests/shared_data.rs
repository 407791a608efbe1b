//! Loads the real data sets under `$ADV_SHARED_DATA` (MNIST, Fashion-MNIST, the CIFAR-10 and
//! ImageNet samples, the UCI digits) and cross-checks the formats against each other.
//!
//! Each test is ignored, with the reason, when `ADV_SHARED_DATA` is not set.

use std::path::PathBuf;

use adv_core::CoreError;
use adv_core::data::{
    Dataset, load_dataset, load_digits_csv, load_idx, load_image_folder, load_npy,
};

/// The shared data folder (`$ADV_SHARED_DATA`); the tests that call this are ignored when it
/// is unset.
fn shared() -> PathBuf {
    std::env::var_os("ADV_SHARED_DATA")
        .map(PathBuf::from)
        .expect("ADV_SHARED_DATA names the shared data folder")
}

fn cifar_npy(root: &std::path::Path) -> Dataset {
    let dir = root.join("cifar10-sample");
    load_npy(&dir.join("x200.npy"), &dir.join("y200.npy")).unwrap()
}

/// The first `count` `float32` values of a version-1 `.npy` file, read independently of the
/// loader: the header length is the little-endian `u16` at byte 8, the data follows it.
fn raw_npy_floats(path: &std::path::Path, count: usize) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let start = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    bytes[start..start + 4 * count]
        .chunks_exact(4)
        .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn mnist_test_set() {
    let root = shared();
    let dir = root.join("mnist");
    let images = dir.join("t10k-images-idx3-ubyte.gz");
    let data = load_idx(&images, &dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(
        (data.len(), data.shape(), data.num_classes()),
        (10_000, [1, 28, 28], 10)
    );
    assert_eq!(data.labels()[0], 7);
    assert_eq!(load_dataset(&images, None).unwrap(), data);
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn fashion_mnist_test_set() {
    let root = shared();
    let dir = root.join("fashion-mnist");
    let data = load_idx(
        &dir.join("t10k-images-idx3-ubyte.gz"),
        &dir.join("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    assert_eq!((data.len(), data.shape()), (10_000, [1, 28, 28]));
    assert_eq!(data.labels()[0], 9); // ankle boot
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn cifar_npy_sample() {
    let root = shared();
    let data = cifar_npy(&root);
    assert_eq!(
        (data.len(), data.shape(), data.num_classes()),
        (200, [3, 32, 32], 10)
    );
    assert_eq!(data.labels()[0], 3);
    // NHWC in the file: values 0, 1, 2 are the red, green, blue of pixel (0, 0) of image 0.
    let raw = raw_npy_floats(&root.join("cifar10-sample/x200.npy"), 3);
    let image = data.image(0);
    assert_eq!(
        [image[0], image[1024], image[2048]],
        [raw[0], raw[1], raw[2]]
    );
    let dir = root.join("cifar10-sample");
    let via_dispatch = load_dataset(&dir.join("x200.npy"), Some(&dir.join("y200.npy")));
    assert_eq!(via_dispatch.unwrap(), data);
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn cifar_png_sample() {
    let root = shared();
    let dir = root.join("cifar10-sample/png");
    let png = load_image_folder(&dir).unwrap();
    assert_eq!(
        (png.len(), png.shape(), png.num_classes()),
        (20, [3, 32, 32], 10)
    );
    assert_eq!(png.labels()[..4], [3, 8, 8, 0]);
    assert_eq!(load_dataset(&dir, None).unwrap(), png);
    // Top-left pixel of CIFAR-10 test image 0, decoded independently (Python zlib on the IDAT
    // chunk of cifar10_00_3.png: filter byte 1, then RGB 158, 112, 49).
    let image = png.image(0);
    let rgb = [image[0], image[1024], image[2048]].map(|v| (v * 255.0).round() as u8);
    assert_eq!(rgb, [158, 112, 49]);

    // x200 is another selection of CIFAR-10 test images than the PNGs (the first 20): no PNG
    // is within 0.5 (max-abs) of any x200 image, so only the first labels can be compared.
    let npy = cifar_npy(&root);
    assert_eq!(png.labels()[0], npy.labels()[0]);
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn imagenet_jpeg_sample_of_mixed_sizes_is_a_clear_error() {
    let root = shared();
    let dir = root.join("imagenet-sample/jpg");
    match load_image_folder(&dir) {
        Ok(data) => assert_eq!(data.len(), 20),
        Err(CoreError::Data { path, problem }) => {
            assert!(path.starts_with(&dir), "{}", path.display());
            assert!(problem.contains("same size"), "{problem}");
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[cfg_attr(
    not(shared_data),
    ignore = "needs the shared data: set ADV_SHARED_DATA (CI does)"
)]
#[test]
fn digits_csv() {
    let root = shared();
    let path = root.join("digits/digits.csv.gz");
    let data = load_digits_csv(&path).unwrap();
    assert_eq!(
        (data.len(), data.shape(), data.num_classes()),
        (1797, [1, 8, 8], 10)
    );
    assert_eq!(data.labels()[0], 0);
    assert!(data.images().iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(load_dataset(&path, None).unwrap(), data);
}
