use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::{CoreError, Result};

/// The most classes a data set may have: a label at or above it is refused as corrupt (it would
/// otherwise size a model's head, or overflow the 32-bit integers some backends hold labels in).
pub const MAX_CLASSES: usize = 1 << 20;

/// Labelled images held in memory: `f32` values in `[0, 1]`, NCHW order.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    images: Vec<f32>,
    labels: Vec<usize>,
    shape: [usize; 3],
    num_classes: usize,
}

/// One batch of a [`Dataset`] on a device, with the samples' indices in the data set.
pub struct Batch {
    /// Images `[n, c, h, w]`.
    pub images: Tensor<4>,
    /// Labels `[n]`.
    pub labels: Tensor<1, Int>,
    /// Index of each sample in its data set (keys per-sample random numbers).
    pub ids: Vec<u64>,
}

impl Dataset {
    /// Checks and wraps images (`len * c * h * w` values in NCHW order) and labels.
    pub fn new(
        images: Vec<f32>,
        labels: Vec<usize>,
        shape: [usize; 3],
        num_classes: usize,
    ) -> Result<Self> {
        let per_image: usize = shape.iter().product();
        if per_image == 0 {
            return Err(CoreError::InvalidArgument(format!(
                "image shape {shape:?} has a zero dimension"
            )));
        }
        if images.len() != labels.len() * per_image {
            return Err(CoreError::InvalidArgument(format!(
                "{} values do not make {} images of shape {shape:?}",
                images.len(),
                labels.len()
            )));
        }
        if let Some((sample, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &label)| label >= num_classes.min(MAX_CLASSES))
        {
            return Err(CoreError::InvalidArgument(if label >= MAX_CLASSES {
                format!(
                    "label {label} of sample {sample} is not a class index (at most {} are \
                     supported)",
                    MAX_CLASSES - 1
                )
            } else {
                format!(
                    "label {label} of sample {sample} is out of range for {num_classes} classes"
                )
            }));
        }
        if let Some(bad) = images.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(CoreError::InvalidArgument(format!(
                "pixel value {bad} is outside [0, 1]"
            )));
        }
        Ok(Self {
            images,
            labels,
            shape,
            num_classes,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Shape of one image: `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of classes labels range over.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// All labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// All pixel values, NCHW.
    pub fn images(&self) -> &[f32] {
        &self.images
    }

    /// Pixel values of sample `index`.
    pub fn image(&self, index: usize) -> &[f32] {
        let size = self.image_size();
        &self.images[index * size..(index + 1) * size]
    }

    fn image_size(&self) -> usize {
        self.shape.iter().product()
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(CoreError::InvalidArgument(format!(
                "sample {bad} is out of range for {} samples",
                self.len()
            )));
        }
        Ok(Self {
            images: indices
                .iter()
                .flat_map(|&i| self.image(i).iter().copied())
                .collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            shape: self.shape,
            num_classes: self.num_classes,
        })
    }

    /// The first `count` samples (all of them if there are fewer).
    pub fn take(&self, count: usize) -> Self {
        let count = count.min(self.len());
        Self {
            images: self.images[..count * self.image_size()].to_vec(),
            labels: self.labels[..count].to_vec(),
            shape: self.shape,
            num_classes: self.num_classes,
        }
    }

    /// Splits into the first `count` samples and the rest.
    pub fn split(&self, count: usize) -> (Self, Self) {
        let count = count.min(self.len());
        let cut = count * self.image_size();
        let part = |images: &[f32], labels: &[usize]| Self {
            images: images.to_vec(),
            labels: labels.to_vec(),
            shape: self.shape,
            num_classes: self.num_classes,
        };
        (
            part(&self.images[..cut], &self.labels[..count]),
            part(&self.images[cut..], &self.labels[count..]),
        )
    }

    /// Samples `start..end` as tensors on `device`.
    pub fn batch(&self, start: usize, end: usize, device: &Device) -> Batch {
        let end = end.min(self.len());
        let start = start.min(end);
        self.batch_of(&(start..end).collect::<Vec<_>>(), device)
    }

    /// The samples at `indices` (all in range) as tensors on `device`.
    pub fn batch_of(&self, indices: &[usize], device: &Device) -> Batch {
        let [c, h, w] = self.shape;
        let n = indices.len();
        let images: Vec<f32> = indices
            .iter()
            .flat_map(|&i| self.image(i).iter().copied())
            .collect();
        let labels: Vec<i64> = indices.iter().map(|&i| self.labels[i] as i64).collect();
        Batch {
            images: Tensor::from_data(TensorData::new(images, [n, c, h, w]), device),
            labels: Tensor::from_data(TensorData::new(labels, [n]), device),
            ids: indices.iter().map(|&i| i as u64).collect(),
        }
    }

    /// Consecutive batches of at most `batch_size` samples covering the data set in order.
    pub fn batches<'a>(
        &'a self,
        batch_size: usize,
        device: &'a Device,
    ) -> impl Iterator<Item = Batch> + 'a {
        let batch_size = batch_size.max(1);
        (0..self.len())
            .step_by(batch_size)
            .map(move |start| self.batch(start, start + batch_size, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::to_ints;

    fn tiny() -> Dataset {
        Dataset::new(
            vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
            vec![0, 1, 2],
            [1, 1, 2],
            3,
        )
        .unwrap()
    }

    #[test]
    fn rejects_inconsistent_inputs() {
        assert!(Dataset::new(vec![0.0; 5], vec![0, 1, 2], [1, 1, 2], 3).is_err());
        assert!(Dataset::new(vec![0.0; 6], vec![0, 1, 3], [1, 1, 2], 3).is_err());
        assert!(Dataset::new(vec![2.0; 6], vec![0, 1, 2], [1, 1, 2], 3).is_err());
        assert!(Dataset::new(vec![], vec![], [0, 1, 2], 3).is_err());
    }

    #[test]
    fn batches_cover_the_data_in_order() {
        let data = tiny();
        let device = Device::default();
        let batches: Vec<Batch> = data.batches(2, &device).collect();
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[1].ids, vec![2]);
        assert_eq!(to_ints(batches[0].labels.clone()), vec![0, 1]);
        assert_eq!(batches[0].images.dims(), [2, 1, 1, 2]);
    }

    #[test]
    fn select_take_and_split() {
        let data = tiny();
        assert_eq!(data.select(&[2, 0]).unwrap().labels(), &[2, 0]);
        assert!(data.select(&[3]).is_err());
        assert_eq!(data.take(10).len(), 3);
        let (head, tail) = data.split(1);
        assert_eq!((head.len(), tail.len()), (1, 2));
        assert_eq!(tail.image(0), &[0.2, 0.3]);
    }
}
