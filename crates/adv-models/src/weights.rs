//! Importing PyTorch weights (`.safetensors`, `.pt`/`.pth`/`.th`/`.model`) and exporting ours to
//! safetensors, strictly: every parameter of the model must be in the file with the right shape,
//! and every tensor of the file must land in the model.
//!
//! # Key mapping
//!
//! Our modules use PyTorch's parameter names, so most keys map onto themselves. Before they are
//! matched, checkpoint keys go through these steps, in order:
//!
//! 1. A wrapper is unwrapped: when the model has no parameter whose path starts with
//!    `state_dict`, `model_state_dict`, `model`, `net` or `state`, and the checkpoint holds keys
//!    under one of these names (tried in that order), only the tensors under it are kept and the
//!    name is stripped. This covers `torch.save({"state_dict": ..., "best_prec1": ...})` and
//!    `{"model": ..., "optimizer": ...}`; other tensors beside the wrapper are ignored.
//! 2. The `module.` prefix that `nn.DataParallel` adds is stripped when every key has it.
//! 3. `num_batches_tracked` buffers of batch norms are dropped (Burn keeps no such counter).
//! 4. The architecture's own renames ([`KeyMapping::renames`]) apply, e.g. `0.weight` to
//!    `layers.0.weight` for a network described by a data file, `convShortcut` to
//!    `conv_shortcut` for a WideResNet, `shortcut.0` to `shortcut` for PreAct-ResNet-18,
//!    `downsample.0`/`.1` to `downsample.conv`/`.bn` for torchvision ResNets and `Conv2d_*`,
//!    `Mixed_*`, `AuxLogits` to `conv2d_*`, `mixed_*`, `aux_logits` for Inception-v3.
//! 5. Burn's `PyTorchToBurnAdapter` transposes linear weights (`[out, in]` to `[in, out]`) and
//!    names batch-norm `weight`/`bias` `gamma`/`beta`; enum variant names in our paths are
//!    skipped.
//!
//! Exporting runs the inverse: Burn-to-PyTorch adapter, then [`KeyMapping::export_renames`],
//! so an exported file has PyTorch's layout and loads back through the same path.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::Module;
use burn::store::pytorch_reader::PytorchReader;
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, SafetensorsStore, bridge,
    burn_pack::{Bytes, DType, Tensor as PackTensor},
};

use crate::{ModelError, Result};

/// Names a PyTorch checkpoint may nest its state dict under.
pub const WRAPPER_KEYS: [&str; 5] = ["state_dict", "model_state_dict", "model", "net", "state"];

/// The container a weights file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    /// A `.safetensors` file.
    Safetensors,
    /// A file written by `torch.save` (zip, legacy pickle or tar container).
    Pytorch,
    /// A Burn record (`.bpk`, `.mpk`) written by this crate.
    Burn,
}

impl WeightFormat {
    /// The format of `path`, by its extension.
    pub fn of(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match extension.as_str() {
            "safetensors" => Ok(Self::Safetensors),
            "pt" | "pth" | "th" | "model" | "bin" | "ckpt" => Ok(Self::Pytorch),
            "bpk" | "mpk" => Ok(Self::Burn),
            _ => Err(ModelError::checkpoint(
                path,
                "unknown weights format: expected .safetensors, .pt, .pth, .th, .model, .bin, .ckpt \
                 (PyTorch) or .bpk (Burn record)",
            )),
        }
    }
}

/// How the tensor names of a checkpoint map onto the parameter paths of one architecture, beyond
/// the steps every import takes (see [`crate::weights`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyMapping {
    /// `(regex, replacement)` pairs applied to checkpoint keys on import.
    pub renames: Vec<(String, String)>,
    /// `(regex, replacement)` pairs applied to our paths on export, undoing `renames`.
    pub export_renames: Vec<(String, String)>,
}

impl KeyMapping {
    /// PyTorch names are our names.
    pub fn identity() -> Self {
        Self::default()
    }

    /// A top-level `nn.Sequential` (`0.weight`, `3.bias`) held in our field `field`
    /// (`field.0.weight`).
    pub fn sequential(field: &str) -> Self {
        Self {
            renames: vec![(r"^(\d+)\.".into(), format!("{field}.$1."))],
            export_renames: vec![(format!(r"^{field}\.(\d+)\."), "$1.".into())],
        }
    }
}

fn remapper(pairs: &[(String, String)]) -> Result<KeyRemapper> {
    KeyRemapper::from_patterns(
        pairs
            .iter()
            .map(|(from, to)| (from.as_str(), to.as_str()))
            .collect(),
    )
    .map_err(|e| ModelError::InvalidConfig(format!("bad key mapping: {e}")))
}

