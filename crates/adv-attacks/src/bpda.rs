//! Backward Pass Differentiable Approximation: a classifier behind a non-differentiable (or
//! gradient-masking) preprocessing such as quantization or JPEG compression, whose gradient is
//! taken as if the preprocessing were the identity on the backward pass, or a differentiable
//! surrogate of it. Athalye, Carlini & Wagner, "Obfuscated Gradients Give a False Sense of
//! Security: Circumventing Defenses to Adversarial Examples", ICML 2018.
//!
//! [`Bpda`] is a [`Classifier`]: its forward pass is the defended model, `model(preprocess(x))`;
//! its gradient is the model's gradient at `preprocess(x)`, pulled back through the identity or
//! through the surrogate's autodiff. Every gradient attack takes it in place of the model, and
//! [`crate::Eot`] can wrap it for randomized preprocessings.
//!
//! ```
//! # use adv_core::Classifier;
//! # use adv_core::burn::tensor::Tensor;
//! # fn wrap(model: impl Classifier) {
//! // Bit-depth reduction to 8 levels: its gradient is zero almost everywhere.
//! let quantize = |x: Tensor<4>| x.mul_scalar(7.0).round().div_scalar(7.0);
//! let defended = adv_attacks::Bpda::new(model, quantize);
//! # }
//! ```

use adv_core::burn::tensor::Tensor;
use adv_core::{Classifier, DrawKey, ModelTraits, ValueAndGrad};

/// A differentiable stand-in for a preprocessing on the backward pass.
pub type Surrogate = Box<dyn Fn(Tensor<4>) -> Tensor<4> + Send + Sync>;

/// A classifier behind a preprocessing, differentiated with an approximate backward pass.
pub struct Bpda<C, P> {
    model: C,
    preprocess: P,
    surrogate: Option<Surrogate>,
}

impl<C, P> Bpda<C, P>
where
    C: Classifier,
    P: Fn(Tensor<4>) -> Tensor<4> + Send + Sync,
{
    /// `model` behind `preprocess`, with the identity as the backward pass of `preprocess`.
    pub fn new(model: C, preprocess: P) -> Self {
        Self {
            model,
            preprocess,
            surrogate: None,
        }
    }

    /// Uses the gradient of `surrogate` (a differentiable function close to the preprocessing)
    /// instead of the identity.
    pub fn with_surrogate(mut self, surrogate: Surrogate) -> Self {
        self.surrogate = Some(surrogate);
        self
    }
}

impl<C, P> Classifier for Bpda<C, P>
where
    C: Classifier,
    P: Fn(Tensor<4>) -> Tensor<4> + Send + Sync,
{
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.model.forward((self.preprocess)(images))
    }

    /// Differentiable through the approximate backward pass; randomized if the model is.
    fn traits(&self) -> ModelTraits {
        ModelTraits {
            differentiable: true,
            ..self.model.traits()
        }
    }

    fn forward_keyed(&self, images: Tensor<4>, keys: &[DrawKey]) -> Tensor<2> {
        self.model.forward_keyed((self.preprocess)(images), keys)
    }

    fn value_and_grad(
        &self,
        images: Tensor<4>,
        keys: &[DrawKey],
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> ValueAndGrad {
        let evaluated =
            self.model
                .value_and_grad((self.preprocess)(images.clone()), keys, objective);
        let grad = match &self.surrogate {
            None => evaluated.grad,
            Some(surrogate) => {
                // The vector-Jacobian product of the surrogate with the model's gradient.
                let input = images.autodiff().require_grad();
                let output = surrogate(input.clone());
                let grads = (output * evaluated.grad.clone()).sum().backward();
                input
                    .grad(&grads)
                    .unwrap_or_else(|| evaluated.grad.zeros_like())
            }
        };
        ValueAndGrad { grad, ..evaluated }
    }
}
