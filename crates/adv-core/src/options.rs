//! Options declared once: a configuration struct written with [`options!`](crate::options)
//! names each setting, its type, default, valid range and one-line doc in one place, and
//! everything that reads or shows settings derives from that declaration: command-line flags,
//! `NAME:key=value` specs, suite keys, listings, documentation tables and report labels.
//!
//! ```
//! adv_core::options! {
//!     /// Settings of a toy attack.
//!     pub struct ToyConfig {
//!         /// Iterations.
//!         steps: usize [Domain::AtLeast(1.0), Label::Value] = 10,
//!         /// Momentum decay.
//!         decay: f32 [Domain::NonNegative, Label::Changed] = 1.0,
//!     }
//! }
//! use adv_core::{Options, Setting};
//! let config: ToyConfig = adv_core::configure("toy", &[Setting::new("decay", "0.5")]).unwrap();
//! assert_eq!(config.decay, 0.5);
//! assert_eq!(adv_core::label("toy", &config), "toy-10-decay=0.5");
//! let error = adv_core::configure::<ToyConfig>("toy", &[Setting::new("stepz", "3")]).unwrap_err();
//! assert_eq!(error.to_string(), "toy has no option 'stepz' (its options: steps, decay)");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// The values an option may take (numbers only; other types validate when they parse).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Domain {
    /// Any value of the type.
    Any,
    /// At least this value.
    AtLeast(f64),
    /// Strictly above zero (and finite).
    Positive,
    /// Zero or above (and finite).
    NonNegative,
    /// In `[0, 1]`.
    Unit,
    /// In `(0, 1)`.
    OpenUnit,
    /// In `(0, 1]`.
    UnitAboveZero,
    /// In `[low, high]`.
    Between(f64, f64),
}

impl Domain {
    /// Whether `value` lies in the domain.
    pub fn contains(self, value: f64) -> bool {
        if value.is_nan() {
            return false;
        }
        match self {
            Domain::Any => true,
            Domain::AtLeast(low) => value >= low,
            Domain::Positive => value.is_finite() && value > 0.0,
            Domain::NonNegative => value.is_finite() && value >= 0.0,
            Domain::Unit => (0.0..=1.0).contains(&value),
            Domain::OpenUnit => value > 0.0 && value < 1.0,
            Domain::UnitAboveZero => value > 0.0 && value <= 1.0,
            Domain::Between(low, high) => (low..=high).contains(&value),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Any => write!(f, "any"),
            Domain::AtLeast(low) => write!(f, ">= {low}"),
            Domain::Positive => write!(f, "> 0"),
            Domain::NonNegative => write!(f, ">= 0"),
            Domain::Unit => write!(f, "[0, 1]"),
            Domain::OpenUnit => write!(f, "(0, 1)"),
            Domain::UnitAboveZero => write!(f, "(0, 1]"),
            Domain::Between(low, high) => write!(f, "[{low}, {high}]"),
        }
    }
}

/// How an option shows in a label such as `pgd-20-cw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Label {
    /// Always, as its value: `-20`.
    Value,
    /// As its value when it differs from the default: `-cw`.
    ValueIfChanged,
    /// As `key=value` when it differs from the default: `-decay=0.5`.
    Changed,
}

/// One declared option, as listings and documentation show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptionSpec {
    /// The key, in kebab-case (`step-size`); suites may also write it in snake_case.
    pub key: String,
    /// What values it takes (`integer`, `number`, `true|false`, `ce|cw`, ...).
    pub kind: &'static str,
    /// The default, written as the option would be set.
    pub default: String,
    /// The valid range of a number.
    pub domain: Domain,
    /// How it shows in labels.
    pub label: Label,
    /// One line on what it does.
    pub doc: String,
}

