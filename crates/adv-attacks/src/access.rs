//! The three ways an attack may see a model, each a type: [`WhiteBox`] (logits and input
//! gradients), [`ScoreOracle`] (logits, no gradients) and [`DecisionOracle`] (top-1 labels). An
//! attack names the one it is written against ([`crate::Iterative::Access`]) and receives
//! nothing more: a score-based attack holds no object that could give it a gradient.
//!
//! Every view counts, per sample, the queries (rows sent through the model) and gradients the
//! attack spends, refuses a query that would take a sample past the threat model's query
//! budget, and keys each row's random draw by its sample and its query count, so that a
//! randomized model gives a sample the same draws in any batch. The harness's own calls (the
//! clean pass, the final verification) are billed apart.
//!
//! A decision oracle gives labels and nothing else; a score oracle gives no gradient:
//!
//! ```compile_fail
//! fn scores(oracle: &adv_attacks::DecisionOracle, x: adv_core::burn::tensor::Tensor<4>) {
//!     let _ = oracle.scores(x);
//! }
//! ```
//!
//! ```compile_fail
//! fn gradient(oracle: &adv_attacks::ScoreOracle, x: adv_core::burn::tensor::Tensor<4>) {
//!     let _ = oracle.value_and_grad(x, &|z| z.sum_dim(1).squeeze_dim(1));
//! }
//! ```

use std::cell::RefCell;

use adv_core::burn::tensor::{Int, Tensor};
use adv_core::{Classifier, CostCounts, DrawKey, Knowledge, ValueAndGrad};

use crate::{AttackError, Result};

/// Marks one of the three views; [`crate::Iterative::Access`] names it.
pub trait Access: sealed::Sealed + 'static {
    /// What the attacker must know of the model to use this view.
    const KNOWLEDGE: Knowledge;
    /// The view itself.
    type View<'a>;
    /// The view of `meter` for the rows `rows` (global row indices, in the order of the
    /// tensors the attack passes).
    #[doc(hidden)]
    fn view<'a>(meter: &'a Meter<'a>, rows: &'a [usize]) -> Self::View<'a>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Gradients {}
    impl Sealed for super::Scores {}
    impl Sealed for super::Decisions {}
}

/// White-box access: logits and input gradients ([`WhiteBox`]).
pub struct Gradients;
/// Score-based access: logits for chosen queries ([`ScoreOracle`]).
pub struct Scores;
/// Decision-based access: top-1 labels for chosen queries ([`DecisionOracle`]).
pub struct Decisions;

impl Access for Gradients {
    const KNOWLEDGE: Knowledge = Knowledge::WhiteBox;
    type View<'a> = WhiteBox<'a>;
    fn view<'a>(meter: &'a Meter<'a>, rows: &'a [usize]) -> WhiteBox<'a> {
        WhiteBox { meter, rows }
    }
}

impl Access for Scores {
    const KNOWLEDGE: Knowledge = Knowledge::ScoreBased;
    type View<'a> = ScoreOracle<'a>;
    fn view<'a>(meter: &'a Meter<'a>, rows: &'a [usize]) -> ScoreOracle<'a> {
        ScoreOracle { meter, rows }
    }
}

impl Access for Decisions {
    const KNOWLEDGE: Knowledge = Knowledge::DecisionBased;
    type View<'a> = DecisionOracle<'a>;
    fn view<'a>(meter: &'a Meter<'a>, rows: &'a [usize]) -> DecisionOracle<'a> {
        DecisionOracle { meter, rows }
    }
}

/// How much the attacker knows, as a rank: an attack needing rank `r` runs under knowledge of
/// rank `r` or more. Transfer attackers cannot query the model at all.
pub(crate) fn knowledge_rank(knowledge: Knowledge) -> u8 {
    match knowledge {
        Knowledge::Transfer => 0,
        Knowledge::DecisionBased => 1,
        Knowledge::ScoreBased => 2,
        Knowledge::WhiteBox => 3,
    }
}

/// Draw indices of the harness's own calls, apart from the attack's.
const HARNESS_DRAWS: u64 = 1 << 63;
/// Draw indices of the verdicts the harness takes for white-box attacks (not queries).
const VERDICT_DRAWS: u64 = 1 << 62;

/// The per-sample counts of one session.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counts {
    /// Model rows the attack sent per sample (its queries), verdicts included.
    pub queries: Vec<u64>,
    /// Input gradients the attack took per sample.
    pub gradients: Vec<u64>,
    /// Harness calls per sample (clean pass, final verification).
    harness_draws: Vec<u64>,
    /// The attack's work, calls and rows.
    pub attack: CostCounts,
    /// The harness's own work.
    pub harness: CostCounts,
}