/// An error unless `path` is a file that can be opened, saying why not as the operating system
/// does (no such file, a folder, a loop of symbolic links, no permission).
pub(crate) fn check_readable(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => std::fs::File::open(path)
            .map(|_| ())
            .map_err(|e| ModelError::checkpoint(path, e)),
        Ok(_) => Err(ModelError::checkpoint(
            path,
            "is a folder, not a weights file",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(ModelError::checkpoint(path, "no such file"))
        }
        Err(e) => Err(ModelError::checkpoint(path, e)),
    }
}

/// The tensors of a PyTorch checkpoint or safetensors file, keyed by their names in the file.
fn read_tensors(path: &Path) -> Result<Vec<PackTensor>> {
    crate::weights::check_readable(path)?;
    match WeightFormat::of(path)? {
        WeightFormat::Safetensors => {
            let mut store = SafetensorsStore::from_file(path);
            let tensors = store.get_all_tensors().map_err(|e| {
                ModelError::checkpoint(path, format!("not a readable safetensors file: {e}"))
            })?;
            Ok(tensors.values().cloned().collect())
        }
        WeightFormat::Pytorch => {
            let reader = PytorchReader::new(path).map_err(|e| {
                ModelError::checkpoint(path, format!("not a readable PyTorch checkpoint: {e}"))
            })?;
            Ok(reader
                .into_tensors()
                .into_values()
                .map(bridge::from_pytorch)
                .collect())
        }
        WeightFormat::Burn => Err(ModelError::checkpoint(
            path,
            "a Burn record is not a PyTorch state dict; load it with `load_weights`",
        )),
    }
}

/// The float tensors of a file as `f32`, every value checked finite.
///
/// F16, BF16 and F64 tensors are converted (the networks compute in `f32`; a tensor of another
/// float type would load and then fail at the first forward pass); a NaN or infinite value is
/// an error naming the tensor, since it would give plausible-looking but meaningless outputs.
/// Integer and boolean tensors pass unchanged. The second value counts the converted tensors
/// by their original type.
fn as_finite_f32(
    tensors: Vec<PackTensor>,
    path: &Path,
) -> Result<(Vec<PackTensor>, BTreeMap<&'static str, usize>)> {
    let mut converted = BTreeMap::new();
    let mut out = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        let kind = match tensor.dtype {
            DType::F32 | DType::Flex32 => None,
            DType::F16 => Some("F16"),
            DType::BF16 => Some("BF16"),
            DType::F64 => Some("F64"),
            _ => {
                out.push(tensor);
                continue;
            }
        };
        let (name, dtype, shape, id, bytes) = tensor
            .into_parts()
            .map_err(|e| ModelError::checkpoint(path, format!("a tensor cannot be read: {e}")))?;
        let raw: &[u8] = &bytes;
        let values: Vec<f32> = match dtype {
            DType::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            DType::BF16 => raw
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            // Values beyond f32's range become infinite and are refused below.
            DType::F64 => raw
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
                .collect(),
            _ => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect(),
        };
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::checkpoint(
                path,
                format!(
                    "tensor {name} holds a non-finite value ({} at flat index {index}{}): the \
                     weights are broken",
                    values[index],
                    kind.map_or(String::new(), |k| format!(" after conversion from {k}")),
                ),
            ));
        }
        let bytes = match kind {
            None => bytes,
            Some(kind) => {
                *converted.entry(kind).or_insert(0) += 1;
                Bytes::from_bytes_vec(values.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
        };
        let dtype = if kind.is_some() { DType::F32 } else { dtype };
        out.push(PackTensor::new(name, dtype, shape, id, bytes));
    }
    Ok((out, converted))
}

/// What loading `path` converts: e.g. "12 F16 tensors converted to f32", or `None` when every
/// float tensor is already `f32` (also for a Burn record, which this crate writes in `f32`).
pub fn float_conversion_note(path: &Path) -> Result<Option<String>> {
    if WeightFormat::of(path)? == WeightFormat::Burn {
        return Ok(None);
    }
    let (_, converted) = as_finite_f32(read_tensors(path)?, path)?;
    if converted.is_empty() {
        return Ok(None);
    }
    let kinds: Vec<String> = converted
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    Ok(Some(format!(
        "{}: {} tensors converted to f32",
        path.display(),
        kinds.join(" and ")
    )))
}

