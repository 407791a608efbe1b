//! `adv-bench eval`: a model, a data set, attacks and epsilons in; a table and a report out.

use std::path::{Path, PathBuf};

use adv_attacks::{AttackConfig, apply_shared};
use adv_bench::{
    ArchitectureChoice, BenchError, DataSource, EpsilonSearch, EvalPlan, LoadedModel,
    NormalizationSpec, Progress, Result, RunContext, ensemble, evaluate, load_model,
};
use adv_core::burn::tensor::Device;
use adv_core::{Budget, Dataset, Goal, Knowledge, Norm, TargetSelection, ThreatModel};
use adv_models::{Combine, ModelConfig, Normalization};
use clap::Args;

use adv_bench::parse_epsilon;

use super::BackendArgs;
use super::options::AttackFlags;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct EvalArgs {
    /// Built-in architecture: mlp, small-cnn, resnet20, resnet32, resnet44, resnet56,
    /// resnet110 (CIFAR ResNets, akamaster layout), mnist-cnn, wrn-28-10, wrn-34-10 (any
    /// wrn-DEPTH-WIDTH), preact-resnet18 (RobustBench layout), torchvision-resnet18,
    /// torchvision-resnet50 or inception-v3 (ImageNet, torchvision layout; inception-v3 takes
    /// 299x299 images, at least 75x75); may be left out for a
    /// checkpoint written by `train`, whose architecture is in the JSON file beside the weights.
    #[arg(long, conflicts_with = "arch")]
    model: Option<String>,
    /// Architecture described by a JSON or TOML file (a list of conv/linear/pool/batch-norm/
    /// activation/flatten layers, see docs/evaluate-your-pytorch-model.md).
    #[arg(long)]
    arch: Option<PathBuf>,
    /// Weights: a Burn record (`.bpk`) or a PyTorch state dict (`.safetensors`, `.pt`, `.pth`,
    /// `.th`, `.model`, `.bin`, `.ckpt`). Repeat it with --ensemble to evaluate several as one.
    #[arg(long, required = true)]
    weights: Vec<PathBuf>,
    /// Evaluate the --weights files as one ensemble averaging their logits or probabilities.
    #[arg(long, value_parser = parse_combine)]
    ensemble: Option<Combine>,
    /// Input normalization inside the model, `MEAN,MEAN,MEAN/STD,STD,STD` per channel (values
    /// in [0, 1] units), or `none`; replaces the architecture's default (resnet* use the
    /// ImageNet statistics of the akamaster weights, mnist-cnn 0.1307/0.3081).
    #[arg(long, value_parser = parse_normalization)]
    normalization: Option<NormalizationSpec>,
    /// Data: a file or folder (IDX, .npy, CIFAR-10 .bin, image folder, digits .csv[.gz]) or
    /// the embedded `digits`, `digits:train`, `digits:test`.
    #[arg(long)]
    data: String,
    /// Labels file, for formats that keep labels apart (.npy, IDX).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Evaluate only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
    /// Attack to run (repeatable; default fgsm and pgd): NAME or NAME:key=value,key=value
    /// (e.g. pgd:steps=100,step-size=1/255). `adv-bench attacks` lists them with their options.
    #[arg(long = "attack")]
    attacks: Vec<String>,
    #[command(flatten)]
    options: AttackFlags,
    /// Norm of the threat model.
    #[arg(long, default_value = "linf")]
    norm: Norm,
    /// Radius (repeatable), as a decimal or a fraction such as 8/255. Default: 8/255 (linf),
    /// 0.5 (l2), 12 (l1).
    #[arg(long = "eps", value_parser = parse_epsilon)]
    epsilons: Vec<f32>,
    /// What the attacker may use of the model: white-box, score-based or decision-based (an
    /// attack needing more is an error).
    #[arg(long, default_value = "white-box")]
    knowledge: String,
    /// Queries per sample the attacker may make (forward passes, gradient passes included).
    #[arg(long)]
    query_budget: Option<u64>,
    /// untargeted, targeted, or targeted-or-misclassified.
    #[arg(long, default_value = "untargeted")]
    goal: String,
    /// Target of the targeted goals: random, least-likely, next, or a class index.
    #[arg(long, default_value = "random")]
    target: String,
    /// Logit margin an example needs to count as adversarial.
    #[arg(long, default_value_t = 0.0)]
    confidence: f32,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Samples per batch.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Also compute accuracy-vs-epsilon curves: a per-sample search for the minimal epsilon of
    /// every attack (exponential bracketing, then 8 bisection steps), up to --curve-max.
    #[arg(long)]
    curves: bool,
    /// Largest radius of the curves.
    #[arg(long, default_value = "1", value_parser = parse_epsilon)]
    curve_max: f32,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the Markdown report here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    #[command(flatten)]
    backend: BackendArgs,
}

