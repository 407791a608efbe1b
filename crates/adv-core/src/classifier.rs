//! The classifier abstraction every attack and benchmark works against.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// What a model declares about itself; the harness and the reports read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelTraits {
    /// Autodiff through [`Classifier::value_and_grad`] gives the true input gradient (false for
    /// a model behind a non-differentiable preprocessing without a BPDA backward pass).
    pub differentiable: bool,
    /// The output depends on random draws (random preprocessing or layers); the draws come
    /// from the [`DrawKey`] of each row.
    pub randomized: bool,
}

impl Default for ModelTraits {
    fn default() -> Self {
        Self::DETERMINISTIC
    }
}

impl ModelTraits {
    /// A differentiable, deterministic model: every plain network.
    pub const DETERMINISTIC: ModelTraits = ModelTraits {
        differentiable: true,
        randomized: false,
    };

    /// The traits of a combination of models (an ensemble): randomized if any member is,
    /// differentiable if all are.
    pub fn combine(traits: impl IntoIterator<Item = ModelTraits>) -> ModelTraits {
        traits
            .into_iter()
            .fold(ModelTraits::DETERMINISTIC, |all, one| ModelTraits {
                differentiable: all.differentiable && one.differentiable,
                randomized: all.randomized || one.randomized,
            })
    }
}

/// The key of one row's random draw: the sample's index in its data set and the draw's index
/// for that sample. A randomized model seeds each row's randomness from its key, so its output
/// on a sample does not depend on the batch the sample is in, and a resumed run repeats it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DrawKey {
    /// The sample's index in its data set.
    pub sample: u64,
    /// Which draw of that sample.
    pub draw: u64,
}

/// An image classifier: a batch of images in the input box (NCHW, `[0, 1]` by default) to logits.
///
/// Normalization and any preprocessing live inside the model, so attacks always work in input
/// space. Gradient wrappers (EOT, BPDA) override [`Classifier::value_and_grad`]; randomized
/// models override [`Classifier::forward_keyed`] and declare it in [`Classifier::traits`].
pub trait Classifier: Send + Sync {
    /// Logits `[n, classes]` for images `[n, c, h, w]`.
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;

    /// Whether the model is differentiable and whether it is randomized.
    fn traits(&self) -> ModelTraits {
        ModelTraits::DETERMINISTIC
    }

    /// Logits with each row's random draw keyed by `keys` (one per row). Deterministic models
    /// ignore the keys.
    fn forward_keyed(&self, images: Tensor<4>, keys: &[DrawKey]) -> Tensor<2> {
        let _ = keys;
        self.forward(images)
    }

    /// Logits, a per-sample objective and its gradient with respect to the input, each row's
    /// random draw keyed by `keys`.
    ///
    /// `objective` maps logits `[n, classes]` to one value per sample `[n]`; the gradient of
    /// their sum is returned, which is the per-sample gradient since samples are independent.
    fn value_and_grad(
        &self,
        images: Tensor<4>,
        keys: &[DrawKey],
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        let input = images.autodiff().require_grad();
        let logits = self.forward_keyed(input.clone(), keys);
        let values = objective(logits.clone());
        let grads = values.clone().sum().backward();
        let grad = input
            .grad(&grads)
            .unwrap_or_else(|| input.clone().inner().zeros_like());
        ValueAndGrad {
            logits: logits.inner(),
            values: values.inner(),
            grad,
        }
    }
}

/// Keys `(id, draw)` for rows with sample indices `ids`, all in draw `draw`.
pub fn draw_keys(ids: &[u64], draw: u64) -> Vec<DrawKey> {
    ids.iter().map(|&sample| DrawKey { sample, draw }).collect()
}

/// What [`Classifier::value_and_grad`] returns; none of it tracks gradients.
pub struct ValueAndGrad {
    /// Logits `[n, classes]` at the input.
    pub logits: Tensor<2>,
    /// The objective per sample `[n]`.
    pub values: Tensor<1>,
    /// Gradient of the objective with respect to the input `[n, c, h, w]`.
    pub grad: Tensor<4>,
}

impl<C: Classifier + ?Sized> Classifier for &C {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        (**self).forward(images)
    }

    fn traits(&self) -> ModelTraits {
        (**self).traits()
    }

    fn forward_keyed(&self, images: Tensor<4>, keys: &[DrawKey]) -> Tensor<2> {
        (**self).forward_keyed(images, keys)
    }

    fn value_and_grad(
        &self,
        images: Tensor<4>,
        keys: &[DrawKey],
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        (**self).value_and_grad(images, keys, objective)
    }
}