/// A type an option can have: parsed from text and shown as text.
pub trait OptionValue: Sized {
    /// What values it takes, for listings.
    const KIND: &'static str;
    /// Reads the value as it is written on a command line or in a suite.
    fn parse_option(text: &str) -> Result<Self, String>;
    /// The value as it would be written.
    fn show_option(&self) -> String;
    /// The value as a number, for domain checks.
    fn as_number(&self) -> Option<f64> {
        None
    }
}

macro_rules! integer_option {
    ($($ty:ty),*) => {$(
        impl OptionValue for $ty {
            const KIND: &'static str = "integer";
            fn parse_option(text: &str) -> Result<Self, String> {
                text.trim()
                    .parse()
                    .map_err(|_| format!("'{text}' is not a non-negative integer"))
            }
            fn show_option(&self) -> String {
                self.to_string()
            }
            fn as_number(&self) -> Option<f64> {
                Some(*self as f64)
            }
        }
    )*};
}
integer_option!(usize, u64, u32);

impl OptionValue for f32 {
    const KIND: &'static str = "number";

    /// A decimal (`0.03`) or a fraction (`8/255`).
    fn parse_option(text: &str) -> Result<Self, String> {
        let bad = || format!("'{text}' is not a number (write 0.03 or 8/255)");
        let value: f32 = match text.split_once('/') {
            Some((numerator, denominator)) => {
                let numerator: f32 = numerator.trim().parse().map_err(|_| bad())?;
                let denominator: f32 = denominator.trim().parse().map_err(|_| bad())?;
                numerator / denominator
            }
            None => text.trim().parse().map_err(|_| bad())?,
        };
        if value.is_nan() {
            return Err(bad());
        }
        Ok(value)
    }

    fn show_option(&self) -> String {
        self.to_string()
    }

    fn as_number(&self) -> Option<f64> {
        Some(f64::from(*self))
    }
}

impl OptionValue for bool {
    const KIND: &'static str = "true|false";

    fn parse_option(text: &str) -> Result<Self, String> {
        match text.trim() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            other => Err(format!("'{other}' is not true or false")),
        }
    }

    fn show_option(&self) -> String {
        self.to_string()
    }
}

/// Implements [`OptionValue`] for a type with `FromStr` and `Display`:
/// `text_option!(Type, "choice|choice")`.
#[macro_export]
macro_rules! text_option {
    ($ty:ty, $kind:literal) => {
        impl $crate::OptionValue for $ty {
            const KIND: &'static str = $kind;
            fn parse_option(text: &str) -> ::std::result::Result<Self, String> {
                text.trim().parse::<$ty>().map_err(|e| e.to_string())
            }
            fn show_option(&self) -> String {
                self.to_string()
            }
        }
    };
}

/// A configuration whose options are declared with [`options!`](crate::options).
pub trait Options: Default + Clone {
    /// Every option, in declaration order.
    fn specs() -> Vec<OptionSpec>;
    /// Sets option `key` (kebab- or snake-case) from its text; `Ok(false)` if there is no such
    /// option.
    fn set_option(&mut self, key: &str, text: &str) -> Result<bool, String>;
    /// Every option's current value as text, in declaration order.
    fn values(&self) -> Vec<String>;
    /// Checks every number against its declared domain.
    fn check_domains(&self) -> Result<(), String>;
}

/// One `key=value` setting as written by a user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Setting {
    /// The option key.
    pub key: String,
    /// Its value, as text.
    pub value: String,
}

impl Setting {
    /// A setting.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// An option that does not exist or a value outside its option's domain.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionError {
    /// The owner has no option of that name.
    #[error("{owner} has no option '{key}' (its options: {known})")]
    Unknown {
        /// The attack, objective or defense.
        owner: String,
        /// The key given.
        key: String,
        /// Its options, comma-separated.
        known: String,
    },
    /// A value that does not parse or lies outside the option's domain.
    #[error("{owner}: {problem}")]
    Invalid {
        /// The attack, objective or defense.
        owner: String,
        /// What is wrong.
        problem: String,
    },
    /// A `NAME:key=value,...` spec that cannot be read.
    #[error("cannot read '{spec}': {problem}")]
    Syntax {
        /// The text given.
        spec: String,
        /// What is wrong.
        problem: String,
    },
}

