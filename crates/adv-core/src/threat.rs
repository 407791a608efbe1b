//! The threat model: what the attacker may change, towards what goal, knowing what.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{Bounds, CoreError, Norm, Result};

/// What the attacker tries to achieve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "snake_case",
    tag = "kind",
    content = "targets",
    deny_unknown_fields
)]
pub enum Goal {
    /// Any wrong prediction.
    Untargeted,
    /// The prediction must be the chosen target class.
    Targeted(TargetSelection),
    /// Steer towards the target class but count any wrong prediction as success
    /// (ARES's `tm` goal).
    #[serde(alias = "targeted-or-misclassified")]
    TargetedOrMisclassified(TargetSelection),
}

impl Goal {
    /// How targets are chosen, for the goals that have targets.
    pub fn target_selection(&self) -> Option<TargetSelection> {
        match self {
            Goal::Untargeted => None,
            Goal::Targeted(selection) | Goal::TargetedOrMisclassified(selection) => {
                Some(*selection)
            }
        }
    }

    /// The name used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Goal::Untargeted => "untargeted",
            Goal::Targeted(_) => "targeted",
            Goal::TargetedOrMisclassified(_) => "targeted-or-misclassified",
        }
    }
}

/// How the target class of each sample is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSelection {
    /// A uniformly random class other than the true one (seeded per sample).
    Random,
    /// The class the model finds least likely on the clean input.
    #[serde(alias = "least-likely")]
    LeastLikely,
    /// The next class: `(label + 1) % classes`.
    Next,
    /// Always this class (samples of that class keep it and cannot succeed).
    Fixed(usize),
}

/// What the attacker knows of the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Knowledge {
    /// Architecture, weights and gradients.
    #[default]
    WhiteBox,
    /// Only a surrogate model; examples are transferred.
    Transfer,
    /// Output scores (logits or probabilities) for chosen queries.
    ScoreBased,
    /// Only the predicted label for chosen queries.
    DecisionBased,
}

/// A cap on the attacker's effort.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Model queries (forward passes per sample).
    Queries(u64),
    /// Iterations of an iterative attack.
    Iterations(u64),
}

/// The full threat model of an evaluation: norm, radius, input box, goal, knowledge, budget.
///
/// Built through [`ThreatModel::new`] and the `with_*` methods, all of which validate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThreatModel {
    /// The norm the perturbation is measured in.
    pub norm: Norm,
    /// The radius of the perturbation ball.
    pub epsilon: f32,
    /// The box every input must stay in.
    pub bounds: Bounds,
    /// What counts as success.
    pub goal: Goal,
    /// What the attacker knows.
    pub knowledge: Knowledge,
    /// Optional cap on queries or iterations.
    pub budget: Option<Budget>,
}

impl ThreatModel {
    /// An untargeted white-box threat model in the `[0, 1]` box.
    pub fn new(norm: Norm, epsilon: f32) -> Result<Self> {
        Ok(Self {
            norm,
            epsilon: check_epsilon(epsilon)?,
            bounds: Bounds::default(),
            goal: Goal::Untargeted,
            knowledge: Knowledge::WhiteBox,
            budget: None,
        })
    }

    /// Replaces the radius.
    pub fn with_epsilon(mut self, epsilon: f32) -> Result<Self> {
        self.epsilon = check_epsilon(epsilon)?;
        Ok(self)
    }

    /// Replaces the input box.
    pub fn with_bounds(mut self, lower: f32, upper: f32) -> Result<Self> {
        self.bounds = Bounds::new(lower, upper)?;
        Ok(self)
    }

    /// Replaces the goal.
    pub fn with_goal(mut self, goal: Goal) -> Self {
        self.goal = goal;
        self
    }

    /// Replaces the attacker knowledge.
    pub fn with_knowledge(mut self, knowledge: Knowledge) -> Self {
        self.knowledge = knowledge;
        self
    }

    /// Sets a query or iteration budget (zero is an error).
    pub fn with_budget(mut self, budget: Budget) -> Result<Self> {
        match budget {
            Budget::Queries(0) => return Err(CoreError::ZeroBudget("query")),
            Budget::Iterations(0) => return Err(CoreError::ZeroBudget("iteration")),
            _ => {}
        }
        self.budget = Some(budget);
        Ok(self)
    }

    /// Moves `x_adv` into the allowed region around `x0`: the ball of radius `eps[i]` per sample,
    /// then the input box. Clipping into the box only shrinks each coordinate of the
    /// perturbation towards zero, so the result stays inside the ball.
    pub fn project(&self, x_adv: Tensor<4>, x0: Tensor<4>, eps: Tensor<1>) -> Tensor<4> {
        let delta = self.norm.project(x_adv - x0.clone(), eps);
        self.bounds.clip(x0 + delta)
    }
}

fn check_epsilon(epsilon: f32) -> Result<f32> {
    if epsilon.is_finite() && epsilon >= 0.0 {
        Ok(epsilon)
    } else {
        Err(CoreError::InvalidEpsilon(epsilon))
    }
}

/// Checks a whole list of radii, as given on a command line or in a suite.
pub fn check_epsilons(epsilons: &[f32]) -> Result<()> {
    if epsilons.is_empty() {
        return Err(CoreError::InvalidArgument("no epsilon given".into()));
    }
    epsilons
        .iter()
        .try_for_each(|&e| check_epsilon(e).map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_validates() {
        assert!(ThreatModel::new(Norm::Linf, 0.0).is_ok());
        assert!(matches!(
            ThreatModel::new(Norm::Linf, -0.1),
            Err(CoreError::InvalidEpsilon(_))
        ));
        assert!(ThreatModel::new(Norm::L2, f32::INFINITY).is_err());
        let threat = ThreatModel::new(Norm::L2, 0.5).unwrap();
        assert!(threat.clone().with_bounds(1.0, 0.0).is_err());
        assert!(threat.clone().with_budget(Budget::Queries(0)).is_err());
        assert!(threat.clone().with_budget(Budget::Iterations(0)).is_err());
        assert!(threat.with_budget(Budget::Queries(5000)).is_ok());
        assert!(check_epsilons(&[]).is_err());
        assert!(check_epsilons(&[0.1, f32::NAN]).is_err());
    }

    #[test]
    fn threat_model_round_trips_through_json() {
        let threat = ThreatModel::new(Norm::L2, 0.5)
            .unwrap()
            .with_goal(Goal::Targeted(TargetSelection::Fixed(3)))
            .with_knowledge(Knowledge::DecisionBased)
            .with_budget(Budget::Queries(1000))
            .unwrap();
        let json = serde_json::to_string(&threat).unwrap();
        assert_eq!(serde_json::from_str::<ThreatModel>(&json).unwrap(), threat);
    }
}
