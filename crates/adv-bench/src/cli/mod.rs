//! The subcommands, one file each, and the argument types they share.

pub mod attacks;
pub mod eval;
pub mod quickstart;
pub mod train;

use adv_bench::{BenchError, Result};
use adv_core::DeviceSpec;
use clap::Args;

/// `--backend` and `--device`, shared by every command that computes.
#[derive(Args, Clone, Debug)]
pub struct BackendArgs {
    /// Backend: flex (default, pure Rust CPU), tch (LibTorch; build with --features tch) or
    /// wgpu (build with --features wgpu).
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// Device on the backend: cpu, cuda[:N] (tch), gpu[:N] or default (wgpu).
    #[arg(long)]
    pub device: Option<String>,
}

impl BackendArgs {
    pub fn spec(&self) -> Result<DeviceSpec> {
        Ok(DeviceSpec::parse(&self.backend, self.device.as_deref())?)
    }
}

/// Reads an epsilon written as a decimal (`0.031`) or a fraction (`8/255`).
pub fn parse_epsilon(text: &str) -> std::result::Result<f32, String> {
    let value = match text.split_once('/') {
        Some((numerator, denominator)) => {
            let numerator: f32 = numerator.trim().parse().map_err(|_| bad_epsilon(text))?;
            let denominator: f32 = denominator.trim().parse().map_err(|_| bad_epsilon(text))?;
            if denominator == 0.0 {
                return Err(bad_epsilon(text));
            }
            numerator / denominator
        }
        None => text.trim().parse().map_err(|_| bad_epsilon(text))?,
    };
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("epsilon {text} must be finite and non-negative"))
    }
}

fn bad_epsilon(text: &str) -> String {
    format!("cannot read epsilon '{text}' (write 0.03 or 8/255)")
}

/// Serializes `value` as pretty JSON for a file.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| BenchError::InvalidArgument(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilons_parse_as_decimals_or_fractions() {
        assert_eq!(parse_epsilon("0.5"), Ok(0.5));
        assert_eq!(parse_epsilon("8/255"), Ok(8.0 / 255.0));
        assert!(parse_epsilon("1/0").is_err());
        assert!(parse_epsilon("-0.1").is_err());
        assert!(parse_epsilon("big").is_err());
    }
}
