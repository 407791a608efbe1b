//! Progress display for long work: a bar on a terminal, nothing elsewhere (logs, CI, tests).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that can also be silent.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar drawn on standard error when it is a terminal.
    pub fn terminal() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar: Some(bar) }
    }

    /// No display at all.
    pub fn hidden() -> Self {
        Self { bar: None }
    }

    /// Restarts the bar at 0 of `total` steps, labelled `stage`.
    pub fn start(&self, stage: &str, total: u64) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(total);
            bar.set_prefix(stage.to_owned());
        }
    }

    /// Relabels the bar.
    pub fn set_stage(&self, stage: &str) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(stage.to_owned());
        }
    }

    /// One step done.
    pub fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