/// Steps 1 to 3 of the key mapping: unwrap, strip `module.`, drop `num_batches_tracked`.
fn unwrap_state_dict(mut tensors: Vec<PackTensor>, model_paths: &[String]) -> Vec<PackTensor> {
    let under = |prefix: &str, name: &str| name.starts_with(prefix) && name.len() > prefix.len();
    for wrapper in WRAPPER_KEYS {
        let prefix = format!("{wrapper}.");
        let model_uses_it = model_paths.iter().any(|p| p.starts_with(&prefix));
        if !model_uses_it && tensors.iter().any(|t| under(&prefix, &t.name)) {
            tensors.retain(|t| under(&prefix, &t.name));
            for tensor in &mut tensors {
                tensor.name = tensor.name[prefix.len()..].to_string();
            }
            break;
        }
    }
    if !tensors.is_empty() && tensors.iter().all(|t| under("module.", &t.name)) {
        for tensor in &mut tensors {
            tensor.name = tensor.name["module.".len()..].to_string();
        }
    }
    tensors.retain(|t| !t.name.ends_with("num_batches_tracked"));
    tensors
}

fn shape_of(tensor: &PackTensor) -> String {
    format!("{:?}", tensor.shape.as_slice())
}

/// At most this many names per kind of problem go into an error message.
const MAX_LISTED: usize = 24;

