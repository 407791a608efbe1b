//! Format detection ([`load_dataset`]) and the helpers every loader shares: reading a file that
//! may be gzip-compressed, counting classes, and wrapping checked arrays into a [`Dataset`].

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::{Dataset, cifar, digits, folder, idx, npy};
use crate::{CoreError, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What [`load_dataset`] accepts, for the error it gives on anything else.
const SUPPORTED: &str = "supported formats: a directory of CIFAR-10 batches or of PNG/JPEG \
     images, CIFAR-10 .bin batches, .npy images (with .npy labels), IDX images (with IDX \
     labels, optionally gzip), and digits .csv or .csv.gz";

/// Loads a data set, choosing the format from `data`.
///
/// * a directory: the CIFAR-10 batches inside (`data_batch_*.bin`, `test_batch.bin`, all of
///   them in name order) if there are any, else an image folder ([`load_image_folder`]);
/// * `*.npy`: NumPy images, with the NumPy labels file `labels` (required);
/// * `*.bin`: one CIFAR-10 binary batch;
/// * `*.csv`, `*.csv.gz`: the UCI 8x8 digits;
/// * an IDX image file (recognized by its magic number, gzip or not): MNIST-style images with
///   the IDX labels file `labels`; without it, a name containing `images-idx3` implies the
///   labels file of the same name with `labels-idx1`.
///
/// Formats that keep their labels inside the data (directories, `.bin`, `.csv`) refuse a
/// `labels` path.
///
/// [`load_image_folder`]: super::load_image_folder
pub fn load_dataset(data: &Path, labels: Option<&Path>) -> Result<Dataset> {
    let meta = std::fs::metadata(data).map_err(|e| CoreError::io(data, e))?;
    if meta.is_dir() {
        no_labels_expected(data, labels)?;
        let batches = cifar::batch_files(data)?;
        return if batches.is_empty() {
            folder::load_image_folder(data)
        } else {
            cifar::load_cifar10_bin(&batches)
        };
    }
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".npy") {
        let labels = labels.ok_or_else(|| {
            CoreError::InvalidArgument(format!(
                "{}: .npy images need a .npy labels file",
                data.display()
            ))
        })?;
        npy::load_npy(data, labels)
    } else if name.ends_with(".bin") {
        no_labels_expected(data, labels)?;
        cifar::load_cifar10_bin(&[data.to_path_buf()])
    } else if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        no_labels_expected(data, labels)?;
        digits::load_digits_csv(data)
    } else {
        load_idx_by_magic(data, labels)
    }
}

/// Loads `data` as IDX images if its magic number says so; otherwise explains what is supported.
fn load_idx_by_magic(data: &Path, labels: Option<&Path>) -> Result<Dataset> {
    let head = read_head(data, 4)?;
    if head == idx::IMAGES_MAGIC.to_be_bytes() {
        match labels {
            Some(labels) => idx::load_idx(data, labels),
            None => idx::load_idx(data, &inferred_idx_labels(data)?),
        }
    } else if head == idx::LABELS_MAGIC.to_be_bytes() {
        Err(CoreError::data(
            data,
            "this is an IDX labels file: give the IDX images as the data, this file as the labels",
        ))
    } else {
        Err(CoreError::data(
            data,
            format!("unrecognized data format; {SUPPORTED}"),
        ))
    }
}

/// The labels file beside IDX images named `...images-idx3...`: the same name with `labels-idx1`.
fn inferred_idx_labels(images: &Path) -> Result<PathBuf> {
    let name = images
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if !name.contains("images-idx3") {
        return Err(CoreError::InvalidArgument(format!(
            "{}: IDX images need a labels file (it can only be inferred from a name \
             containing `images-idx3`)",
            images.display()
        )));
    }
    let labels = images.with_file_name(name.replace("images-idx3", "labels-idx1"));
    if !labels.is_file() {
        return Err(CoreError::InvalidArgument(format!(
            "{}: no labels file given and the inferred one, {}, does not exist",
            images.display(),
            labels.display()
        )));
    }
    Ok(labels)
}

