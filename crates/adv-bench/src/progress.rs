//! Progress display for long work: on a terminal, one bar for the whole job and one for the
//! current task (an attack at one epsilon, a search, training); nothing elsewhere (logs, CI,
//! tests).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Two progress bars (job and task) that can also be silent.
pub struct Progress {
    bars: Option<Bars>,
}

struct Bars {
    _multi: MultiProgress,
    job: ProgressBar,
    task: ProgressBar,
}

impl Progress {
    /// Bars drawn on standard error when it is a terminal.
    pub fn terminal() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ")
        };
        let job = multi.add(ProgressBar::new(0));
        job.set_style(style(
            "{prefix:>28} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        ));
        let task = multi.add(ProgressBar::new(0));
        task.set_style(style("{prefix:>28} [{bar:30}] {pos}/{len}"));
        Self {
            bars: Some(Bars {
                _multi: multi,
                job,
                task,
            }),
        }
    }

    /// No display at all.
    pub fn hidden() -> Self {
        Self { bars: None }
    }

    /// Restarts the job bar at 0 of `total` steps, labelled `stage`.
    pub fn start(&self, stage: &str, total: u64) {
        if let Some(bars) = &self.bars {
            bars.job.reset();
            bars.job.set_length(total);
            bars.job.set_prefix(stage.to_owned());
        }
    }

    /// Relabels the job bar.
    pub fn set_stage(&self, stage: &str) {
        if let Some(bars) = &self.bars {
            bars.job.set_prefix(stage.to_owned());
        }
    }

    /// Restarts the task bar at 0 of `total` steps, labelled `task`.
    pub fn task(&self, task: &str, total: u64) {
        if let Some(bars) = &self.bars {
            bars.task.reset();
            bars.task.set_length(total);
            bars.task.set_prefix(task.to_owned());
        }
    }

    /// One step of the job (and of its current task) done.
    pub fn advance(&self) {
        if let Some(bars) = &self.bars {
            bars.job.inc(1);
            bars.task.inc(1);
        }
    }

    /// One step of the current task done, outside the job's count (training before attacks).
    pub fn advance_task(&self) {
        if let Some(bars) = &self.bars {
            bars.task.inc(1);
        }
    }

    /// Removes the bars from the terminal.
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.task.finish_and_clear();
            bars.job.finish_and_clear();
        }
    }
}
