//! MNIST and Fashion-MNIST IDX files (LeCun et al., <http://yann.lecun.com/exdb/mnist/>).
//!
//! An IDX file is a big-endian magic number `0x0000TTRR` (type `TT`, rank `RR`), `RR` big-endian
//! `u32` dimensions, then the values. Images are unsigned bytes of rank 3 (`N, H, W`), labels
//! unsigned bytes of rank 1 (`N`).

use std::path::Path;

use super::Dataset;
use super::load::{dataset, read_bounded, read_head};
use crate::{CoreError, Result};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub(super) const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub(super) const LABELS_MAGIC: u32 = 0x0000_0801;
/// MNIST and Fashion-MNIST both have ten classes.
const NUM_CLASSES: usize = 10;

/// Loads IDX images (`N, H, W` bytes) and labels (`N` bytes, each below 10), either raw or
/// gzip-compressed (recognized by content, not by name).
///
/// Images get shape `[1, H, W]` and values `pixel / 255`; the data set has 10 classes.
pub fn load_idx(images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    let image_bytes = read_idx(images_path, IMAGES_MAGIC)?;
    let (dims, pixels) = parse(&image_bytes, images_path, IMAGES_MAGIC)?;
    let label_bytes = read_idx(labels_path, LABELS_MAGIC)?;
    let (label_dims, raw_labels) = parse(&label_bytes, labels_path, LABELS_MAGIC)?;
    let (count, height, width) = (dims[0], dims[1], dims[2]);
    if label_dims[0] != count {
        return Err(CoreError::data(
            labels_path,
            format!(
                "{} labels for the {count} images of {}",
                label_dims[0],
                images_path.display()
            ),
        ));
    }
    if let Some(i) = raw_labels
        .iter()
        .position(|&l| usize::from(l) >= NUM_CLASSES)
    {
        return Err(CoreError::data(
            labels_path,
            format!(
                "label {} of sample {i} is not below {NUM_CLASSES}",
                raw_labels[i]
            ),
        ));
    }
    let images = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let labels = raw_labels.iter().map(|&l| usize::from(l)).collect();
    dataset(images_path, images, labels, [1, height, width], NUM_CLASSES)
}

/// The most data bytes an IDX file may declare: 2^31 (8 GiB once converted to floats).
const MAX_DATA_BYTES: u64 = 1 << 31;

/// The bytes of the IDX file at `path`, read only as far as its header declares (plus one byte,
/// so [`parse`] sees trailing data): a header promising more than [`MAX_DATA_BYTES`], or a gzip
/// stream that inflates beyond its header, is refused before it is decompressed.
fn read_idx(path: &Path, magic: u32) -> Result<Vec<u8>> {
    let header_len = 4 * (1 + u64::from(magic & 0xff));
    let head = read_head(path, header_len)?;
    if head.len() as u64 == header_len && head[..4] == magic.to_be_bytes() {
        let data: u64 = head[4..]
            .as_chunks::<4>()
            .0
            .iter()
            .map(|&w| u64::from(u32::from_be_bytes(w)))
            .try_fold(1u64, u64::checked_mul)
            .unwrap_or(u64::MAX);
        if data > MAX_DATA_BYTES {
            return Err(CoreError::data(
                path,
                format!(
                    "its header declares {data} bytes of data, more than the {MAX_DATA_BYTES} read"
                ),
            ));
        }
        let (bytes, _) = read_bounded(path, header_len + data + 1)?;
        return Ok(bytes);
    }
    // A wrong magic number or a short file: `parse` names the problem.
    Ok(head)
}

/// Checks that `bytes` is an IDX file with magic number `magic` holding exactly the data its
/// header promises; returns the dimensions and the data.
fn parse<'a>(bytes: &'a [u8], path: &Path, magic: u32) -> Result<(Vec<usize>, &'a [u8])> {
    let header_words = 1 + (magic & 0xff) as usize;
    let words: Vec<u32> = bytes
        .as_chunks::<4>()
        .0
        .iter()
        .take(header_words)
        .map(|&w| u32::from_be_bytes(w))
        .collect();
    if let Some(&found) = words.first()
        && found != magic
    {
        let kind = if magic == IMAGES_MAGIC {
            "images"
        } else {
            "labels"
        };
        return Err(CoreError::data(
            path,
            format!("wrong magic number {found:#010x}: expected {magic:#010x} (IDX {kind})"),
        ));
    }
    if words.len() < header_words {
        return Err(CoreError::data(
            path,
            format!("truncated: {} bytes, less than an IDX header", bytes.len()),
        ));
    }
    let dims: Vec<usize> = words[1..].iter().map(|&d| d as usize).collect();
    let data = &bytes[4 * words.len()..];
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| CoreError::data(path, format!("dimensions {dims:?} overflow")))?;
    if data.len() < expected {
        return Err(CoreError::data(
            path,
            format!(
                "truncated: the header {dims:?} promises {expected} bytes of data, the file has {}",
                data.len()
            ),
        ));
    }
    if data.len() > expected {
        return Err(CoreError::data(
            path,
            format!("more data after the {expected} bytes the header {dims:?} promises"),
        ));
    }
    Ok((dims, data))
}

