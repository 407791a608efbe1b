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
        match split {
            Some(split) if labels.is_none() && !Path::new(data).exists() => DataSource::Digits(split),
            _ => DataSource::Files { data: data.into(), labels: labels.map(Path::to_path_buf) },
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
            DataSource::Files { data, labels } => load_dataset(data, labels.as_deref())?,
        })
    }

    /// The name used in reports.
    pub fn describe(&self) -> String {
        match self {
            DataSource::Digits(DigitsSplit::All) => "digits".into(),
            DataSource::Digits(DigitsSplit::Train) => "digits:train".into(),
            DataSource::Digits(DigitsSplit::Test) => "digits:test".into(),
            DataSource::Files { data, .. } => data.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_splits_partition_the_embedded_set() {
        let train = DataSource::parse("digits:train", None).load().unwrap();
        let test = DataSource::parse("digits:test", None).load().unwrap();
        assert_eq!((train.len(), test.len()), (1437, 360));
        assert_eq!(DataSource::parse("digits", None).load().unwrap().len(), 1797);
        assert!(matches!(DataSource::parse("nope.npy", None), DataSource::Files { .. }));
        assert!(DataSource::parse("/no/such/dir", None).load().is_err());
    }
}
