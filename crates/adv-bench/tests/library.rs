//! The library examples of the README and docs/library.md, compiled and run.

use adv_attacks::{AttackConfig, PgdConfig, RunOptions, attack_batch};
use adv_bench::{EvalPlan, Progress, evaluate};
use adv_core::{Norm, ThreatModel, burn::tensor::Device};
use adv_defenses::{LrSchedule, Optimizer, TrainConfig, train};

#[test]
fn readme_example_attacks_a_batch() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::default();
    let data = adv_core::data::embedded_digits();
    let model = adv_models::ModelConfig::from_name("small-cnn", data.shape(), 10)?.init(&device)?;
    let threat = ThreatModel::new(Norm::Linf, 0.1)?;
    let pgd = PgdConfig {
        steps: 20,
        ..Default::default()
    }
    .init()?;
    let batch = data.batch(0, 128, &device);
    let outcome = attack_batch(&pgd, &model, &batch, &threat, &RunOptions::default())?;
    assert_eq!(outcome.robust().len(), 128);
    Ok(())
}

#[test]
fn library_guide_trains_and_evaluates() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::default();
    let (train_data, test_data) = adv_core::data::embedded_digits().split(1437);
    let architecture = adv_models::ModelConfig::from_name("mlp", train_data.shape(), 10)?;
    let config = TrainConfig {
        epochs: 10,
        optimizer: Optimizer::Sgd {
            momentum: 0.9,
            nesterov: false,
        },
        learning_rate: 0.05,
        weight_decay: 5e-4,
        schedule: LrSchedule::Cosine,
        label_smoothing: 0.1,
        ..Default::default()
    };
    let trained = train(&architecture, &config, &train_data, &device, &mut |_| {})?;
    let plan = EvalPlan {
        attacks: vec![
            AttackConfig::named("fgsm")?,
            AttackConfig::parse("pgd:steps=20")?,
        ],
        threat: ThreatModel::new(Norm::Linf, 0.0)?,
        epsilons: vec![0.05, 0.1],
        batch_size: 128,
        seed: 0,
        confidence: 0.0,
        epsilon_curves: None,
    };
    let report = evaluate(
        &trained.model,
        &test_data,
        &plan,
        &device,
        &Progress::hidden(),
    )?;
    assert!(
        report.clean_accuracy > 0.8,
        "ten epochs of SGD reach {}",
        report.clean_accuracy
    );
    assert_eq!(report.results.len(), 4);
    Ok(())
}

struct LinearProbe {
    layer: adv_core::burn::nn::Linear,
    mean: f32,
    std: f32,
}

impl adv_core::Classifier for LinearProbe {
    fn forward(
        &self,
        images: adv_core::burn::tensor::Tensor<4>,
    ) -> adv_core::burn::tensor::Tensor<2> {
        let n = images.dims()[0];
        let normalized = images.sub_scalar(self.mean).div_scalar(self.std);
        self.layer.forward(normalized.reshape([n as i32, -1]))
    }
}

#[test]
fn a_user_classifier_gets_input_gradients_and_is_attacked() -> Result<(), Box<dyn std::error::Error>>
{
    let device = Device::default();
    let data = adv_core::data::embedded_digits();
    let model = LinearProbe {
        layer: adv_core::burn::nn::LinearConfig::new(64, 10).init(&device),
        mean: 0.5,
        std: 0.25,
    };
    let mut batch = data.batch(0, 16, &device);
    // Label each image with the model's own prediction, so that every sample is attacked.
    batch.labels = adv_core::Classifier::forward(&model, batch.images.clone())
        .argmax(1)
        .reshape([16]);
    let threat = ThreatModel::new(Norm::Linf, 0.2)?;
    let fgsm = adv_attacks::FgsmConfig::default().init()?;
    let outcome = attack_batch(&fgsm, &model, &batch, &threat, &RunOptions::default())?;
    let attacked: Vec<f32> = outcome
        .attacked
        .iter()
        .zip(&outcome.distances)
        .filter(|(a, _)| **a)
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(attacked.len(), 16);
    assert!(
        attacked.iter().all(|&d| d > 0.0 && d <= 0.2 + 1e-6),
        "FGSM moves every attacked sample: {attacked:?}"
    );
    Ok(())
}
