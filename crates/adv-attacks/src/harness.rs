//! The harness around every attack: picks the samples worth attacking, chooses targets,
//! projects the result into the threat model, and decides success with the model's own
//! predictions on the returned examples.

use adv_core::burn::tensor::ops::IndexingUpdateOp;
use adv_core::burn::tensor::{Int, Tensor};
use adv_core::{
    Batch, Classifier, Criterion, Goal, TargetSelection, ThreatModel, check_epsilons, floats_from,
    ints_from, sample_rng, to_bools, to_floats, to_ints,
};
use adv_core::burn::tensor::Device;

use crate::{Attack, AttackError, AttackInput, Result, StepObserver};

/// Settings of one harnessed attack run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Seed of every random choice (random starts, random targets).
    pub seed: u64,
    /// Logit margin an example needs to count as adversarial.
    pub confidence: f32,
    /// Samples to consider at all (`None`: every sample). Samples already broken by an earlier
    /// attack are left out this way, as AutoAttack does.
    pub candidates: Option<Vec<bool>>,
}

/// The result of attacking one batch.
#[derive(Clone, Debug)]
pub struct BatchOutcome {
    /// The examples `[n, c, h, w]`: adversarial candidates for attacked samples, the clean
    /// image for the others.
    pub adversarials: Tensor<4>,
    /// Whether the clean image is classified correctly.
    pub clean_correct: Vec<bool>,
    /// Whether the sample was attacked (clean-correct, a candidate, and not already on target).
    pub attacked: Vec<bool>,
    /// Whether the returned example is adversarial under the criterion.
    pub success: Vec<bool>,
    /// Norm of the perturbation of each returned example (0 where not attacked).
    pub distances: Vec<f32>,
    /// Target classes, for the targeted goals.
    pub targets: Option<Vec<usize>>,
}

impl BatchOutcome {
    /// Clean-correct samples the attack did not break.
    pub fn robust(&self) -> Vec<bool> {
        self.clean_correct
            .iter()
            .zip(&self.success)
            .map(|(&correct, &broken)| correct && !broken)
            .collect()
    }
}

