//! Run-time choice of the Burn backend and device (`--backend`, `--device`).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

/// The Burn backends this workspace can be compiled with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (always compiled in).
    #[default]
    Flex,
    /// LibTorch through burn-tch (cargo feature `tch`).
    Tch,
    /// wgpu (cargo feature `wgpu`).
    Wgpu,
}

impl BackendKind {
    /// Backends compiled into this build.
    pub fn available() -> Vec<BackendKind> {
        let mut kinds = vec![BackendKind::Flex];
        if cfg!(feature = "tch") {
            kinds.push(BackendKind::Tch);
        }
        if cfg!(feature = "wgpu") {
            kinds.push(BackendKind::Wgpu);
        }
        kinds
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Tch => "tch",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = CoreError;

    fn from_str(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(BackendKind::Flex),
            "tch" | "libtorch" => Ok(BackendKind::Tch),
            "wgpu" => Ok(BackendKind::Wgpu),
            other => Err(CoreError::Backend(format!(
                "unknown backend '{other}' (expected flex, tch or wgpu)"
            ))),
        }
    }
}

/// A backend plus a device name: `cpu`, `cuda`, `cuda:N` (tch), `gpu`, `gpu:N` (wgpu).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSpec {
    /// The backend.
    pub backend: BackendKind,
    /// The device on that backend (`cpu` unless given).
    pub device: Option<String>,
}

impl DeviceSpec {
    /// A spec from command-line strings.
    pub fn parse(backend: &str, device: Option<&str>) -> Result<Self> {
        Ok(Self {
            backend: backend.parse()?,
            device: device.map(str::to_owned),
        })
    }

    /// A human-readable description for reports, e.g. `tch/cuda:0`.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.backend.name(), self.device.as_deref().unwrap_or("cpu"))
    }

    /// The Burn device, or an error if the backend is not compiled in or the device is unknown.
    pub fn device(&self) -> Result<Device> {
        let device = self.device.as_deref().unwrap_or("cpu").to_ascii_lowercase();
        let (name, index) = match device.split_once(':') {
            Some((name, index)) => {
                let index = index.parse::<usize>().map_err(|_| {
                    CoreError::Backend(format!("device index '{index}' is not a number"))
                })?;
                (name.to_owned(), index)
            }
            None => (device.clone(), 0),
        };
        match self.backend {
            BackendKind::Flex if name == "cpu" => Ok(Device::flex()),
            BackendKind::Tch => tch_device(&name, index),
            BackendKind::Wgpu => wgpu_device(&name, index),
            _ => Err(CoreError::Backend(format!(
                "device '{device}' is not available on backend {}",
                self.backend.name()
            ))),
        }
    }
}

#[cfg(feature = "tch")]
#[allow(deprecated)]
fn tch_device(name: &str, index: usize) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::libtorch()),
        "cuda" | "gpu" => Ok(Device::libtorch_cuda(index)),
        other => Err(CoreError::Backend(format!("unknown tch device '{other}'"))),
    }
}

#[cfg(not(feature = "tch"))]
fn tch_device(_name: &str, _index: usize) -> Result<Device> {
    Err(not_compiled("tch"))
}

#[cfg(feature = "wgpu")]
fn wgpu_device(name: &str, index: usize) -> Result<Device> {
    use burn::tensor::DeviceKind;
    match name {
        "default" | "best" => Ok(Device::wgpu(DeviceKind::DefaultDevice)),
        "gpu" | "cuda" | "discrete" => Ok(Device::wgpu(DeviceKind::DiscreteGpu(index))),
        "integrated" => Ok(Device::wgpu(DeviceKind::IntegratedGpu(index))),
        "cpu" => Ok(Device::wgpu(DeviceKind::Cpu)),
        other => Err(CoreError::Backend(format!("unknown wgpu device '{other}'"))),
    }
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device(_name: &str, _index: usize) -> Result<Device> {
    Err(not_compiled("wgpu"))
}

#[allow(dead_code)]
fn not_compiled(feature: &str) -> CoreError {
    CoreError::Backend(format!(
        "backend '{feature}' is not compiled in; rebuild with `--features {feature}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_cpu_is_always_available() {
        assert!(DeviceSpec::parse("flex", None).unwrap().device().is_ok());
        assert!(DeviceSpec::parse("flex", Some("cuda")).unwrap().device().is_err());
        assert!(DeviceSpec::parse("onnx", None).is_err());
        assert_eq!(DeviceSpec::default().describe(), "flex/cpu");
    }
}
