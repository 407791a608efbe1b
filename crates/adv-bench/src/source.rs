//! Where evaluation and training data come from: the embedded digits or files.

use std::path::{Path, PathBuf};

use adv_core::Dataset;
use adv_core::data::{embedded_digits, load_dataset};

use crate::Result;

/// Samples of the embedded digits used for training; the rest (360) is the test split.
pub const DIGITS_TRAIN: usize = 1437;

/// A data set named on the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// The embedded UCI digits: `digits` (all 1,797), `digits:train` (the first 1,437) or
    /// `digits:test` (the last 360).
    Digits(DigitsSplit),
    /// The full Fashion-MNIST of Debian's `dataset-fashion-mnist` package (IDX files under
    /// `/usr/share/datasets/fashion-mnist`, or the folder `ADV_FASHION_MNIST` names):
    /// `fashion-mnist:train` (60,000 images) or `fashion-mnist:test` (10,000).
    FashionMnist {
        /// The training split, else the test split.
        train: bool,
    },
    /// A file or folder in any format [`load_dataset`] reads.
    Files {
        /// Images (or a folder).
        data: PathBuf,
        /// Labels, for formats that keep them apart.
        labels: Option<PathBuf>,
    },
}

/// A part of the embedded digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitsSplit {
    /// All 1,797 images.
    All,
    /// The first [`DIGITS_TRAIN`] images.
    Train,
    /// The remaining images.
    Test,
}

impl DataSource {
    /// Reads a `--data` argument: `digits[:train|:test]`, or a path.
    pub fn parse(data: &str, labels: Option<&Path>) -> Self {
        let split = match data {
            "digits" => Some(DigitsSplit::All),
            "digits:train" => Some(DigitsSplit::Train),
            "digits:test" => Some(DigitsSplit::Test),
            _ => None,
        };
        let fashion = match data {
            "fashion-mnist:train" => Some(true),
            "fashion-mnist:test" => Some(false),
            _ => None,
        };
        match (split, fashion) {
            (Some(split), _) if labels.is_none() && !Path::new(data).exists() => {
                DataSource::Digits(split)
            }
            (_, Some(train)) if labels.is_none() && !Path::new(data).exists() => {
                DataSource::FashionMnist { train }
            }
            _ => DataSource::Files {
                data: data.into(),
                labels: labels.map(Path::to_path_buf),
            },
        }
    }

    /// Loads the data.
    pub fn load(&self) -> Result<Dataset> {
        Ok(match self {
            DataSource::Digits(split) => {
                let digits = embedded_digits();
                match split {
                    DigitsSplit::All => digits,
                    DigitsSplit::Train => digits.split(DIGITS_TRAIN).0,
                    DigitsSplit::Test => digits.split(DIGITS_TRAIN).1,
                }
            }
            DataSource::FashionMnist { train } => {
                let folder = fashion_mnist_folder();
                let prefix = if *train { "train" } else { "t10k" };
                let images = folder.join(format!("{prefix}-images-idx3-ubyte.gz"));
                let labels = folder.join(format!("{prefix}-labels-idx1-ubyte.gz"));
                if !images.is_file() || !labels.is_file() {
                    return Err(crate::BenchError::InvalidArgument(format!(
                        "Fashion-MNIST is not installed: {} is missing (apt-get install \
                         dataset-fashion-mnist, or set ADV_FASHION_MNIST to a folder of its IDX files)",
                        images.display()
                    )));
                }
                adv_core::data::load_idx(&images, &labels)?
            }
            DataSource::Files { data, labels } => load_dataset(data, labels.as_deref())?,
        })
    }

    /// Whether the source is a name (the embedded digits, Fashion-MNIST) rather than a path.
    pub fn is_named(&self) -> bool {
        !matches!(self, DataSource::Files { .. })
    }

    /// The name used in reports.
    pub fn describe(&self) -> String {
        match self {
            DataSource::Digits(DigitsSplit::All) => "digits".into(),
            DataSource::Digits(DigitsSplit::Train) => "digits:train".into(),
            DataSource::Digits(DigitsSplit::Test) => "digits:test".into(),
            DataSource::FashionMnist { train: true } => "fashion-mnist:train".into(),
            DataSource::FashionMnist { train: false } => "fashion-mnist:test".into(),
            DataSource::Files { data, .. } => data.display().to_string(),
        }
    }
}

/// Where Fashion-MNIST's IDX files are: `ADV_FASHION_MNIST`, else Debian's package folder.
fn fashion_mnist_folder() -> PathBuf {
    std::env::var_os("ADV_FASHION_MNIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_splits_partition_the_embedded_set() {
        let train = DataSource::parse("digits:train", None).load().unwrap();
        let test = DataSource::parse("digits:test", None).load().unwrap();
        assert_eq!((train.len(), test.len()), (1437, 360));
        assert_eq!(
            DataSource::parse("digits", None).load().unwrap().len(),
            1797
        );
        assert!(matches!(
            DataSource::parse("nope.npy", None),
            DataSource::Files { .. }
        ));
        assert!(DataSource::parse("/no/such/dir", None).load().is_err());
    }

    /// The named Fashion-MNIST splits load from the package's folder, or say how to get it.
    #[test]
    fn fashion_mnist_loads_when_installed_and_names_the_package_when_not() {
        let test = DataSource::parse("fashion-mnist:test", None);
        assert_eq!(test, DataSource::FashionMnist { train: false });
        assert_eq!(test.describe(), "fashion-mnist:test");
        match test.load() {
            Ok(data) => {
                assert_eq!(
                    (data.len(), data.shape(), data.num_classes()),
                    (10_000, [1, 28, 28], 10)
                );
            }
            Err(error) => assert!(
                error.to_string().contains("dataset-fashion-mnist"),
                "{error}"
            ),
        }
    }
}