pub fn run(args: EvalArgs) -> Result<()> {
    // Every attack, option and radius is checked before any file is read.
    let plan = plan(&args)?;
    let data_path = Path::new(&args.data);
    let sidecars: Vec<PathBuf> = args
        .weights
        .iter()
        .map(|w| adv_models::sidecar_path(w))
        .collect();
    let mut inputs: Vec<(&str, &Path)> = vec![("--data", data_path)];
    inputs.extend(args.labels.as_deref().map(|p| ("--labels", p)));
    inputs.extend(args.arch.as_deref().map(|p| ("--arch", p)));
    inputs.extend(args.weights.iter().map(|p| ("--weights", p.as_path())));
    inputs.extend(
        sidecars
            .iter()
            .map(|p| ("the --weights' architecture sidecar", p.as_path())),
    );
    let mut outputs: Vec<(&str, &Path)> = Vec::new();
    outputs.extend(args.json.as_deref().map(|p| ("--json", p)));
    outputs.extend(args.markdown.as_deref().map(|p| ("--markdown", p)));
    adv_bench::check_distinct(&inputs, &outputs)?;
    let spec = args.backend.spec()?;
    let device = spec.device()?;
    let source = DataSource::parse(&args.data, args.labels.as_deref());
    let mut data = source.load()?;
    if let Some(limit) = args.limit {
        data = data.take(limit);
    }
    let choice = ArchitectureChoice {
        name: args.model.clone(),
        file: args.arch.clone(),
        normalization: args.normalization.clone(),
    };
    let (model, description) = model(&args, &choice, &data, &device)?;
    let mut report = evaluate(&model, &data, &plan, &device, &Progress::terminal())?;
    report.context = RunContext {
        model: description,
        data: source.describe(),
        backend: spec.describe(),
        version: env!("CARGO_PKG_VERSION").into(),
        training: match args.weights.as_slice() {
            [weights] if args.ensemble.is_none() && adv_models::sidecar_path(weights).is_file() => {
                adv_models::read_checkpoint_training(weights)?
            }
            _ => None,
        },
    };
    println!("{}", report.summary());
    if let Some(path) = &args.json {
        report.write_json(path)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.markdown {
        report.write_markdown(path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The model of `--weights`, or the ensemble of all of them.
fn model(
    args: &EvalArgs,
    choice: &ArchitectureChoice,
    data: &Dataset,
    device: &Device,
) -> Result<(LoadedModel, String)> {
    let describe = |config: &ModelConfig, weights: &Path| {
        format!("{} ({})", config.describe(), weights.display())
    };
    match (args.ensemble, args.weights.as_slice()) {
        (None, [weights]) => {
            let (model, config) = load_model(choice, weights, data, device)?;
            Ok((
                LoadedModel::Single(Box::new(model)),
                describe(&config, weights),
            ))
        }
        (None, _) => Err(BenchError::InvalidArgument(
            "several --weights files need --ensemble logits or --ensemble probabilities".into(),
        )),
        (Some(combine), files) => {
            let members = files
                .iter()
                .map(|weights| load_model(choice, weights, data, device))
                .collect::<Result<Vec<_>>>()?;
            ensemble(members, combine, device)
        }
    }
}

fn plan(args: &EvalArgs) -> Result<EvalPlan> {
    let names = if args.attacks.is_empty() {
        vec!["fgsm".to_owned(), "pgd".to_owned()]
    } else {
        args.attacks.clone()
    };
    let attacks = names
        .iter()
        .map(|name| AttackConfig::parse(name))
        .collect::<adv_attacks::Result<Vec<_>>>()?;
    let attacks = apply_shared(&attacks, &args.options.settings)?;
    let epsilons = if args.epsilons.is_empty() {
        vec![match args.norm {
            Norm::Linf => 8.0 / 255.0,
            Norm::L2 => 0.5,
            Norm::L1 => 12.0,
        }]
    } else {
        args.epsilons.clone()
    };
    let knowledge: Knowledge = serde_json::from_value(serde_json::Value::String(
        args.knowledge.clone(),
    ))
    .map_err(|_| {
        BenchError::InvalidArgument(format!(
            "unknown knowledge '{}' (expected white-box, score-based or decision-based)",
            args.knowledge
        ))
    })?;
    let mut threat = ThreatModel::new(args.norm, 0.0)?
        .with_goal(goal(&args.goal, &args.target)?)
        .with_knowledge(knowledge);
    if let Some(queries) = args.query_budget {
        threat = threat.with_budget(Budget::Queries(queries))?;
    }
    let plan = EvalPlan {
        attacks,
        threat,
        epsilons,
        batch_size: args.batch_size,
        seed: args.seed,
        confidence: args.confidence,
        epsilon_curves: args.curves.then(|| EpsilonSearch {
            initial: args.curve_max / 256.0,
            max: args.curve_max,
            bisection_steps: 8,
            skip: Vec::new(),
        }),
    };
    plan.check()?;
    Ok(plan)
}

fn goal(goal: &str, target: &str) -> Result<Goal> {
    let selection = || -> Result<TargetSelection> {
        Ok(match target {
            "random" => TargetSelection::Random,
            "least-likely" => TargetSelection::LeastLikely,
            "next" => TargetSelection::Next,
            class => TargetSelection::Fixed(class.parse().map_err(|_| {
                BenchError::InvalidArgument(format!(
                    "unknown target '{class}' (expected random, least-likely, next or a class index)"
                ))
            })?),
        })
    };
    match goal {
        "untargeted" => Ok(Goal::Untargeted),
        "targeted" => Ok(Goal::Targeted(selection()?)),
        "targeted-or-misclassified" => Ok(Goal::TargetedOrMisclassified(selection()?)),
        other => Err(BenchError::InvalidArgument(format!(
            "unknown goal '{other}' (expected untargeted, targeted or targeted-or-misclassified)"
        ))),
    }
}

/// Reads `MEAN,MEAN,MEAN/STD,STD,STD` or `none`.
fn parse_normalization(text: &str) -> std::result::Result<NormalizationSpec, String> {
    if text.trim() == "none" {
        return Ok(NormalizationSpec::Off("none".into()));
    }
    let usage =
        || format!("cannot read normalization '{text}' (write MEAN,MEAN,MEAN/STD,STD,STD or none)");
    let (mean, std) = text.split_once('/').ok_or_else(usage)?;
    let values = |list: &str| -> std::result::Result<Vec<f32>, String> {
        list.split(',')
            .map(|v| v.trim().parse::<f32>().map_err(|_| usage()))
            .collect()
    };
    Normalization::new(values(mean)?, values(std)?)
        .map(NormalizationSpec::On)
        .map_err(|e| e.to_string())
}

fn parse_combine(text: &str) -> std::result::Result<Combine, String> {
    Combine::ALL
        .into_iter()
        .find(|combine| combine.name() == text)
        .ok_or_else(|| {
            format!("unknown ensemble averaging '{text}' (expected logits or probabilities)")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizations_parse_per_channel_or_none() {
        let NormalizationSpec::On(n) = parse_normalization("0.5,0.25,0/1,2,0.5").unwrap() else {
            panic!("expected a normalization")
        };
        assert_eq!((n.mean, n.std), (vec![0.5, 0.25, 0.0], vec![1.0, 2.0, 0.5]));
        assert!(matches!(
            parse_normalization("none"),
            Ok(NormalizationSpec::Off(_))
        ));
        for bad in ["0.5", "0.5/0", "0.5,0.5/1", "a/b"] {
            assert!(parse_normalization(bad).is_err(), "{bad}");
        }
    }
}
