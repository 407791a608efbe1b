//! Expectation over Transformation: the gradient of a randomized model (random preprocessing,
//! random layers) averaged over several draws, so that gradient attacks follow the expected
//! loss instead of one draw's. Athalye, Engstrom, Ilyas & Kwok, "Synthesizing Robust Adversarial
//! Examples", ICML 2018; Athalye, Carlini & Wagner, "Obfuscated Gradients Give a False Sense of
//! Security", ICML 2018.
//!
//! [`Eot`] wraps any [`Classifier`]: its forward pass is one draw of the wrapped model (the
//! model as deployed, which is what the harness judges), its [`Classifier::value_and_grad`]
//! averages the logits, the objective and the gradient of `draws` draws. Every gradient attack
//! takes it in place of the model.
//!
//! ```
//! # use adv_core::Classifier;
//! # fn wrap(randomized: impl Classifier) -> adv_attacks::Result<()> {
//! let averaged = adv_attacks::Eot::new(randomized, 20)?;
//! # Ok(()) }
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Classifier, DrawKey, ModelTraits, ValueAndGrad};

use crate::{AttackError, Result};

/// A randomized classifier whose gradients are averaged over draws.
pub struct Eot<C> {
    inner: C,
    draws: usize,
}

impl<C: Classifier> Eot<C> {
    /// Averages `draws` (at least 1) draws of `inner` per gradient.
    pub fn new(inner: C, draws: usize) -> Result<Self> {
        if draws == 0 {
            return Err(AttackError::config("eot", "draws must be at least 1"));
        }
        Ok(Self { inner, draws })
    }

    /// The wrapped classifier.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<C: Classifier> Classifier for Eot<C> {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.inner.forward(images)
    }

    fn traits(&self) -> ModelTraits {
        self.inner.traits()
    }

    fn forward_keyed(&self, images: Tensor<4>, keys: &[DrawKey]) -> Tensor<2> {
        self.inner.forward_keyed(images, keys)
    }

    /// Draw `j` of the query with key `(sample, d)` is the inner model's draw
    /// `(sample, d * draws + j)`, so every query gets draws of its own.
    fn value_and_grad(
        &self,
        images: Tensor<4>,
        keys: &[DrawKey],
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        let keys_of = |j: usize| -> Vec<DrawKey> {
            keys.iter()
                .map(|key| DrawKey {
                    sample: key.sample,
                    draw: key
                        .draw
                        .wrapping_mul(self.draws as u64)
                        .wrapping_add(j as u64),
                })
                .collect()
        };
        let mut total = self
            .inner
            .value_and_grad(images.clone(), &keys_of(0), objective);
        for j in 1..self.draws {
            let draw = self
                .inner
                .value_and_grad(images.clone(), &keys_of(j), objective);
            total.logits = total.logits + draw.logits;
            total.values = total.values + draw.values;
            total.grad = total.grad + draw.grad;
        }
        let scale = 1.0 / self.draws as f32;
        ValueAndGrad {
            logits: total.logits.mul_scalar(scale),
            values: total.values.mul_scalar(scale),
            grad: total.grad.mul_scalar(scale),
        }
    }
}
