//! In-memory image data sets and their loaders.
//!
//! Every loader returns a [`Dataset`]: images as `f32` in `[0, 1]`, NCHW, with `usize` labels.
//! A corrupt, truncated or inconsistent file is a [`CoreError::Data`](crate::CoreError::Data)
//! naming the file and the problem.

mod cifar;
mod dataset;
mod digits;
mod folder;
mod idx;
mod load;
mod npy;

pub use cifar::load_cifar10_bin;
pub use dataset::{Batch, Dataset};
pub use digits::{embedded_digits, load_digits_csv, parse_digits_csv};
pub use folder::{load_image_folder, load_image_folder_with_classes};
pub use idx::load_idx;
pub use load::load_dataset;
pub use npy::{load_npy, load_npy_with_classes};
