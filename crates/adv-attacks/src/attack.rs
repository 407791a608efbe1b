//! What an attack writes: its declaration ([`AttackInfo`]) and its update step
//! ([`Iterative::start`], [`Iterative::step`]). The harness ([`crate::Harness`]) keeps the
//! books: which rows are still attacked, the best example of each, when each first succeeded,
//! how many queries each used.

use adv_core::burn::tensor::kind::Basic;
use adv_core::burn::tensor::{Bool, Int, Tensor};
use adv_core::{ConfigFns, Knowledge, Norm, Setting};

use crate::access::Access;
use crate::session::{Context, Session};
use crate::{AttackError, Result};

/// An attack's declaration: everything the command line, suites, listings, docs and reports
/// know about it. One `static` per attack name, beside its algorithm.
pub struct AttackInfo {
    /// The name used on the command line and in reports, e.g. `pgd`.
    pub name: &'static str,
    /// Other names accepted on the command line.
    pub aliases: &'static [&'static str],
    /// The paper it implements.
    pub paper: &'static str,
    /// The norms it is defined for.
    pub norms: &'static [Norm],
    /// The model access it needs: white-box, scores or decisions.
    pub access: Knowledge,
    /// Whether it supports the targeted goals.
    pub targeted: bool,
    /// Whether it looks for the smallest adversarial perturbation (DeepFool, C&W, FAB): one
    /// run at a large radius then gives every sample's minimal epsilon.
    pub minimizes_distance: bool,
    /// Its options, from its config's [`adv_core::options!`] declaration.
    pub config: ConfigFns,
    /// Builds the attack from settings (an unknown option or a bad value is an error).
    pub build: fn(&[Setting]) -> Result<Box<dyn Attack>>,
}

