//! The classifier abstraction every attack and benchmark works against.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// An image classifier: a batch of images in the input box (NCHW, `[0, 1]` by default) to logits.
///
/// Normalization and any preprocessing live inside the model, so attacks always work in input
/// space. Gradient wrappers (EOT, BPDA, query counting) override [`Classifier::value_and_grad`].
pub trait Classifier: Send + Sync {
    /// Logits `[n, classes]` for images `[n, c, h, w]`.
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;

    /// Logits, a per-sample objective and its gradient with respect to the input.
    ///
    /// `objective` maps logits `[n, classes]` to one value per sample `[n]`; the gradient of
    /// their sum is returned, which is the per-sample gradient since samples are independent.
    fn value_and_grad(
        &self,
        images: Tensor<4>,
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        let input = images.autodiff().require_grad();
        let logits = self.forward(input.clone());
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

    fn value_and_grad(
        &self,
        images: Tensor<4>,
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        (**self).value_and_grad(images, objective)
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
        self.forward_samples.fetch_add(samples as u64, Ordering::Relaxed);
    }
}

impl<C: Classifier> Classifier for Counted<C> {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.count_forward(images.dims()[0]);
        self.inner.forward(images)
    }

    fn value_and_grad(
        &self,
        images: Tensor<4>,
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        let samples = images.dims()[0];
        self.count_forward(samples);
        self.backward_calls.fetch_add(1, Ordering::Relaxed);
        self.backward_samples.fetch_add(samples as u64, Ordering::Relaxed);
        self.inner.value_and_grad(images, objective)
    }
}