fn no_labels_expected(data: &Path, labels: Option<&Path>) -> Result<()> {
    match labels {
        None => Ok(()),
        Some(labels) => Err(CoreError::InvalidArgument(format!(
            "{}: this format holds its own labels; the labels file {} is not used",
            data.display(),
            labels.display()
        ))),
    }
}

/// Reads all of `path`, decompressing it if it is gzip (whatever its name).
pub(super) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    open(path)?
        .read_to_end(&mut out)
        .map_err(|e| stream_error(path, e))?;
    Ok(out)
}

/// At most `limit` bytes of `path` (decompressed if it is gzip) and whether there was more:
/// a file, or a gzip stream, is never read past what its header declared.
pub(super) fn read_bounded(path: &Path, limit: u64) -> Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| stream_error(path, e))?;
    let more = out.len() as u64 > limit;
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((out, more))
}

/// Decompresses `bytes` if they are gzip; `path` names them in errors.
pub(super) fn gunzip(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    maybe_gunzip(bytes)
        .and_then(|mut reader| reader.read_to_end(&mut out))
        .map_err(|e| stream_error(path, e))?;
    Ok(out)
}

/// The first `count` bytes of `path` (fewer if it is shorter), decompressed if it is gzip.
pub(super) fn read_head(path: &Path, count: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    open(path)?
        .take(count)
        .read_to_end(&mut out)
        .map_err(|e| stream_error(path, e))?;
    Ok(out)
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
    maybe_gunzip(BufReader::new(file)).map_err(|e| CoreError::io(path, e))
}

fn maybe_gunzip<'a>(mut input: impl BufRead + 'a) -> io::Result<Box<dyn Read + 'a>> {
    if input.fill_buf()?.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(MultiGzDecoder::new(input)))
    } else {
        Ok(Box::new(input))
    }
}

/// A read failure: corrupt compressed data is a data error, anything else an I/O error.
fn stream_error(path: &Path, error: io::Error) -> CoreError {
    match error.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            CoreError::data(path, format!("corrupt gzip data: {error}"))
        }
        _ => CoreError::io(path, error),
    }
}

/// The number of classes: `explicit` if given (every label must be below it), else the largest
/// label plus one. `path` is the file the labels come from.
pub(super) fn class_count(labels: &[usize], explicit: Option<usize>, path: &Path) -> Result<usize> {
    match explicit {
        Some(count) => match labels.iter().position(|&label| label >= count) {
            Some(i) => Err(CoreError::data(
                path,
                format!(
                    "label {} of sample {i} is out of range for {count} classes",
                    labels[i]
                ),
            )),
            None => Ok(count),
        },
        None => labels
            .iter()
            .max()
            .map(|max| max + 1)
            .ok_or_else(|| CoreError::data(path, "contains no samples")),
    }
}

/// [`Dataset::new`], with its complaints reported as data errors about `path`.
pub(super) fn dataset(
    path: &Path,
    images: Vec<f32>,
    labels: Vec<usize>,
    shape: [usize; 3],
    num_classes: usize,
) -> Result<Dataset> {
    Dataset::new(images, labels, shape, num_classes).map_err(|e| match e {
        CoreError::InvalidArgument(problem) => CoreError::data(path, problem),
        other => other,
    })
}

