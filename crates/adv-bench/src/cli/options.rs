//! Option flags derived from declarations: one flag per option key of the attacks (for `eval`)
//! or of the objectives (for `train`), plus `--no-KEY` for the switches. A flag applies to
//! every attack (or the objective) that declares the option; a flag none of them declares is
//! an error.

use std::marker::PhantomData;

use adv_core::{OptionSpec, Setting};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

/// Where the flags come from.
pub trait FlagSource {
    /// The options, each key once.
    fn specs() -> Vec<OptionSpec>;
    /// The help heading of the flags.
    const HEADING: &'static str;
}

/// The attacks' options.
#[derive(Clone, Debug, Default)]
pub struct Attacks;

impl FlagSource for Attacks {
    fn specs() -> Vec<OptionSpec> {
        adv_attacks::all_options()
    }
    const HEADING: &'static str =
        "Attack options (each applies to every --attack that has it; see `adv-bench attacks`)";
}

/// The objectives' options.
#[derive(Clone, Debug, Default)]
pub struct Objectives;

impl FlagSource for Objectives {
    fn specs() -> Vec<OptionSpec> {
        adv_defenses::all_objective_options()
    }
    const HEADING: &'static str =
        "Objective options (see `adv-bench objectives`; an option the objective lacks is an error)";
}

/// The settings given by option flags.
#[derive(Clone, Debug, Default)]
pub struct OptionFlags<S> {
    /// In the order of the declarations.
    pub settings: Vec<Setting>,
    source: PhantomData<S>,
}

/// The attack-option flags of `eval`.
pub type AttackFlags = OptionFlags<Attacks>;
/// The objective-option flags of `train`.
pub type ObjectiveFlags = OptionFlags<Objectives>;

fn is_switch(spec: &OptionSpec) -> bool {
    spec.kind == <bool as adv_core::OptionValue>::KIND
}

impl<S: FlagSource + Clone + Default + Send + Sync + 'static> Args for OptionFlags<S> {
    fn augment_args(mut command: Command) -> Command {
        for spec in S::specs() {
            let key = spec.key.clone();
            command = command.arg(
                Arg::new(key.clone())
                    .long(key.clone())
                    .value_name(spec.kind.to_uppercase())
                    .help(spec.doc.clone())
                    .help_heading(S::HEADING),
            );
            if is_switch(&spec) {
                command = command.arg(
                    Arg::new(format!("no-{key}"))
                        .long(format!("no-{key}"))
                        .action(ArgAction::SetTrue)
                        .conflicts_with(key.clone())
                        .help(format!("Sets {key} to false."))
                        .help_heading(S::HEADING),
                );
            }
        }
        command
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl<S: FlagSource + Default> FromArgMatches for OptionFlags<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for spec in S::specs() {
            if let Some(value) = matches.get_one::<String>(&spec.key) {
                self.settings
                    .push(Setting::new(spec.key.clone(), value.clone()));
            }
            if is_switch(&spec) && matches.get_flag(&format!("no-{}", spec.key)) {
                self.settings.push(Setting::new(spec.key.clone(), "false"));
            }
        }
        Ok(())
    }
}