/// Forward and backward work done on a model, counted per sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostCounts {
    /// Forward passes (calls).
    pub forward_calls: u64,
    /// Samples sent through forward passes, including those of gradient calls: the query count.
    pub forward_samples: u64,
    /// Gradient computations (calls).
    pub backward_calls: u64,
    /// Samples whose input gradient was computed.
    pub backward_samples: u64,
}

impl std::ops::Add for CostCounts {
    type Output = CostCounts;

    fn add(self, other: CostCounts) -> CostCounts {
        CostCounts {
            forward_calls: self.forward_calls + other.forward_calls,
            forward_samples: self.forward_samples + other.forward_samples,
            backward_calls: self.backward_calls + other.backward_calls,
            backward_samples: self.backward_samples + other.backward_samples,
        }
    }
}

/// A classifier wrapper that counts forward and backward work (query budgets, cost figures).
pub struct Counted<C> {
    inner: C,
    forward_calls: AtomicU64,
    forward_samples: AtomicU64,
    backward_calls: AtomicU64,
    backward_samples: AtomicU64,
}

impl<C: Classifier> Counted<C> {
    /// Wraps `inner` with all counts at zero.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            forward_calls: AtomicU64::new(0),
            forward_samples: AtomicU64::new(0),
            backward_calls: AtomicU64::new(0),
            backward_samples: AtomicU64::new(0),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> CostCounts {
        CostCounts {
            forward_calls: self.forward_calls.load(Ordering::Relaxed),
            forward_samples: self.forward_samples.load(Ordering::Relaxed),
            backward_calls: self.backward_calls.load(Ordering::Relaxed),
            backward_samples: self.backward_samples.load(Ordering::Relaxed),
        }
    }

    /// The wrapped classifier.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    fn count_forward(&self, samples: usize) {
        self.forward_calls.fetch_add(1, Ordering::Relaxed);
        self.forward_samples
            .fetch_add(samples as u64, Ordering::Relaxed);
    }
}

impl<C: Classifier> Classifier for Counted<C> {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.count_forward(images.dims()[0]);
        self.inner.forward(images)
    }

    fn traits(&self) -> ModelTraits {
        self.inner.traits()
    }

    fn forward_keyed(&self, images: Tensor<4>, keys: &[DrawKey]) -> Tensor<2> {
        self.count_forward(images.dims()[0]);
        self.inner.forward_keyed(images, keys)
    }

    fn value_and_grad(
        &self,
        images: Tensor<4>,
        keys: &[DrawKey],
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        let samples = images.dims()[0];
        self.count_forward(samples);
        self.backward_calls.fetch_add(1, Ordering::Relaxed);
        self.backward_samples
            .fetch_add(samples as u64, Ordering::Relaxed);
        self.inner.value_and_grad(images, keys, objective)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{to_floats, to_ints};
    use burn::tensor::{Device, TensorData};

    /// Logits `[sum(x), 2 sum(x)]` per sample.
    struct Sums;

    impl Classifier for Sums {
        fn forward(&self, images: Tensor<4>) -> Tensor<2> {
            let n = images.dims()[0];
            let sums = images.reshape([n as i32, -1]).sum_dim(1);
            Tensor::cat(vec![sums.clone(), sums.mul_scalar(2.0)], 1)
        }
    }

    fn images(n: usize) -> Tensor<4> {
        let values: Vec<f32> = (0..n * 4).map(|i| i as f32 / 10.0).collect();
        Tensor::from_data(TensorData::new(values, [n, 1, 2, 2]), &Device::default())
    }

    #[test]
    fn value_and_grad_differentiates_the_objective_per_sample() {
        let objective = |logits: Tensor<2>| {
            let n = logits.dims()[0];
            logits.slice([0..n, 1..2]).reshape([n])
        };
        let result = Sums.value_and_grad(images(2), &draw_keys(&[0, 1], 0), &objective);
        assert_eq!(to_floats(result.grad), vec![2.0; 8]);
        let values = to_floats(result.values);
        assert!((values[0] - 1.2).abs() < 1e-5 && (values[1] - 4.4).abs() < 1e-5);
        assert_eq!(to_ints(result.logits.argmax(1).reshape([2])), vec![1, 1]);
    }

    #[test]
    fn counted_counts_calls_and_samples() {
        let counted = Counted::new(Sums);
        counted.forward(images(3));
        counted.forward(images(2));
        counted.value_and_grad(
            images(4),
            &draw_keys(&[0, 1, 2, 3], 0),
            &|logits: Tensor<2>| logits.sum_dim(1).reshape([4]),
        );
        assert_eq!(
            counted.counts(),
            CostCounts {
                forward_calls: 3,
                forward_samples: 9,
                backward_calls: 1,
                backward_samples: 4
            }
        );
    }
}
