//! Every attack by name, and attack configurations as serializable values (a name and its
//! settings) that suites, the command line, journals and reports share.

use adv_core::{OptionError, OptionSpec, Setting, Spec, options_table};
use serde::{Deserialize, Serialize};

use crate::{Attack, AttackError, AttackInfo, Result};

/// The declaration of the attack called `name` (or one of its aliases).
pub fn find(name: &str) -> Result<&'static AttackInfo> {
    let name = name.trim().to_ascii_lowercase();
    crate::registry()
        .into_iter()
        .find(|info| info.name == name || info.aliases.contains(&name.as_str()))
        .ok_or(AttackError::UnknownAttack(name))
}

/// An attack and its settings: what a suite entry, a `--attack NAME:key=value` or a report
/// names. Built through [`AttackConfig::new`], which checks every setting, so a value of this
/// type always builds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttackConfig {
    name: &'static str,
    settings: Vec<Setting>,
}

#[derive(Clone, Serialize, Deserialize)]
struct RawConfig {
    attack: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    settings: Vec<Setting>,
}

impl Serialize for AttackConfig {
    fn serialize<S: serde::Serializer>(&self, out: S) -> std::result::Result<S::Ok, S::Error> {
        RawConfig {
            attack: self.name.to_owned(),
            settings: self.settings.clone(),
        }
        .serialize(out)
    }
}

impl<'de> Deserialize<'de> for AttackConfig {
    /// Checked as [`AttackConfig::new`] checks, so a file cannot name an attack or option that
    /// does not exist.
    fn deserialize<D: serde::Deserializer<'de>>(input: D) -> std::result::Result<Self, D::Error> {
        let raw = RawConfig::deserialize(input)?;
        AttackConfig::new(&raw.attack, &raw.settings).map_err(serde::de::Error::custom)
    }
}

impl AttackConfig {
    /// The attack called `name` with `settings`; an unknown attack or option, or a value outside
    /// its range, is an error that names the attack and its options.
    pub fn new(name: &str, settings: &[Setting]) -> Result<Self> {
        let info = find(name)?;
        let settings = (info.config.canonical)(info.name, settings)?;
        let config = Self {
            name: info.name,
            settings,
        };
        config.build()?;
        Ok(config)
    }

    /// The default configuration of `name`.
    pub fn named(name: &str) -> Result<Self> {
        Self::new(name, &[])
    }

    /// Reads `NAME` or `NAME:key=value,key=value`.
    pub fn parse(text: &str) -> Result<Self> {
        let spec: Spec = text.parse()?;
        Self::new(&spec.name, &spec.settings)
    }

    /// This configuration with `extra` settings applied on top.
    pub fn with(&self, extra: &[Setting]) -> Result<Self> {
        let mut settings = self.settings.clone();
        settings.extend_from_slice(extra);
        Self::new(self.name, &settings)
    }

    /// The attack's declaration.
    pub fn info(&self) -> &'static AttackInfo {
        find(self.name).expect("an AttackConfig names a registered attack")
    }

    /// The attack's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The settings given, in canonical form (only those given).
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// Every option with its value, defaults included.
    pub fn options(&self) -> Vec<Setting> {
        (self.info().config.resolved)(self.name, &self.settings)
            .expect("an AttackConfig's settings are valid")
    }

    /// The value of option `key`, default included.
    pub fn option(&self, key: &str) -> Option<String> {
        let key = adv_core::kebab(key);
        self.options()
            .into_iter()
            .find(|s| s.key == key)
            .map(|s| s.value)
    }

    /// The attack itself.
    pub fn build(&self) -> Result<Box<dyn Attack>> {
        (self.info().build)(&self.settings)
    }

    /// The short label of tables and reports: the name and every option its declaration
    /// shows (`pgd-20`, `pgd-10-cw`, `pgd-10-random-start=false`).
    pub fn label(&self) -> String {
        (self.info().config.label)(self.name, &self.settings)
            .expect("an AttackConfig's settings are valid")
    }

    /// The configuration as `NAME:key=value,...`.
    pub fn spec(&self) -> String {
        Spec {
            name: self.name.to_owned(),
            settings: self.settings.clone(),
        }
        .to_string()
    }
}