impl std::fmt::Debug for AttackInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttackInfo")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AttackInfo {
    /// An error unless the attack is defined for `norm`.
    pub fn check_norm(&self, norm: Norm) -> Result<()> {
        if self.norms.contains(&norm) {
            return Ok(());
        }
        Err(AttackError::UnsupportedNorm {
            attack: self.name.to_owned(),
            norm,
            supported: self
                .norms
                .iter()
                .map(|n| n.name())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// An attack, ready to run on a [`Session`] (one batch under one threat model).
///
/// Every [`Iterative`] attack is an `Attack`; composite attacks such as AutoAttack implement
/// `run` by running their components on the same session.
pub trait Attack: Send + Sync {
    /// The attack's declaration.
    fn info(&self) -> &'static AttackInfo;

    /// Runs the attack on the session's rows.
    fn run(&self, session: &mut Session<'_>) -> Result<()>;
}

impl<A: Iterative> Attack for A {
    fn info(&self) -> &'static AttackInfo {
        Iterative::info(self)
    }

    fn run(&self, session: &mut Session<'_>) -> Result<()> {
        session.drive(self)
    }
}

/// How a step or a start tells the harness what the model said at an iterate, so that the
/// harness does not have to ask again.
pub enum Observed {
    /// Nothing: the harness asks the model itself when it needs a verdict.
    Nothing,
    /// The iterate is the clean image: the clean pass gave the verdict.
    Clean,
    /// The logits the attack obtained at the iterate (from its own queries).
    Logits(Tensor<2>),
    /// The top-1 labels the attack obtained at the iterate (decision-based attacks).
    Labels(Tensor<1, Int>),
}

/// The starting point of a run.
pub struct Start<S> {
    /// The attack's state for the run.
    pub state: S,
    /// The first iterate `[rows, c, h, w]`.
    pub iterate: Tensor<4>,
    /// What the model said at the first iterate, if the attack asked.
    pub observed: Observed,
}

/// The result of one update step.
pub struct Step {
    /// The next iterate `[rows, c, h, w]`.
    pub next: Tensor<4>,
    /// The logits at the step's input iterate, when the step computed them there (a gradient
    /// step at `x` does): the harness takes its verdict on `x` from them. Give them exactly
    /// when [`Iterative::observes_input`] says so.
    pub at_input: Option<Tensor<2>>,
    /// What the model said at `next`, when the step asked (a score-based search that queried
    /// its proposals does).
    pub at_next: Observed,
    /// The run is over (the attack converged); no further steps of this run.
    pub stop: bool,
}

impl Step {
    /// A step to `next` that observed nothing.
    pub fn to(next: Tensor<4>) -> Self {
        Self {
            next,
            at_input: None,
            at_next: Observed::Nothing,
            stop: false,
        }
    }

    /// A step to `next` with the logits it computed at its input.
    pub fn with_input_logits(next: Tensor<4>, logits: Tensor<2>) -> Self {
        Self {
            at_input: Some(logits),
            ..Self::to(next)
        }
    }
}

/// Where a step is: its run and its position, and, for attacks that ask for it, whether the
/// input iterate of each row is adversarial.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo<'a> {
    /// The run (restart, target class, search step), from 0.
    pub run: usize,
    /// The step within the run, from 0.
    pub step: usize,
    /// Per row, whether the input iterate fools the model (only when
    /// [`Iterative::needs_verdict`]).
    pub adversarial: Option<&'a [bool]>,
}

/// An iterative attack: a start and an update step per run, nothing else. The harness runs
/// `runs` runs of at most `steps` steps each, every run on the rows still being attacked;
/// between steps it judges each iterate, keeps each row's best example, and (when evaluating
/// robustness) drops the rows already fooled, so the attack's state shrinks with them.
pub trait Iterative: Send + Sync {
    /// The model access the attack is written against: [`crate::Gradients`],
    /// [`crate::Scores`] or [`crate::Decisions`].
    type Access: Access;
    /// The attack's state for one run, one entry per row (see [`Rows`]).
    type State: Rows;

    /// The attack's declaration.
    fn info(&self) -> &'static AttackInfo;

    /// Runs (restarts, target classes, binary-search steps) on `ctx`'s rows, at least 1.
    fn runs(&self, ctx: &Context) -> usize {
        let _ = ctx;
        1
    }

    /// Steps per run, at most.
    fn steps(&self) -> usize;

    /// Model queries one step makes per row, at most (budgets retire a row before a step it
    /// cannot pay for).
    fn queries_per_step(&self) -> u64 {
        1
    }

    /// Whether [`Step::at_input`] holds the logits at the step's input.
    fn observes_input(&self) -> bool {
        false
    }

    /// Whether the step needs to know if its input fools the model ([`StepInfo::adversarial`]).
    fn needs_verdict(&self) -> bool {
        false
    }

    /// Whether a row's run ends once it fools the model, whatever the mode (DeepFool stops at
    /// the boundary it crossed).
    fn stops_at_success(&self) -> bool {
        false
    }

    /// The start of run `run`; `previous` is the state the previous run ended with, on the
    /// rows still attacked.
    fn start(
        &self,
        ctx: &Context,
        model: &<Self::Access as Access>::View<'_>,
        run: usize,
        previous: Option<Self::State>,
    ) -> Result<Start<Self::State>>;

    /// One update from iterate `x` (`[rows, c, h, w]`, rows as in `ctx`).
    fn step(
        &self,
        ctx: &Context,
        model: &<Self::Access as Access>::View<'_>,
        state: &mut Self::State,
        x: Tensor<4>,
        info: StepInfo,
    ) -> Result<Step>;
}

/// The rows kept when the harness drops some: indices into the current rows, on the device
/// and on the host.
pub struct Keep {
    index: Tensor<1, Int>,
    rows: Vec<usize>,
}

impl Keep {
    pub(crate) fn new(rows: Vec<usize>, device: &adv_core::burn::tensor::Device) -> Self {
        let index =
            adv_core::ints_from(&rows.iter().map(|&r| r as i64).collect::<Vec<_>>(), device);
        Self { index, rows }
    }

    /// The kept rows, as indices into the rows before.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// The kept rows of a tensor whose first dimension is the rows.
    pub fn tensor<const D: usize, K: Basic>(&self, tensor: Tensor<D, K>) -> Tensor<D, K> {
        tensor.select(0, self.index.clone())
    }
}

/// State with one entry per row, which the harness narrows to the rows it keeps.
///
/// Implemented for tensors (rows first), `Vec`s (one element per row), `Option`s of either,
/// [`Shared`] (kept whole) and `()`; declare a state struct with [`row_state!`](crate::row_state)
/// to get it for the struct.
pub trait Rows {
    /// The state of the kept rows.
    fn select_rows(self, keep: &Keep) -> Self;
}

impl Rows for () {
    fn select_rows(self, _keep: &Keep) -> Self {}
}

impl<const D: usize> Rows for Tensor<D> {
    fn select_rows(self, keep: &Keep) -> Self {
        keep.tensor(self)
    }
}

impl<const D: usize> Rows for Tensor<D, Int> {
    fn select_rows(self, keep: &Keep) -> Self {
        keep.tensor(self)
    }
}

/// Selected through integers: flex's `select` on booleans returns a tensor its boolean
/// operations refuse.
impl<const D: usize> Rows for Tensor<D, Bool> {
    fn select_rows(self, keep: &Keep) -> Self {
        keep.tensor(self.int()).bool()
    }
}

impl<T: Clone> Rows for Vec<T> {
    fn select_rows(self, keep: &Keep) -> Self {
        keep.rows.iter().map(|&r| self[r].clone()).collect()
    }
}

impl<T: Rows> Rows for Option<T> {
    fn select_rows(self, keep: &Keep) -> Self {
        self.map(|inner| inner.select_rows(keep))
    }
}

/// A value shared by all rows (a counter, a schedule): kept whole when rows are dropped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shared<T>(pub T);

impl<T> Rows for Shared<T> {
    fn select_rows(self, _keep: &Keep) -> Self {
        self
    }
}

/// Declares a state struct whose every field is [`Rows`], and implements [`Rows`] for it.
///
/// ```
/// use adv_attacks::{Shared, row_state};
/// use adv_core::burn::tensor::Tensor;
/// row_state! {
///     /// Momentum of each row and the steps done.
///     pub struct Momentum {
///         pub velocity: Tensor<4>,
///         pub done: Shared<usize>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! row_state {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty),*
        }

        impl $crate::Rows for $name {
            fn select_rows(self, keep: &$crate::Keep) -> Self {
                Self { $($field: $crate::Rows::select_rows(self.$field, keep)),* }
            }
        }
    };
}