fn listing(mut names: Vec<String>) -> String {
    names.sort();
    let more = names.len().saturating_sub(MAX_LISTED);
    let mut text = names
        .into_iter()
        .take(MAX_LISTED)
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Each parameter of the model by its Burn path, with its PyTorch name (through the export
/// renames of `mapping`) and shape.
fn pytorch_view<M: Module>(
    module: &M,
    mapping: &KeyMapping,
) -> Result<BTreeMap<String, (String, String)>> {
    parameters(module, mapping, shape_of)
}

/// Each parameter of the model by its Burn path, with its PyTorch name and `describe` of it.
fn parameters<M: Module, T>(
    module: &M,
    mapping: &KeyMapping,
    describe: impl Fn(&PackTensor) -> T,
) -> Result<BTreeMap<String, (String, T)>> {
    let burn = module.collect(None, None, true);
    let torch = module.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true);
    let (torch, _) = remapper(&mapping.export_renames)?.remap(torch);
    Ok(burn
        .iter()
        .zip(&torch)
        .map(|(b, t)| (b.name.clone(), (t.name.clone(), describe(t))))
        .collect())
}

/// The class count a PyTorch weights file was saved with: `two` and `three` are the same
/// architecture built for two and for three classes, so a parameter whose shape differs between
/// them follows the class count, and the file's tensor of that name gives it. `None` when no
/// such tensor is in the file.
pub(crate) fn class_count_in_file<M: Module>(
    two: &M,
    three: &M,
    path: &Path,
    mapping: &KeyMapping,
) -> Result<Option<usize>> {
    let dims = |module: &M| parameters(module, mapping, |t| t.shape.as_slice().to_vec());
    let (small, large) = (dims(two)?, dims(three)?);
    let model_paths: Vec<String> = small.keys().cloned().collect();
    let tensors = unwrap_state_dict(read_tensors(path)?, &model_paths);
    for (param, (name, a)) in &small {
        let Some((_, b)) = large.get(param) else {
            continue;
        };
        let Some(axis) = (0..a.len().min(b.len())).find(|&i| a[i] == 2 && b[i] == 3) else {
            continue;
        };
        if let Some(tensor) = tensors.iter().find(|t| &t.name == name)
            && tensor.shape.as_slice().len() == a.len()
        {
            return Ok(Some(tensor.shape.as_slice()[axis]));
        }
    }
    Ok(None)
}

/// Turns an incomplete or inconsistent load into an error naming every offending tensor, with
/// PyTorch's names and shapes. `found` holds the shapes of the file's tensors by their names in
/// the file, `file_names` those names by the names the architecture's renames gave them.
fn check_complete(
    result: &ApplyResult,
    expected: &BTreeMap<String, (String, String)>,
    found: &BTreeMap<String, String>,
    file_names: &BTreeMap<String, String>,
) -> std::result::Result<(), String> {
    let torch_name = |path: &str| {
        expected
            .get(path)
            .map_or(path.to_owned(), |(name, _)| name.clone())
    };
    let mut problems = Vec::new();
    if !result.missing.is_empty() {
        let names = result
            .missing
            .iter()
            .map(|(path, _)| match expected.get(path) {
                Some((name, shape)) => format!("{name} {shape}"),
                None => path.clone(),
            })
            .collect::<Vec<_>>();
        problems.push(format!(
            "{} missing from the file: {}",
            names.len(),
            listing(names)
        ));
    }
    if !result.unused.is_empty() {
        let names = result
            .unused
            .iter()
            .map(|path| file_names.get(path).unwrap_or(path))
            .map(|name| format!("{name} {}", found.get(name).map_or("", String::as_str)))
            .collect::<Vec<_>>();
        problems.push(format!(
            "{} unexpected in the file: {}",
            names.len(),
            listing(names)
        ));
    }
    let mut mismatched = Vec::new();
    for error in &result.errors {
        match error {
            ApplyError::ShapeMismatch { path, .. } => {
                let name = torch_name(path);
                let model = expected.get(path).map_or("?", |(_, shape)| shape.as_str());
                let file = found.get(&name).map_or("?", String::as_str);
                mismatched.push(format!("{name} (model {model}, file {file})"));
            }
            other => problems.push(other.to_string()),
        }
    }
    if !mismatched.is_empty() {
        problems.push(format!(
            "{} with a different shape: {}",
            mismatched.len(),
            listing(mismatched)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Loads the PyTorch state dict at `path` (safetensors or `torch.save` file) into `module`.
///
/// Fails, naming the tensors, when a parameter of the module is missing from the file, a tensor
/// of the file has no place in the module, or shapes differ; the module is never partly loaded.
pub fn load_pytorch<M: Module>(module: M, path: &Path, mapping: &KeyMapping) -> Result<M> {
    let (tensors, _) = as_finite_f32(read_tensors(path)?, path)?;
    let expected = pytorch_view(&module, mapping)?;
    let model_paths: Vec<String> = expected.keys().cloned().collect();
    let tensors = unwrap_state_dict(tensors, &model_paths);
    if tensors.is_empty() {
        return Err(ModelError::checkpoint(path, "the file holds no tensors"));
    }
    let (tensors, renamed) = remapper(&mapping.renames)?.remap(tensors);
    let file_names: BTreeMap<String, String> = renamed.into_iter().collect();
    let found: BTreeMap<String, String> = tensors
        .iter()
        .map(|t| (file_names[&t.name].clone(), shape_of(t)))
        .collect();
    let mut module = module;
    let result = module.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    check_complete(&result, &expected, &found, &file_names)
        .map_err(|problem| ModelError::checkpoint(path, problem))?;
    Ok(module)
}

/// Writes the parameters of `module` to `path` as a safetensors file in PyTorch's layout and
/// names (the inverse of [`load_pytorch`] with the same `mapping`), replacing any file there.
pub fn export_safetensors<M: Module>(module: &M, path: &Path, mapping: &KeyMapping) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        .overwrite(true)
        .remap(remapper(&mapping.export_renames)?);
    module
        .save_into(&mut store)
        .map_err(|e| ModelError::checkpoint(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use adv_core::to_floats;
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
    use burn::tensor::{Device, Tensor};

    #[derive(Module, Debug)]
    struct Tiny {
        fc: Linear,
        bn: BatchNorm,
    }

    fn tiny(device: &Device) -> Tiny {
        Tiny {
            fc: LinearConfig::new(3, 2).init(device),
            bn: BatchNormConfig::new(2).init(device),
        }
    }

    fn outputs(model: &Tiny) -> Vec<f32> {
        let x = Tensor::<2>::from_floats(
            [[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]],
            &model.fc.weight.device(),
        );
        to_floats(model.bn.forward(model.fc.forward(x)))
    }

    #[test]
    fn export_then_import_round_trips_in_pytorch_layout() {
        let device = Device::default();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.safetensors");
        let model = tiny(&device).valid();
        export_safetensors(&model, &path, &KeyMapping::identity()).unwrap();
        let mut names: Vec<(String, Vec<usize>)> = read_tensors(&path)
            .unwrap()
            .iter()
            .map(|t| (t.name.clone(), t.shape.to_vec()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("bn.bias", vec![2]),
                ("bn.running_mean", vec![2]),
                ("bn.running_var", vec![2]),
                ("bn.weight", vec![2]),
                ("fc.bias", vec![2]),
                ("fc.weight", vec![2, 3]),
            ]
            .map(|(n, s)| (n.to_string(), s))
        );
        let loaded = load_pytorch(tiny(&device), &path, &KeyMapping::identity())
            .unwrap()
            .valid();
        assert_eq!(outputs(&loaded), outputs(&model));
    }

    #[test]
    fn wrappers_data_parallel_prefixes_and_counters_are_unwrapped() {
        let named = |name: &str| {
            bridge::from_data(
                burn::tensor::TensorData::new(vec![0.0f32], [1]),
                name.to_string(),
                None,
            )
        };
        let tensors = vec![
            named("state_dict.module.fc.weight"),
            named("state_dict.module.bn.num_batches_tracked"),
            named("optimizer.state.0.momentum"),
        ];
        let names: Vec<String> = unwrap_state_dict(tensors, &["fc.weight".into()])
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["fc.weight"]);
        // A model that has a `model` field keeps the `model.` keys.
        let names: Vec<String> =
            unwrap_state_dict(vec![named("model.weight")], &["model.weight".into()])
                .into_iter()
                .map(|t| t.name)
                .collect();
        assert_eq!(names, ["model.weight"]);
    }

    #[test]
    fn sequential_mapping_renames_both_ways() {
        let mapping = KeyMapping::sequential("layers");
        let named = |name: &str| {
            bridge::from_data(
                burn::tensor::TensorData::new(vec![0.0f32], [1]),
                name.to_string(),
                None,
            )
        };
        let (renamed, _) = remapper(&mapping.renames)
            .unwrap()
            .remap(vec![named("7.bias")]);
        assert_eq!(renamed[0].name, "layers.7.bias");
        let (back, _) = remapper(&mapping.export_renames).unwrap().remap(renamed);
        assert_eq!(back[0].name, "7.bias");
    }

    #[test]
    fn missing_unexpected_and_misshapen_tensors_are_named() {
        let device = Device::default();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.safetensors");
        #[derive(Module, Debug)]
        struct Other {
            fc: Linear,
            extra: Linear,
        }
        let other = Other {
            fc: LinearConfig::new(4, 2).init(&device),
            extra: LinearConfig::new(1, 1).init(&device),
        };
        export_safetensors(&other, &path, &KeyMapping::identity()).unwrap();
        let error = load_pytorch(tiny(&device), &path, &KeyMapping::identity())
            .unwrap_err()
            .to_string();
        for needle in [
            "4 missing from the file: bn.bias [2], bn.running_mean [2], bn.running_var [2], bn.weight [2]",
            "2 unexpected in the file: extra.bias [1], extra.weight [1, 1]",
            "1 with a different shape: fc.weight (model [2, 3], file [2, 4])",
        ] {
            assert!(error.contains(needle), "{needle} not in: {error}");
        }
    }

    #[test]
    fn problems_are_named_as_in_the_file_through_the_renames() {
        let device = Device::default();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("renamed.safetensors");
        // PyTorch calls our `fc` `Linear_1`.
        let mapping = KeyMapping {
            renames: vec![(r"^Linear_1\.".into(), "fc.".into())],
            export_renames: vec![(r"^fc\.".into(), "Linear_1.".into())],
        };
        #[derive(Module, Debug)]
        struct Wider {
            fc: Linear,
        }
        let wider = Wider {
            fc: LinearConfig::new(4, 2).init(&device),
        };
        export_safetensors(&wider, &path, &mapping).unwrap();
        let error = load_pytorch(tiny(&device), &path, &mapping)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("1 with a different shape: Linear_1.weight (model [2, 3], file [2, 4])"),
            "{error}"
        );
        #[derive(Module, Debug)]
        struct Normalizer {
            bn: BatchNorm,
        }
        let normalizer = Normalizer {
            bn: BatchNormConfig::new(2).init(&device),
        };
        let error = load_pytorch(normalizer, &path, &mapping)
            .unwrap_err()
            .to_string();
        for needle in [
            "4 missing from the file: bn.bias [2]",
            "2 unexpected in the file: Linear_1.bias [2], Linear_1.weight [2, 4]",
        ] {
            assert!(error.contains(needle), "{needle} not in: {error}");
        }
    }

    #[test]
    fn truncated_and_foreign_files_are_clear_errors() {
        let device = Device::default();
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("tiny.safetensors");
        export_safetensors(&tiny(&device), &good, &KeyMapping::identity()).unwrap();
        let bytes = std::fs::read(&good).unwrap();
        let truncated = dir.path().join("truncated.safetensors");
        std::fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
        let text = dir.path().join("notes.pth");
        std::fs::write(&text, b"these are not weights").unwrap();
        for (path, needle) in [
            (truncated, "safetensors"),
            (text, "PyTorch checkpoint"),
            (dir.path().join("absent.pt"), "no such file"),
            (dir.path().join("weights.h5"), "unknown weights format"),
        ] {
            std::fs::write(dir.path().join("weights.h5"), b"x").unwrap();
            let error = load_pytorch(tiny(&device), &path, &KeyMapping::identity())
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{needle} not in: {error}");
        }
    }
}