/// The counter between the attack and the model: every view goes through it.
pub struct Meter<'a> {
    model: &'a dyn Classifier,
    ids: Vec<u64>,
    budget: Option<u64>,
    counts: RefCell<Counts>,
}

impl<'a> Meter<'a> {
    pub(crate) fn new(model: &'a dyn Classifier, ids: Vec<u64>, budget: Option<u64>) -> Self {
        let rows = ids.len();
        Self {
            model,
            ids,
            budget,
            counts: RefCell::new(Counts {
                queries: vec![0; rows],
                gradients: vec![0; rows],
                harness_draws: vec![0; rows],
                ..Counts::default()
            }),
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        self.counts.borrow().clone()
    }

    /// Queries `row` may still make (`None`: no budget).
    pub(crate) fn remaining(&self, row: usize) -> Option<u64> {
        self.budget
            .map(|budget| budget.saturating_sub(self.counts.borrow().queries[row]))
    }

    /// Bills one query per entry of `owners` (global rows) and returns their draw keys; an
    /// error if a row would pass its budget.
    fn bill(&self, owners: &[usize], gradient: bool) -> Result<Vec<DrawKey>> {
        let mut counts = self.counts.borrow_mut();
        let mut keys = Vec::with_capacity(owners.len());
        for &row in owners {
            let used = counts.queries[row];
            if let Some(budget) = self.budget
                && used >= budget
            {
                return Err(AttackError::BudgetExhausted {
                    sample: self.ids[row],
                    budget,
                });
            }
            keys.push(DrawKey {
                sample: self.ids[row],
                draw: used,
            });
            counts.queries[row] += 1;
            if gradient {
                counts.gradients[row] += 1;
            }
        }
        counts.attack.forward_calls += 1;
        counts.attack.forward_samples += owners.len() as u64;
        if gradient {
            counts.attack.backward_calls += 1;
            counts.attack.backward_samples += owners.len() as u64;
        }
        Ok(keys)
    }

    fn check_rows(x: &Tensor<4>, owners: &[usize]) -> Result<()> {
        let rows = x.dims()[0];
        if rows != owners.len() {
            return Err(AttackError::Mismatch(format!(
                "a query of {rows} images names {} owners",
                owners.len()
            )));
        }
        Ok(())
    }

    fn owners(rows: &[usize], local: &[usize]) -> Result<Vec<usize>> {
        local
            .iter()
            .map(|&k| {
                rows.get(k).copied().ok_or_else(|| {
                    AttackError::Mismatch(format!(
                        "query owner {k} is not one of the {} rows",
                        rows.len()
                    ))
                })
            })
            .collect()
    }

    /// The attack's forward pass for `owners`.
    pub(crate) fn forward(&self, x: Tensor<4>, owners: &[usize]) -> Result<Tensor<2>> {
        Self::check_rows(&x, owners)?;
        let keys = self.bill(owners, false)?;
        Ok(self
            .model
            .forward_keyed(x.without_autodiff(), &keys)
            .without_autodiff())
    }

    fn value_and_grad(
        &self,
        x: Tensor<4>,
        owners: &[usize],
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> Result<ValueAndGrad> {
        Self::check_rows(&x, owners)?;
        let keys = self.bill(owners, true)?;
        Ok(self
            .model
            .value_and_grad(x.without_autodiff(), &keys, objective))
    }

    /// The harness's verdict on a white-box attack's iterate: billed to the attack's cost, not
    /// counted as the rows' queries (a white-box attacker sees its logits for free), so that a
    /// sample's query count does not depend on how the harness chose to judge it.
    pub(crate) fn verdict_forward(&self, x: Tensor<4>, rows: &[usize]) -> Result<Tensor<2>> {
        Self::check_rows(&x, rows)?;
        let keys: Vec<DrawKey> = {
            let mut counts = self.counts.borrow_mut();
            counts.attack.forward_calls += 1;
            counts.attack.forward_samples += rows.len() as u64;
            rows.iter()
                .map(|&row| DrawKey {
                    sample: self.ids[row],
                    draw: VERDICT_DRAWS + counts.queries[row],
                })
                .collect()
        };
        Ok(self
            .model
            .forward_keyed(x.without_autodiff(), &keys)
            .without_autodiff())
    }

    /// The harness's own forward pass for global rows `rows`, billed apart.
    pub(crate) fn harness_forward(&self, x: Tensor<4>, rows: &[usize]) -> Result<Tensor<2>> {
        Self::check_rows(&x, rows)?;
        let keys = {
            let mut counts = self.counts.borrow_mut();
            counts.harness.forward_calls += 1;
            counts.harness.forward_samples += rows.len() as u64;
            rows.iter()
                .map(|&row| {
                    let draw = HARNESS_DRAWS + counts.harness_draws[row];
                    counts.harness_draws[row] += 1;
                    DrawKey {
                        sample: self.ids[row],
                        draw,
                    }
                })
                .collect::<Vec<_>>()
        };
        Ok(self.model.forward_keyed(x.without_autodiff(), &keys))
    }
}

/// White-box access to the rows of a step: logits and input gradients.
pub struct WhiteBox<'a> {
    meter: &'a Meter<'a>,
    rows: &'a [usize],
}

impl WhiteBox<'_> {
    /// Logits `[rows, classes]` at `x` (`[rows, c, h, w]`, one image per row).
    pub fn logits(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        self.meter.forward(x, self.rows)
    }