/// Normalizes a key to kebab-case (`step_size` -> `step-size`).
pub fn kebab(key: &str) -> String {
    key.trim().replace('_', "-").to_ascii_lowercase()
}

/// The options of `C` named by `owner` (for messages), comma-separated.
pub fn option_keys<C: Options>() -> String {
    let keys: Vec<String> = C::specs().into_iter().map(|s| s.key).collect();
    if keys.is_empty() {
        "none".into()
    } else {
        keys.join(", ")
    }
}

/// The defaults of `C` with `settings` applied, checked against every domain.
pub fn configure<C: Options>(owner: &str, settings: &[Setting]) -> Result<C, OptionError> {
    let mut config = C::default();
    apply(owner, &mut config, settings)?;
    Ok(config)
}

/// Applies `settings` to `config` and checks every domain.
pub fn apply<C: Options>(
    owner: &str,
    config: &mut C,
    settings: &[Setting],
) -> Result<(), OptionError> {
    for setting in settings {
        let known = config
            .set_option(&setting.key, &setting.value)
            .map_err(|problem| OptionError::Invalid {
                owner: owner.to_owned(),
                problem: format!("{}: {problem}", kebab(&setting.key)),
            })?;
        if !known {
            return Err(OptionError::Unknown {
                owner: owner.to_owned(),
                key: setting.key.clone(),
                known: option_keys::<C>(),
            });
        }
    }
    config
        .check_domains()
        .map_err(|problem| OptionError::Invalid {
            owner: owner.to_owned(),
            problem,
        })
}

/// `name` followed by the options that [`Label`] says to show: `pgd-20-cw-decay=0.5`.
pub fn label<C: Options>(name: &str, config: &C) -> String {
    let mut label = name.to_owned();
    for (spec, value) in C::specs().into_iter().zip(config.values()) {
        let changed = value != spec.default;
        match spec.label {
            Label::Value => label += &format!("-{value}"),
            Label::ValueIfChanged if changed => label += &format!("-{value}"),
            Label::Changed if changed => label += &format!("-{}={value}", spec.key),
            _ => {}
        }
    }
    label
}

/// `settings` in canonical form: keys in kebab-case, each value as the option shows it after
/// parsing (`1/255` becomes `0.003921569`), one per key (the last wins), in declaration order.
pub fn canonical<C: Options>(
    owner: &str,
    settings: &[Setting],
) -> Result<Vec<Setting>, OptionError> {
    let config: C = configure(owner, settings)?;
    let values = config.values();
    let given: Vec<String> = settings.iter().map(|s| kebab(&s.key)).collect();
    Ok(C::specs()
        .into_iter()
        .zip(values)
        .filter(|(spec, _)| given.contains(&spec.key))
        .map(|(spec, value)| Setting::new(spec.key, value))
        .collect())
}

/// Every option of `C` with `settings` applied, defaults included, in declaration order.
pub fn resolved<C: Options>(
    owner: &str,
    settings: &[Setting],
) -> Result<Vec<Setting>, OptionError> {
    let config: C = configure(owner, settings)?;
    Ok(C::specs()
        .into_iter()
        .zip(config.values())
        .map(|(spec, value)| Setting::new(spec.key, value))
        .collect())
}

/// What a registry entry knows of its configuration type, as plain function pointers (so that
/// entries can be `static`s): `ConfigFns::of::<PgdConfig>()`.
#[derive(Clone, Copy)]
pub struct ConfigFns {
    /// The declared options.
    pub specs: fn() -> Vec<OptionSpec>,
    /// See [`canonical`].
    pub canonical: fn(&str, &[Setting]) -> Result<Vec<Setting>, OptionError>,
    /// See [`resolved`].
    pub resolved: fn(&str, &[Setting]) -> Result<Vec<Setting>, OptionError>,
    /// The label of `name` with settings (see [`label`]).
    pub label: fn(&str, &[Setting]) -> Result<String, OptionError>,
}