/// Runs `attack` on `batch` under `threat` with one radius for all samples (`epsilons` of
/// length 1) or one per sample.
pub fn attack_batch(
    attack: &dyn Attack,
    model: &dyn Classifier,
    batch: &Batch,
    threat: &ThreatModel,
    epsilons: &[f32],
    options: &RunOptions,
    observer: &mut dyn StepObserver,
) -> Result<BatchOutcome> {
    let n = batch.ids.len();
    let epsilons = per_sample_epsilons(epsilons, n)?;
    if !attack.norms().contains(&threat.norm) {
        return Err(AttackError::UnsupportedNorm {
            attack: attack.name().to_owned(),
            norm: threat.norm,
            supported: attack.norms().iter().map(|norm| norm.name()).collect::<Vec<_>>().join(", "),
        });
    }
    if let Some(candidates) = &options.candidates
        && candidates.len() != n
    {
        return Err(AttackError::Mismatch(format!(
            "{} candidate flags for a batch of {n}",
            candidates.len()
        )));
    }
    let device = batch.images.device();
    let clean_logits = model.forward(batch.images.clone());
    let labels = to_ints(batch.labels.clone());
    let predictions = to_ints(clean_logits.clone().argmax(1).reshape([n]));
    let clean_correct: Vec<bool> = predictions.iter().zip(&labels).map(|(p, y)| p == y).collect();
    let targets = choose_targets(threat.goal, &labels, clean_logits, &batch.ids, options.seed)?;
    let attacked: Vec<bool> = (0..n)
        .map(|i| {
            clean_correct[i]
                && options.candidates.as_ref().is_none_or(|c| c[i])
                && targets.as_ref().is_none_or(|t| t[i] as i64 != labels[i])
        })
        .collect();

    let mut outcome = BatchOutcome {
        adversarials: batch.images.clone(),
        clean_correct,
        attacked: attacked.clone(),
        success: vec![false; n],
        distances: vec![0.0; n],
        targets: targets.clone(),
    };
    let chosen: Vec<usize> = (0..n).filter(|&i| attacked[i]).collect();
    if chosen.is_empty() {
        return Ok(outcome);
    }
    let index = ints_from(&chosen.iter().map(|&i| i as i64).collect::<Vec<_>>(), &device);
    let x0 = batch.images.clone().select(0, index.clone());
    let chosen_eps: Vec<f32> = chosen.iter().map(|&i| epsilons[i]).collect();
    let chosen_ids: Vec<u64> = chosen.iter().map(|&i| batch.ids[i]).collect();
    let input = AttackInput {
        images: x0.clone(),
        labels: batch.labels.clone().select(0, index.clone()),
        targets: targets
            .as_ref()
            .map(|t| pick(t, &chosen, &device)),
        epsilons: floats_from(chosen_eps.clone(), [chosen.len()], &device),
        epsilon_values: &chosen_eps,
        sample_ids: &chosen_ids,
        threat,
        criterion: Criterion::new(threat.goal).with_confidence(options.confidence)?,
        seed: options.seed,
    };

    let candidates = attack.run(model, &input, observer)?;
    if candidates.dims() != x0.dims() {
        return Err(AttackError::Mismatch(format!(
            "{} returned examples of shape {:?} for inputs of shape {:?}",
            attack.name(),
            candidates.dims(),
            x0.dims()
        )));
    }
    if !to_bools(candidates.clone().is_finite().all())[0] {
        return Err(AttackError::NonFinite(attack.name().to_owned()));
    }
    let x_adv = input.project(candidates);
    let success = to_bools(input.is_adversarial(model.forward(x_adv.clone()))?);
    let delta = x_adv - x0;
    let distances = to_floats(threat.norm.norms(delta.clone()));
    for (k, &i) in chosen.iter().enumerate() {
        outcome.success[i] = success[k];
        outcome.distances[i] = distances[k];
    }
    outcome.adversarials = batch
        .images
        .clone()
        .select_assign(0, index, delta, IndexingUpdateOp::Add);
    Ok(outcome)
}

fn per_sample_epsilons(epsilons: &[f32], n: usize) -> Result<Vec<f32>> {
    check_epsilons(epsilons)?;
    match epsilons.len() {
        1 => Ok(vec![epsilons[0]; n]),
        len if len == n => Ok(epsilons.to_vec()),
        len => Err(AttackError::Mismatch(format!(
            "{len} epsilons for a batch of {n} (give one, or one per sample)"
        ))),
    }
}

fn pick(values: &[usize], chosen: &[usize], device: &Device) -> Tensor<1, Int> {
    ints_from(&chosen.iter().map(|&i| values[i] as i64).collect::<Vec<_>>(), device)
}

/// Target classes of the targeted goals, chosen as the goal says.
fn choose_targets(
    goal: Goal,
    labels: &[i64],
    clean_logits: Tensor<2>,
    ids: &[u64],
    seed: u64,
) -> Result<Option<Vec<usize>>> {
    let Some(selection) = goal.target_selection() else {
        return Ok(None);
    };
    let classes = clean_logits.dims()[1];
    let targets = match selection {
        TargetSelection::Fixed(class) if class >= classes => {
            return Err(AttackError::Mismatch(format!(
                "target class {class} does not exist: the model has {classes} classes"
            )));
        }
        TargetSelection::Fixed(class) => vec![class; labels.len()],
        TargetSelection::Next => labels.iter().map(|&y| (y as usize + 1) % classes).collect(),
        TargetSelection::LeastLikely => to_ints(clean_logits.argmin(1).reshape([labels.len()]))
            .into_iter()
            .map(|t| t as usize)
            .collect(),
        TargetSelection::Random => {
            use rand::Rng;
            labels
                .iter()
                .zip(ids)
                .map(|(&y, &id)| {
                    // A uniform class among the others: draw from classes - 1 and skip the label.
                    let draw = sample_rng(seed, id, u64::MAX).random_range(0..classes - 1);
                    if draw >= y as usize { draw + 1 } else { draw }
                })
                .collect()
        }
    };
    Ok(Some(targets))
}
