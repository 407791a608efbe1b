//! CIFAR-10 binary batches (Krizhevsky 2009, <https://www.cs.toronto.edu/~kriz/cifar.html>).
//!
//! A batch is a sequence of 3073-byte records: one label byte (0..=9), then a 32x32 colour image
//! as 1024 red, 1024 green and 1024 blue bytes (CHW order, rows top to bottom).

use std::path::{Path, PathBuf};

use super::Dataset;
use super::load::{dataset, read_file};
use crate::{CoreError, Result};

/// Shape of a CIFAR-10 image.
const SHAPE: [usize; 3] = [3, 32, 32];
/// Bytes of one image.
const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: the label, then the image.
const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// CIFAR-10 has ten classes.
const NUM_CLASSES: usize = 10;

/// Loads CIFAR-10 binary batches, concatenated in the order given.
///
/// Images get shape `[3, 32, 32]` and values `byte / 255`. A file whose size is not a positive
/// multiple of 3073 bytes, or holding a label above 9, is a [`CoreError::Data`] naming it.
pub fn load_cifar10_bin(paths: &[PathBuf]) -> Result<Dataset> {
    let Some(first) = paths.first() else {
        return Err(CoreError::InvalidArgument(
            "no CIFAR-10 batch files given".into(),
        ));
    };
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        read_batch(path, &mut images, &mut labels)?;
    }
    dataset(first, images, labels, SHAPE, NUM_CLASSES)
}

/// The CIFAR-10 batches in `dir` (`data_batch_*.bin` and `test_batch.bin`), sorted by name;
/// empty if there are none.
pub(super) fn batch_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| CoreError::io(dir, e))?;
    let mut batches = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| CoreError::io(dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let is_batch = name.is_some_and(|n| {
            n == "test_batch.bin" || (n.starts_with("data_batch_") && n.ends_with(".bin"))
        });
        if is_batch && path.is_file() {
            batches.push(path);
        }
    }
    batches.sort();
    Ok(batches)
}

/// Appends the records of the batch at `path` to `images` and `labels`.
fn read_batch(path: &Path, images: &mut Vec<f32>, labels: &mut Vec<usize>) -> Result<()> {
    let bytes = read_file(path)?;
    if bytes.is_empty() || bytes.len() % RECORD_BYTES != 0 {
        return Err(CoreError::data(
            path,
            format!(
                "{} bytes is not a whole, non-zero number of {RECORD_BYTES}-byte CIFAR-10 records",
                bytes.len()
            ),
        ));
    }
    for (i, record) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = usize::from(record[0]);
        if label >= NUM_CLASSES {
            return Err(CoreError::data(
                path,
                format!("label {label} of record {i} is not below {NUM_CLASSES}"),
            ));
        }
        labels.push(label);
        images.extend(record[1..].iter().map(|&p| f32::from(p) / 255.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::load::testing::{assert_data_error, write};
    use super::*;

    fn record(label: u8, fill: u8) -> Vec<u8> {
        let mut bytes = vec![label];
        bytes.extend(std::iter::repeat_n(fill, IMAGE_BYTES));
        bytes
    }

    #[test]
    fn loads_batches_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            dir.path().join("data_batch_1.bin"),
            dir.path().join("test_batch.bin"),
        );
        write(&a, &[record(3, 255), record(9, 0)].concat());
        let mut second = record(0, 0);
        second[1 + 1024] = 51; // first green pixel
        write(&b, &second);
        let data = load_cifar10_bin(&[a, b]).unwrap();
        assert_eq!(
            (data.len(), data.shape(), data.num_classes()),
            (3, SHAPE, 10)
        );
        assert_eq!(data.labels(), &[3, 9, 0]);
        assert_eq!(data.image(0)[0], 1.0);
        assert_eq!(data.image(2)[1024], 0.2);
        assert_eq!(data.image(2)[1023], 0.0);
    }

    #[test]
    fn finds_batches_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(batch_files(dir.path()).unwrap().is_empty());
        for name in [
            "test_batch.bin",
            "data_batch_2.bin",
            "data_batch_1.bin",
            "meta.txt",
        ] {
            write(&dir.path().join(name), &record(1, 1));
        }
        let names: Vec<_> = batch_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["data_batch_1.bin", "data_batch_2.bin", "test_batch.bin"]
        );
    }

    #[test]
    fn size_not_a_multiple_of_a_record_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test_batch.bin");
        let mut bytes = record(1, 1);
        bytes.pop();
        write(&path, &bytes);
        assert_data_error(
            load_cifar10_bin(std::slice::from_ref(&path)),
            &path,
            "3072 bytes",
        );
        write(&path, &[]);
        assert_data_error(
            load_cifar10_bin(std::slice::from_ref(&path)),
            &path,
            "0 bytes",
        );
    }

    #[test]
    fn label_out_of_range_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data_batch_1.bin");
        write(&path, &[record(1, 1), record(10, 1)].concat());
        assert_data_error(
            load_cifar10_bin(std::slice::from_ref(&path)),
            &path,
            "label 10 of record 1",
        );
        assert!(matches!(
            load_cifar10_bin(&[]),
            Err(CoreError::InvalidArgument(_))
        ));
    }
}
