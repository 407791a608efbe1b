//! The attack trait: an attack writes only [`Attack::run`]; the harness does the rest.

use adv_core::burn::tensor::{Bool, Int, Tensor};
use adv_core::{Classifier, Criterion, Knowledge, Norm, ThreatModel};

use crate::Result;

/// What an attack receives for one batch: only the samples still worth attacking.
pub struct AttackInput<'a> {
    /// Clean images `[n, c, h, w]` inside the threat model's box.
    pub images: Tensor<4>,
    /// True labels `[n]`.
    pub labels: Tensor<1, Int>,
    /// Target labels `[n]` for the targeted goals.
    pub targets: Option<Tensor<1, Int>>,
    /// The radius of each sample's ball `[n]` (per-sample radii serve minimal-epsilon searches).
    pub epsilons: Tensor<1>,
    /// The same radii on the host.
    pub epsilon_values: &'a [f32],
    /// Each sample's index in its data set, which keys its random numbers.
    pub sample_ids: &'a [u64],
    /// Norm, box, goal and budget.
    pub threat: &'a ThreatModel,
    /// When an example counts as adversarial.
    pub criterion: Criterion,
    /// The run's seed.
    pub seed: u64,
}

impl AttackInput<'_> {
    /// Which samples `logits` (`[n, classes]`) make adversarial under the criterion.
    pub fn is_adversarial(&self, logits: Tensor<2>) -> Result<Tensor<1, Bool>> {
        Ok(self
            .criterion
            .is_adversarial(logits, self.labels.clone(), self.targets.as_ref())?)
    }

    /// `x_adv` moved into the threat model: each sample's ball, then the box.
    pub fn project(&self, x_adv: Tensor<4>) -> Tensor<4> {
        self.threat
            .project(x_adv, self.images.clone(), self.epsilons.clone())
    }
}

/// Told after every iteration of an iterative attack: feeds accuracy-vs-iterations curves.
pub trait StepObserver {
    /// `found[i]` says whether sample `i` of the attacked subset has been made adversarial by
    /// one of the iterates `0..=step` (`step = 0` is the starting point).
    fn on_step(&mut self, step: usize, found: &Tensor<1, Bool>);
}

/// An observer that ignores every step.
pub struct NoObserver;

impl StepObserver for NoObserver {
    fn on_step(&mut self, _step: usize, _found: &Tensor<1, Bool>) {}
}

/// An adversarial attack.
///
/// Implementations return candidate examples for every sample of `input`; the harness
/// ([`crate::attack_batch`]) selects the samples, projects the result into the threat model,
/// decides success with the model's own predictions and keeps the books.
pub trait Attack: Send + Sync {
    /// Short name used on the command line and in reports, e.g. `pgd`.
    fn name(&self) -> &'static str;

    /// The norms the attack is defined for.
    fn norms(&self) -> &'static [Norm];

    /// What the attack needs to know of the model.
    fn knowledge(&self) -> Knowledge {
        Knowledge::WhiteBox
    }

    /// Whether the attack looks for the smallest adversarial perturbation (DeepFool, C&W,
    /// FAB): then one run at a large radius gives every sample's minimal epsilon, with no
    /// search over radii.
    fn minimizes_distance(&self) -> bool {
        false
    }

    /// Candidate adversarial examples `[n, c, h, w]` for the samples of `input`.
    fn run(
        &self,
        model: &dyn Classifier,
        input: &AttackInput,
        observer: &mut dyn StepObserver,
    ) -> Result<Tensor<4>>;
}