#[cfg(test)]
mod tests {
    use super::super::load::testing::{assert_data_error, gzip, write};
    use super::*;

    fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for dim in dims {
            bytes.extend(dim.to_be_bytes());
        }
        bytes
    }

    fn images(n: u32, h: u32, w: u32) -> Vec<u8> {
        let mut bytes = header(IMAGES_MAGIC, &[n, h, w]);
        bytes.extend((0..n * h * w).map(|i| (i * 51 % 256) as u8));
        bytes
    }

    fn labels(values: &[u8]) -> Vec<u8> {
        let mut bytes = header(LABELS_MAGIC, &[values.len() as u32]);
        bytes.extend(values);
        bytes
    }

    /// Writes images and labels into a fresh directory and loads them.
    fn load(image_bytes: &[u8], label_bytes: &[u8]) -> (tempfile::TempDir, Result<Dataset>) {
        let dir = tempfile::tempdir().unwrap();
        let (x, y) = (dir.path().join("x.idx"), dir.path().join("y.idx"));
        write(&x, image_bytes);
        write(&y, label_bytes);
        let result = load_idx(&x, &y);
        (dir, result)
    }

    #[test]
    fn loads_raw_and_gzip_files() {
        let (_dir, raw) = load(&images(2, 3, 2), &labels(&[7, 0]));
        let raw = raw.unwrap();
        assert_eq!(
            (raw.len(), raw.shape(), raw.num_classes()),
            (2, [1, 3, 2], 10)
        );
        assert_eq!(raw.labels(), &[7, 0]);
        assert_eq!(raw.image(0)[..2], [0.0, 51.0 / 255.0]);
        assert_eq!(raw.image(1)[0], 306.0 % 256.0 / 255.0);
        let (_dir, packed) = load(&gzip(&images(2, 3, 2)), &gzip(&labels(&[7, 0])));
        assert_eq!(packed.unwrap(), raw);
    }

    #[test]
    fn wrong_magic_names_the_file() {
        let (dir, result) = load(&labels(&[1]), &labels(&[1]));
        assert_data_error(
            result,
            &dir.path().join("x.idx"),
            "wrong magic number 0x00000801",
        );
        let (dir, result) = load(&images(1, 2, 2), &images(1, 2, 2));
        assert_data_error(result, &dir.path().join("y.idx"), "expected 0x00000801");
    }

    #[test]
    fn truncated_files_are_errors() {
        let mut short = images(3, 4, 4);
        short.pop();
        let (dir, result) = load(&short, &labels(&[1, 2, 3]));
        assert_data_error(result, &dir.path().join("x.idx"), "truncated");
        let (dir, result) = load(&images(1, 2, 2), &labels(&[1])[..6]);
        assert_data_error(result, &dir.path().join("y.idx"), "truncated");
        let mut long = labels(&[1]);
        long.push(0);
        let (dir, result) = load(&images(1, 2, 2), &long);
        assert_data_error(result, &dir.path().join("y.idx"), "more data after");
    }

    #[test]
    fn count_mismatch_is_an_error() {
        let (dir, result) = load(&images(3, 2, 2), &labels(&[1, 2]));
        assert_data_error(
            result,
            &dir.path().join("y.idx"),
            "2 labels for the 3 images",
        );
    }

    #[test]
    fn label_out_of_range_is_an_error() {
        let (dir, result) = load(&images(2, 2, 2), &labels(&[1, 10]));
        assert_data_error(result, &dir.path().join("y.idx"), "label 10 of sample 1");
    }

    #[test]
    fn a_header_promising_too_much_is_refused_before_decompressing() {
        let dir = tempfile::tempdir().unwrap();
        // 60000 images of 1000x1000 declared, a few bytes of data, gzip: refused from the
        // header, nothing inflated.
        let mut bytes = header(IMAGES_MAGIC, &[60_000, 1000, 1000]);
        bytes.extend([0u8; 64]);
        let images = dir.path().join("x.idx.gz");
        write(&images, &gzip(&bytes));
        let labels = dir.path().join("y.idx");
        let mut label_bytes = header(LABELS_MAGIC, &[1]);
        label_bytes.push(0);
        write(&labels, &label_bytes);
        assert_data_error(load_idx(&images, &labels), &images, "more than");
        // A gzip stream inflating far past its header: read only as far as the header says.
        let bytes = images_with_extra(1, 2, 2, 50_000_000);
        write(&images, &gzip(&bytes));
        assert_data_error(load_idx(&images, &labels), &images, "more data after");
    }

    fn images_with_extra(n: u32, h: u32, w: u32, extra: usize) -> Vec<u8> {
        let mut bytes = images(n, h, w);
        bytes.resize(bytes.len() + extra, 0);
        bytes
    }
}