impl ConfigFns {
    /// The functions of configuration type `C`.
    pub const fn of<C: Options>() -> Self {
        Self {
            specs: C::specs,
            canonical: canonical::<C>,
            resolved: resolved::<C>,
            label: label_of::<C>,
        }
    }
}

fn label_of<C: Options>(name: &str, settings: &[Setting]) -> Result<String, OptionError> {
    Ok(label(name, &configure::<C>(name, settings)?))
}

/// A name with settings, as written on a command line: `pgd`, `pgd:steps=100,step-size=1/255`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The attack, objective or defense.
    pub name: String,
    /// Its settings, in the order written.
    pub settings: Vec<Setting>,
}

impl std::str::FromStr for Spec {
    type Err = OptionError;

    fn from_str(text: &str) -> Result<Self, OptionError> {
        let syntax = |problem: &str| OptionError::Syntax {
            spec: text.to_owned(),
            problem: problem.to_owned(),
        };
        let (name, rest) = match text.split_once(':') {
            Some((name, rest)) => (name.trim(), Some(rest)),
            None => (text.trim(), None),
        };
        if name.is_empty() {
            return Err(syntax("no name before ':'"));
        }
        let mut settings = Vec::new();
        for pair in rest.into_iter().flat_map(|rest| rest.split(',')) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| syntax("write NAME:key=value,key=value"))?;
            if key.trim().is_empty() || value.trim().is_empty() {
                return Err(syntax("an empty key or value"));
            }
            settings.push(Setting::new(kebab(key), value.trim()));
        }
        Ok(Spec {
            name: name.to_ascii_lowercase(),
            settings,
        })
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        for (k, setting) in self.settings.iter().enumerate() {
            let separator = if k == 0 { ':' } else { ',' };
            write!(f, "{separator}{}={}", setting.key, setting.value)?;
        }
        Ok(())
    }
}

/// A Markdown table of options (key, values, default, range, doc), as documentation shows it.
pub fn options_table(specs: &[OptionSpec]) -> String {
    let mut out = String::from(
        "| option | values | default | range | what it does |\n| --- | --- | --- | --- | --- |\n",
    );
    for spec in specs {
        let domain = match spec.domain {
            Domain::Any => String::new(),
            domain => domain.to_string(),
        };
        out += &format!(
            "| `{}` | {} | `{}` | {} | {} |\n",
            spec.key,
            spec.kind.replace('|', "\\|"),
            spec.default,
            domain,
            spec.doc
        );
    }
    out
}

