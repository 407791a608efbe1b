//! Free adversarial training: each minibatch is replayed `m` times; every replay is one forward
//! and backward pass that both steps the weights and, through the same backward, moves a
//! perturbation kept across replays and minibatches by `eps * sign(grad)` inside the Linf ball.
//! Shafahi, Najibi, Ghiasi, Xu, Dickerson, Studer, Davis, Taylor & Goldstein, "Adversarial
//! Training for Free!", NeurIPS 2019.
//!
//! As the reference (ashafahi/free_adv_train): m = 8, eps 8/255, the perturbation starts at zero
//! and is never reset; the perturbed image is clipped to the box. One epoch here is one pass
//! over the data with `m` optimizer steps per minibatch, so divide the epochs by `m` to match a
//! standard run's number of steps (the reference counts steps, replays included).

use adv_core::burn::tensor::Tensor;
use adv_core::burn::tensor::Gradients;
use adv_core::Norm;

use crate::objective::configure;
use crate::{DefenseError, Objective, ObjectiveInfo, Result, StepContext, StepLoss, smoothed_cross_entropy};

adv_core::options! {
    /// Configuration of [`FreeAt`].
    pub struct FreeAtConfig {
        /// Radius (Linf) of the perturbation.
        eps: f32 [Domain::Positive, Label::Value] = 8.0 / 255.0,
        /// Replays of each minibatch (m).
        replays: usize [Domain::AtLeast(1.0), Label::Changed] = 8,
    }
}

/// Free adversarial training.
pub struct FreeAt {
    eps: f32,
    replays: usize,
    /// The perturbation, `[batch, c, h, w]`, kept across replays and minibatches.
    delta: Option<Tensor<4>>,
    /// The perturbation leaf of the current replay, whose gradient moves `delta`.
    leaf: Option<Tensor<4>>,
}

impl FreeAtConfig {
    /// The objective.
    pub fn init(&self) -> Result<FreeAt> {
        Ok(FreeAt {
            eps: self.eps,
            replays: self.replays,
            delta: None,
            leaf: None,
        })
    }
}

pub(crate) static INFO: ObjectiveInfo = ObjectiveInfo {
    name: "free-at",
    aliases: &["free"],
    paper: "Shafahi et al., NeurIPS 2019",
    config: adv_core::ConfigFns::of::<FreeAtConfig>(),
    build: |settings| Ok(Box::new(configure::<FreeAtConfig>("free-at", settings)?.init()?)),
};

pub(crate) const OBJECTIVES: &[&ObjectiveInfo] = &[&INFO];

impl Objective for FreeAt {
    fn info(&self) -> &'static ObjectiveInfo {
        &INFO
    }

    fn replays(&self) -> usize {
        self.replays
    }

    fn radius(&self) -> Option<(Norm, f32)> {
        Some((Norm::Linf, self.eps))
    }

    fn loss(
        &mut self,
        model: &adv_models::Model,
        batch: &adv_core::Batch,
        step: &StepContext,
    ) -> Result<StepLoss> {
        let dims = batch.images.dims();
        let n = dims[0];
        let images = batch.images.clone().without_autodiff();
        let delta = match self.delta.take() {
            Some(delta) if delta.dims()[1..] == dims[1..] && delta.dims()[0] >= n => delta,
            Some(delta) if delta.dims()[1..] != dims[1..] => {
                return Err(DefenseError::InvalidConfig(format!(
                    "free-at: images of shape {:?} after {:?}",
                    &dims[1..],
                    &delta.dims()[1..]
                )));
            }
            _ => images.zeros_like(),
        };
        let leaf = delta.clone().narrow(0, 0, n).autodiff().require_grad();
        self.delta = Some(delta);
        self.leaf = Some(leaf.clone());
        let perturbed = (images + leaf).clamp(0.0, 1.0);
        let logits = model.forward(perturbed);
        Ok(StepLoss {
            loss: smoothed_cross_entropy(logits.clone(), batch.labels.clone(), step.label_smoothing),
            logits,
        })
    }

    /// The perturbation, its values as f32 bits (exact through JSON).
    fn save_state(&self) -> Result<Option<serde_json::Value>> {
        Ok(self.delta.as_ref().map(|delta| {
            let bits: Vec<u32> = adv_core::to_floats(delta.clone())
                .into_iter()
                .map(f32::to_bits)
                .collect();
            serde_json::json!({ "shape": delta.dims(), "bits": bits })
        }))
    }

    fn load_state(&mut self, state: serde_json::Value, device: &adv_core::burn::tensor::Device) -> Result<()> {
        let bad = || DefenseError::InvalidConfig("free-at: a damaged checkpoint state".into());
        let shape: [usize; 4] = serde_json::from_value(state["shape"].clone()).map_err(|_| bad())?;
        let bits: Vec<u32> = serde_json::from_value(state["bits"].clone()).map_err(|_| bad())?;
        if bits.len() != shape.iter().product::<usize>() {
            return Err(bad());
        }
        let values = bits.into_iter().map(f32::from_bits).collect();
        self.delta = Some(adv_core::floats_from(values, shape, &device.clone().inner()));
        Ok(())
    }

    fn after_backward(&mut self, grads: &Gradients, step: &StepContext) -> Result<()> {
        let (Some(leaf), Some(delta)) = (self.leaf.take(), self.delta.take()) else {
            return Ok(());
        };
        let n = leaf.dims()[0];
        let eps = self.eps * step.eps_scale;
        let grad = leaf
            .grad(grads)
            .unwrap_or_else(|| leaf.clone().inner().zeros_like());
        let moved = (delta.clone().narrow(0, 0, n) + grad.sign().mul_scalar(eps)).clamp(-eps, eps);
        let total = delta.dims()[0];
        self.delta = Some(if n == total {
            moved
        } else {
            Tensor::cat(vec![moved, delta.narrow(0, n, total - n)], 0)
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::burn::tensor::Device;
    use adv_models::ModelConfig;

    /// The kept perturbation never leaves the Linf ball, and the perturbed images stay in the box.
    #[test]
    fn the_perturbation_stays_in_the_ball() {
        let device = Device::default().autodiff();
        let data = adv_core::data::embedded_digits().take(40);
        let model = ModelConfig::from_name("mlp", data.shape(), 10)
            .unwrap()
            .init(&device)
            .unwrap();
        let mut free = FreeAtConfig { eps: 0.05, replays: 3 }.init().unwrap();
        for (k, chunk) in [(0usize, 32usize), (32, 8)].into_iter().enumerate() {
            let batch = data.batch(chunk.0, chunk.0 + chunk.1, &device);
            for replay in 0..3 {
                let step = StepContext {
                    epoch: 0,
                    epochs: 1,
                    step: k * 3 + replay,
                    seed: 0,
                    device: &device,
                    eps_scale: 1.0,
                    label_smoothing: 0.0,
                };
                let loss = free.loss(&model, &batch, &step).unwrap();
                let grads = loss.loss.backward();
                free.after_backward(&grads, &step).unwrap();
                let delta = adv_core::to_floats(free.delta.clone().unwrap());
                assert!(delta.iter().all(|v| v.abs() <= 0.05 + 1e-7));
                assert!(delta.iter().any(|v| v.abs() > 0.0), "the perturbation moves");
            }
        }
        // The second, smaller minibatch reused the first rows and kept the others.
        assert_eq!(free.delta.as_ref().unwrap().dims()[0], 32);
    }
}
