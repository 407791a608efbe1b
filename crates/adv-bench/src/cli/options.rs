//! The attack-option flags of `eval`, derived from the attacks' declarations: one flag per
//! option key of the registry (`--steps`, `--step-size`, `--decay`, ...), plus `--no-KEY` for
//! the switches. A flag applies to every `--attack` that declares the option; a flag that no
//! given attack declares is an error.

use adv_attacks::all_options;
use adv_core::Setting;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

/// The settings given by attack-option flags.
#[derive(Clone, Debug, Default)]
pub struct AttackFlags {
    /// In the order of the registry's options.
    pub settings: Vec<Setting>,
}

const HEADING: &str =
    "Attack options (each applies to every --attack that has it; see `adv-bench attacks`)";

impl Args for AttackFlags {
    fn augment_args(mut command: Command) -> Command {
        for spec in all_options() {
            let key = spec.key.clone();
            command = command.arg(
                Arg::new(key.clone())
                    .long(key.clone())
                    .value_name(spec.kind.to_uppercase())
                    .help(spec.doc.clone())
                    .help_heading(HEADING),
            );
            if spec.kind == <bool as adv_core::OptionValue>::KIND {
                command = command.arg(
                    Arg::new(format!("no-{key}"))
                        .long(format!("no-{key}"))
                        .action(ArgAction::SetTrue)
                        .conflicts_with(key.clone())
                        .help(format!("Sets {key} to false."))
                        .help_heading(HEADING),
                );
            }
        }
        command
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl FromArgMatches for AttackFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Self::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for spec in all_options() {
            if let Some(value) = matches.get_one::<String>(&spec.key) {
                self.settings
                    .push(Setting::new(spec.key.clone(), value.clone()));
            }
            let negated = format!("no-{}", spec.key);
            if spec.kind == <bool as adv_core::OptionValue>::KIND && matches.get_flag(&negated) {
                self.settings.push(Setting::new(spec.key.clone(), "false"));
            }
        }
        Ok(())
    }
}