/// Declares a configuration struct whose options are known by name, with their defaults,
/// domains, label styles and docs (see the [module docs](crate::options) for an example).
///
/// Each field reads `name: Type [Domain, Label] = default,` under its `///` doc line. The
/// struct derives `Clone`, `Debug`, `PartialEq`, serde (with defaults) and [`Options`].
#[macro_export]
macro_rules! options {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty [$domain:expr, $label:expr] = $default:expr
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        impl $crate::Options for $name {
            #[allow(unused_imports)]
            fn specs() -> Vec<$crate::OptionSpec> {
                use $crate::{Domain, Label};
                vec![$(
                    $crate::OptionSpec {
                        key: $crate::kebab(stringify!($field)),
                        kind: <$ty as $crate::OptionValue>::KIND,
                        default: $crate::OptionValue::show_option(&{ let value: $ty = $default; value }),
                        domain: $domain,
                        label: $label,
                        doc: [$($doc),*].iter().map(|line| line.trim()).collect::<Vec<_>>().join(" "),
                    },
                )*]
            }

            #[allow(unused_variables)]
            fn set_option(&mut self, key: &str, text: &str) -> ::std::result::Result<bool, String> {
                let key = $crate::kebab(key);
                $(
                    if key == $crate::kebab(stringify!($field)) {
                        self.$field = <$ty as $crate::OptionValue>::parse_option(text)?;
                        return Ok(true);
                    }
                )*
                Ok(false)
            }

            fn values(&self) -> Vec<String> {
                vec![$($crate::OptionValue::show_option(&self.$field),)*]
            }

            #[allow(unused_imports)]
            fn check_domains(&self) -> ::std::result::Result<(), String> {
                use $crate::{Domain, Label};
                $(
                    if let Some(value) = $crate::OptionValue::as_number(&self.$field) {
                        let domain: $crate::Domain = $domain;
                        if !domain.contains(value) {
                            return Err(format!(
                                "{} {} is outside its range ({domain})",
                                $crate::kebab(stringify!($field)),
                                $crate::OptionValue::show_option(&self.$field),
                            ));
                        }
                    }
                )*
                Ok(())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::options! {
        /// A test configuration.
        struct Demo {
            /// Iterations.
            steps: usize [Domain::AtLeast(1.0), Label::Value] = 10,
            /// A fraction
            /// on two lines.
            fraction: f32 [Domain::UnitAboveZero, Label::Changed] = 0.5,
            /// A switch.
            random_start: bool [Domain::Any, Label::Changed] = true,
        }
    }

    #[test]
    fn settings_apply_by_kebab_or_snake_case_and_are_checked() {
        let config: Demo = configure(
            "demo",
            &[
                Setting::new("fraction", "1/4"),
                Setting::new("random_start", "false"),
            ],
        )
        .unwrap();
        assert_eq!(
            config,
            Demo {
                steps: 10,
                fraction: 0.25,
                random_start: false
            }
        );
        assert_eq!(
            label("demo", &config),
            "demo-10-fraction=0.25-random-start=false"
        );
        assert_eq!(label("demo", &Demo::default()), "demo-10");
        let unknown = configure::<Demo>("demo", &[Setting::new("decay", "1")]).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "demo has no option 'decay' (its options: steps, fraction, random-start)"
        );
        let out_of_range = configure::<Demo>("demo", &[Setting::new("steps", "0")]).unwrap_err();
        assert_eq!(
            out_of_range.to_string(),
            "demo: steps 0 is outside its range (>= 1)"
        );
        let unreadable = configure::<Demo>("demo", &[Setting::new("steps", "many")]).unwrap_err();
        assert!(
            unreadable.to_string().contains("steps: 'many' is not"),
            "{unreadable}"
        );
        assert!(configure::<Demo>("demo", &[Setting::new("fraction", "0")]).is_err());
        assert!(configure::<Demo>("demo", &[Setting::new("fraction", "nan")]).is_err());
    }

    #[test]
    fn specs_carry_defaults_and_docs() {
        let specs = Demo::specs();
        assert_eq!(specs[1].key, "fraction");
        assert_eq!(specs[1].default, "0.5");
        assert_eq!(specs[1].doc, "A fraction on two lines.");
        assert_eq!(specs[2].kind, "true|false");
        assert!(
            options_table(&specs)
                .contains("| `random-start` | true\\|false | `true` |  | A switch. |")
        );
    }

    #[test]
    fn specs_parse_and_print() {
        let spec: Spec = "PGD:steps=100,step_size=1/255".parse().unwrap();
        assert_eq!(spec.name, "pgd");
        assert_eq!(
            spec.settings,
            vec![
                Setting::new("steps", "100"),
                Setting::new("step-size", "1/255")
            ]
        );
        assert_eq!(spec.to_string(), "pgd:steps=100,step-size=1/255");
        assert_eq!("fgsm".parse::<Spec>().unwrap().settings, vec![]);
        for bad in [":steps=1", "pgd:steps", "pgd:=1", "pgd:steps="] {
            assert!(bad.parse::<Spec>().is_err(), "{bad}");
        }
    }
}