    /// Logits at several images per row: `owners[k]` is the row (`0..rows`) of image `k`.
    pub fn logits_of(&self, x: Tensor<4>, owners: &[usize]) -> Result<Tensor<2>> {
        self.meter.forward(x, &Meter::owners(self.rows, owners)?)
    }

    /// Logits, the per-row `objective` and its input gradient at `x` (one image per row).
    pub fn value_and_grad(
        &self,
        x: Tensor<4>,
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> Result<ValueAndGrad> {
        self.meter.value_and_grad(x, self.rows, objective)
    }

    /// As [`WhiteBox::value_and_grad`] with several images per row (`owners` as in
    /// [`WhiteBox::logits_of`]).
    pub fn value_and_grad_of(
        &self,
        x: Tensor<4>,
        owners: &[usize],
        objective: &dyn Fn(Tensor<2>) -> Tensor<1>,
    ) -> Result<ValueAndGrad> {
        self.meter
            .value_and_grad(x, &Meter::owners(self.rows, owners)?, objective)
    }
}

/// Score-based access to the rows of a step: logits for chosen queries, never a gradient
/// (inputs and outputs are cut from any autodiff graph).
pub struct ScoreOracle<'a> {
    meter: &'a Meter<'a>,
    rows: &'a [usize],
}

impl ScoreOracle<'_> {
    /// Logits `[rows, classes]` at `x`, one query per row.
    pub fn scores(&self, x: Tensor<4>) -> Result<Tensor<2>> {
        self.meter.forward(x, self.rows)
    }

    /// Logits at several queries per row: `owners[k]` is the row (`0..rows`) of query `k`.
    pub fn scores_of(&self, x: Tensor<4>, owners: &[usize]) -> Result<Tensor<2>> {
        self.meter.forward(x, &Meter::owners(self.rows, owners)?)
    }

    /// Queries each row may still make (`None`: no budget).
    pub fn remaining(&self) -> Vec<Option<u64>> {
        self.rows
            .iter()
            .map(|&row| self.meter.remaining(row))
            .collect()
    }
}

/// Decision-based access to the rows of a step: the top-1 label for chosen queries.
pub struct DecisionOracle<'a> {
    meter: &'a Meter<'a>,
    rows: &'a [usize],
}

impl DecisionOracle<'_> {
    /// The predicted label `[rows]` at `x`, one query per row.
    pub fn labels(&self, x: Tensor<4>) -> Result<Tensor<1, Int>> {
        Ok(top1(self.meter.forward(x, self.rows)?))
    }

    /// Labels of several queries per row: `owners[k]` is the row (`0..rows`) of query `k`.
    pub fn labels_of(&self, x: Tensor<4>, owners: &[usize]) -> Result<Tensor<1, Int>> {
        Ok(top1(
            self.meter.forward(x, &Meter::owners(self.rows, owners)?)?,
        ))
    }

    /// Queries each row may still make (`None`: no budget).
    pub fn remaining(&self) -> Vec<Option<u64>> {
        self.rows
            .iter()
            .map(|&row| self.meter.remaining(row))
            .collect()
    }
}

fn top1(logits: Tensor<2>) -> Tensor<1, Int> {
    let n = logits.dims()[0];
    logits.argmax(1).reshape([n])
}