/// Applies shared `settings` (command-line flags such as `--steps 20`) to every configuration
/// that declares the option; a setting that no configuration declares is an error naming each
/// attack and its options.
pub fn apply_shared(configs: &[AttackConfig], settings: &[Setting]) -> Result<Vec<AttackConfig>> {
    let declares = |config: &AttackConfig, key: &str| {
        (config.info().config.specs)()
            .iter()
            .any(|spec| spec.key == adv_core::kebab(key))
    };
    for setting in settings {
        if configs.iter().any(|c| declares(c, &setting.key)) {
            continue;
        }
        return Err(match configs {
            [only] => AttackError::Option(OptionError::Unknown {
                owner: only.name().to_owned(),
                key: setting.key.clone(),
                known: option_list(only),
            }),
            _ => AttackError::Mismatch(format!(
                "no attack given has option '{}' ({})",
                setting.key,
                configs
                    .iter()
                    .map(|c| format!("{}: {}", c.name(), option_list(c)))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        });
    }
    configs
        .iter()
        .map(|config| {
            let mine: Vec<Setting> = settings
                .iter()
                .filter(|s| declares(config, &s.key))
                .cloned()
                .chain(config.settings.iter().cloned())
                .collect();
            AttackConfig::new(config.name, &mine)
        })
        .collect()
}

fn option_list(config: &AttackConfig) -> String {
    let keys: Vec<String> = (config.info().config.specs)()
        .into_iter()
        .map(|s| s.key)
        .collect();
    if keys.is_empty() {
        "none".into()
    } else {
        keys.join(", ")
    }
}

/// Every option key of the registry, once, with the first declaration of it.
pub fn all_options() -> Vec<OptionSpec> {
    let mut all: Vec<OptionSpec> = Vec::new();
    for info in crate::registry() {
        for spec in (info.config.specs)() {
            if !all.iter().any(|s| s.key == spec.key) {
                all.push(spec);
            }
        }
    }
    all
}

/// An error if two configurations have the same label (a leaderboard would merge them).
pub fn check_unique_labels(configs: &[AttackConfig]) -> Result<()> {
    for (k, config) in configs.iter().enumerate() {
        if let Some(other) = configs[..k].iter().find(|c| c.label() == config.label()) {
            return Err(AttackError::DuplicateLabel {
                label: config.label(),
                first: other.spec(),
                second: config.spec(),
            });
        }
    }
    Ok(())
}

/// One line of the attack listing.
#[derive(Clone, Debug, Serialize)]
pub struct AttackListing {
    /// Command-line name.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// Norms it supports.
    pub norms: Vec<&'static str>,
    /// What it needs to know of the model.
    pub access: adv_core::Knowledge,
    /// Whether it has a targeted version.
    pub targeted: bool,
    /// Whether it minimizes the distance.
    pub minimizes_distance: bool,
    /// The paper it implements.
    pub paper: &'static str,
    /// Its options.
    pub options: Vec<OptionSpec>,
}

/// Every attack of the registry, for listings.
pub fn listing() -> Vec<AttackListing> {
    crate::registry()
        .into_iter()
        .map(|info| AttackListing {
            name: info.name,
            aliases: info.aliases,
            norms: info.norms.iter().map(|n| n.name()).collect(),
            access: info.access,
            targeted: info.targeted,
            minimizes_distance: info.minimizes_distance,
            paper: info.paper,
            options: (info.config.specs)(),
        })
        .collect()
}

/// The Markdown reference of every attack (a summary table, then each attack's options), as
/// `adv-bench attacks --markdown` prints it and docs/attacks.md includes it.
pub fn markdown_reference() -> String {
    let access = |k: adv_core::Knowledge| match k {
        adv_core::Knowledge::WhiteBox => "white-box",
        adv_core::Knowledge::ScoreBased => "scores",
        adv_core::Knowledge::DecisionBased => "decisions",
        adv_core::Knowledge::Transfer => "transfer",
    };
    let mut out = String::from(
        "| attack | norms | access | targeted | minimal distance | paper |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let attacks = listing();
    for a in &attacks {
        out += &format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            a.name,
            a.norms.join(", "),
            access(a.access),
            if a.targeted { "yes" } else { "no" },
            if a.minimizes_distance { "yes" } else { "no" },
            a.paper
        );
    }
    for a in &attacks {
        out += &format!("\n### `{}`", a.name);
        if !a.aliases.is_empty() {
            out += &format!(" (also {})", a.aliases.join(", "));
        }
        out += "\n\n";
        if a.options.is_empty() {
            out += "No options.\n";
        } else {
            out += &options_table(&a.options);
        }
    }
    out
}

impl From<OptionError> for AttackError {
    fn from(error: OptionError) -> Self {
        AttackError::Option(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- BEGIN GENERATED: adv-bench attacks --markdown -->\n";
    const END: &str = "<!-- END GENERATED -->";

    /// docs/attacks.md holds the reference the declarations generate; `ADV_UPDATE_DOCS=1 cargo
    /// test -p adv-attacks docs` rewrites it.
    #[test]
    fn docs_hold_the_generated_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/attacks.md");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find(BEGIN).expect("the generated block's start") + BEGIN.len();
        let end = text.find(END).expect("the generated block's end");
        let expected = markdown_reference();
        if std::env::var_os("ADV_UPDATE_DOCS").is_some() {
            let updated = format!("{}{expected}{}", &text[..start], &text[end..]);
            std::fs::write(path, updated).unwrap();
            return;
        }
        assert!(
            text[start..end] == expected,
            "docs/attacks.md is out of date: run `ADV_UPDATE_DOCS=1 cargo test -p adv-attacks docs`"
        );
    }

    #[test]
    fn every_registered_attack_builds_by_name_and_alias_with_unique_names() {
        let all = crate::registry();
        for (k, info) in all.iter().enumerate() {
            let config = AttackConfig::named(info.name).unwrap();
            assert_eq!(config.build().unwrap().info().name, info.name);
            for alias in info.aliases {
                assert_eq!(find(alias).unwrap().name, info.name);
            }
            let names = |i: &AttackInfo| {
                std::iter::once(i.name)
                    .chain(i.aliases.iter().copied())
                    .collect::<Vec<_>>()
            };
            for other in &all[..k] {
                assert!(
                    names(info).iter().all(|n| !names(other).contains(n)),
                    "{} and {} share a name",
                    info.name,
                    other.name
                );
            }
        }
        assert!(matches!(
            AttackConfig::named("zoo2"),
            Err(AttackError::UnknownAttack(_))
        ));
    }

    #[test]
    fn configs_are_canonical_round_trip_and_label_their_changes() {
        let config = AttackConfig::parse("PGD:step_size=2/255,steps=40,loss=cw").unwrap();
        assert_eq!(config.label(), "pgd-40-step-size=0.007843138-cw");
        assert_eq!(config.spec(), "pgd:steps=40,step-size=0.007843138,loss=cw");
        assert_eq!(config, AttackConfig::parse(&config.spec()).unwrap());
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<AttackConfig>(&json).unwrap(), config);
        assert!(
            serde_json::from_str::<AttackConfig>(
                r#"{"attack":"pgd","settings":[{"key":"decay","value":"1"}]}"#
            )
            .is_err()
        );
        assert_eq!(config.option("random-start").as_deref(), Some("true"));
        assert_eq!(AttackConfig::named("pgd").unwrap().label(), "pgd-10");
        assert_eq!(AttackConfig::named("apgd-t").unwrap().label(), "apgd-t");
        let shared = apply_shared(
            &[
                AttackConfig::named("fgsm").unwrap(),
                AttackConfig::parse("mim:decay=0.5").unwrap(),
            ],
            &[Setting::new("decay", "0.9"), Setting::new("steps", "3")],
        )
        .unwrap();
        // The flag reaches MIM only, and MIM's own setting wins.
        assert_eq!(shared[0].label(), "fgsm");
        assert_eq!(shared[1].label(), "mim-3-decay=0.5");
        let error = check_unique_labels(&[
            AttackConfig::named("pgd").unwrap(),
            AttackConfig::parse("pgd:steps=10").unwrap(),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("labelled 'pgd-10'"), "{error}");
    }
}