/// Helpers for the loaders' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::Write;
    use std::path::Path;

    use flate2::{Compression, write::GzEncoder};

    use crate::{CoreError, Result};

    /// Writes `bytes` to `path`.
    pub(crate) fn write(path: &Path, bytes: &[u8]) {
        std::fs::write(path, bytes).unwrap();
    }

    /// `bytes` gzip-compressed.
    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Asserts `result` is a [`CoreError::Data`] about `file` whose message contains `needle`.
    pub(crate) fn assert_data_error<T>(result: Result<T>, file: &Path, needle: &str) {
        let Err(error) = result else {
            panic!(
                "expected a data error about {}, got a success",
                file.display()
            );
        };
        let message = error.to_string();
        match &error {
            CoreError::Data { path, .. } => assert_eq!(path, file, "wrong file in `{message}`"),
            other => panic!(
                "expected a data error about {}, got {other:?}",
                file.display()
            ),
        }
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains(needle), "`{message}` lacks `{needle}`");
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{assert_data_error, gzip, write};
    use super::*;

    fn idx_images(n: u32, h: u32, w: u32) -> Vec<u8> {
        let mut bytes = idx::IMAGES_MAGIC.to_be_bytes().to_vec();
        for dim in [n, h, w] {
            bytes.extend(dim.to_be_bytes());
        }
        bytes.extend((0..n * h * w).map(|i| (i % 256) as u8));
        bytes
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut bytes = idx::LABELS_MAGIC.to_be_bytes().to_vec();
        bytes.extend((labels.len() as u32).to_be_bytes());
        bytes.extend(labels);
        bytes
    }

    #[test]
    fn reads_plain_and_gzip_files_alike() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, packed) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
        write(&plain, b"hello");
        write(&packed, &gzip(b"hello"));
        assert_eq!(read_file(&plain).unwrap(), b"hello");
        assert_eq!(read_file(&packed).unwrap(), b"hello");
        assert_eq!(read_head(&packed, 2).unwrap(), b"he");
    }

    #[test]
    fn corrupt_gzip_is_a_data_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.gz");
        let mut bytes = gzip(&[7; 1000]);
        bytes.truncate(bytes.len() / 2);
        write(&path, &bytes);
        assert_data_error(read_file(&path), &path, "gzip");
    }

    #[test]
    fn counts_classes() {
        let path = Path::new("labels.npy");
        assert_eq!(class_count(&[0, 4, 2], None, path).unwrap(), 5);
        assert_eq!(class_count(&[0, 4, 2], Some(10), path).unwrap(), 10);
        assert_data_error(class_count(&[0, 4], Some(4), path), path, "4 classes");
        assert_data_error(class_count(&[], None, path), path, "no samples");
    }

    #[test]
    fn infers_idx_labels_from_the_images_name() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("t10k-images-idx3-ubyte.gz");
        write(&images, &gzip(&idx_images(2, 2, 3)));
        assert!(matches!(
            load_dataset(&images, None),
            Err(CoreError::InvalidArgument(_))
        ));
        write(
            &dir.path().join("t10k-labels-idx1-ubyte.gz"),
            &gzip(&idx_labels(&[3, 9])),
        );
        let data = load_dataset(&images, None).unwrap();
        assert_eq!(
            (data.len(), data.shape(), data.labels()),
            (2, [1, 2, 3], &[3, 9][..])
        );
    }

    #[test]
    fn idx_labels_as_data_and_unknown_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let labels = dir.path().join("labels");
        write(&labels, &idx_labels(&[1]));
        assert_data_error(load_dataset(&labels, None), &labels, "IDX labels file");
        let other = dir.path().join("notes.txt");
        write(&other, b"some text");
        assert_data_error(load_dataset(&other, None), &other, "supported formats");
    }

    #[test]
    fn dispatches_on_extension_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.csv");
        let row: Vec<String> = (0..64)
            .map(|i| (i % 17).to_string())
            .chain(["4".into()])
            .collect();
        write(&csv, row.join(",").as_bytes());
        assert_eq!(load_dataset(&csv, None).unwrap().labels(), &[4]);
        assert!(matches!(
            load_dataset(&csv, Some(&csv)),
            Err(CoreError::InvalidArgument(_))
        ));

        let mut record = vec![6u8];
        record.extend([128u8; 3072]);
        let batches = dir.path().join("batches");
        std::fs::create_dir(&batches).unwrap();
        write(&batches.join("data_batch_1.bin"), &record);
        write(&batches.join("test_batch.bin"), &record);
        assert_eq!(load_dataset(&batches, None).unwrap().len(), 2);
        assert_eq!(
            load_dataset(&batches.join("test_batch.bin"), None)
                .unwrap()
                .len(),
            1
        );

        let npy = dir.path().join("x.npy");
        write(&npy, b"");
        assert!(matches!(
            load_dataset(&npy, None),
            Err(CoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            load_dataset(&dir.path().join("missing"), None),
            Err(CoreError::Io { .. })
        ));
    }
}
