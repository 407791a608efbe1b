//! Every objective on a tiny model: it lowers its own loss over a few epochs; TRADES with beta 0
//! is standard training exactly; a killed run resumes to the weights of an uninterrupted one.

use adv_core::burn::tensor::Device;
use adv_core::{Dataset, to_floats};
use adv_defenses::{
    EarlyStopping, ObjectiveConfig, TrainConfig, TrainRun, objectives, train, train_with,
};
use adv_models::ModelConfig;

/// One training at a time in this test binary: flex's parallel reductions are not bitwise
/// repeatable when other trainings compete for its thread pool, and several tests compare
/// weights bitwise.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn data() -> Dataset {
    adv_core::data::embedded_digits().take(160)
}

fn mlp(data: &Dataset) -> ModelConfig {
    ModelConfig::from_name("mlp", data.shape(), 10).unwrap()
}

/// Small settings of every objective: few inner steps, few replays, narrow generators.
fn small(name: &str) -> ObjectiveConfig {
    let config = ObjectiveConfig::named(name).unwrap();
    let keys: Vec<String> = (config.info().config.specs)()
        .into_iter()
        .map(|s| s.key)
        .collect();
    let settings: Vec<adv_core::Setting> = [
        ("eps", "0.1"),
        ("steps", "3"),
        ("replays", "2"),
        ("filters", "4"),
        ("latent", "4"),
    ]
    .into_iter()
    .filter(|(key, _)| keys.iter().any(|k| k == key))
    .map(|(key, value)| adv_core::Setting::new(key, value))
    .collect();
    config.with(&settings).unwrap()
}

fn config(objective: ObjectiveConfig, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 3e-3,
        seed: 11,
        objective,
        ..TrainConfig::default()
    }
}

fn outputs(model: &adv_models::Model, data: &Dataset) -> Vec<f32> {
    to_floats(model.forward(data.batch(0, 16, &Device::default()).images))
}

#[test]
fn every_objective_lowers_its_loss() {
    let _serial = serial();
    let data = data();
    // Ens-AT's surrogate: an untrained model of the same architecture.
    let dir = tempfile::tempdir().unwrap();
    let surrogate = dir.path().join("surrogate.bpk");
    let architecture = mlp(&data);
    adv_models::save_checkpoint(
        architecture.init(&Device::default()).unwrap(),
        &architecture,
        &surrogate,
    )
    .unwrap();
    for info in objectives() {
        let mut objective = small(info.name);
        if info.name == "ens-at" {
            let path = surrogate.display().to_string();
            objective = objective
                .with(&[adv_core::Setting::new("surrogates", path)])
                .unwrap();
        }
        let trained = train(
            &mlp(&data),
            &config(objective, 6),
            &data,
            &Device::default(),
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        let (first, last) = (trained.history[0].loss, trained.history[5].loss);
        assert!(last < first, "{}: loss {first} -> {last}", info.name);
    }
}

#[test]
fn trades_with_beta_zero_is_standard_training() {
    let _serial = serial();
    let data = data();
    let standard = train(
        &mlp(&data),
        &config(ObjectiveConfig::named("standard").unwrap(), 2),
        &data,
        &Device::default(),
        &mut |_| {},
    )
    .unwrap();
    let trades = ObjectiveConfig::parse("trades:beta=0").unwrap();
    let trades = train(
        &mlp(&data),
        &config(trades, 2),
        &data,
        &Device::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        outputs(&standard.model, &data),
        outputs(&trades.model, &data)
    );
    assert_eq!(standard.history, trades.history);
}

/// Trains `epochs` epochs, "killed" (a panic from the progress callback) after `kill_after`
/// epochs, then resumed with the same settings; the result against an uninterrupted run.
fn resume_matches(objective: ObjectiveConfig, early_stopping: EarlyStopping) {
    let data = data();
    let dir = tempfile::tempdir().unwrap();
    let run = TrainRun {
        checkpoint_dir: Some(dir.path().join("checkpoint")),
    };
    let settings = TrainConfig {
        holdout: 0.2,
        early_stopping,
        eval_eps: Some(0.1),
        ..config(objective.clone(), 4)
    };
    let uninterrupted = train(
        &mlp(&data),
        &settings,
        &data,
        &Device::default(),
        &mut |_| {},
    )
    .unwrap();
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = train_with(
            &mlp(&data),
            &settings,
            &data,
            &Device::default(),
            &run,
            &mut |stats| {
                if stats.epoch == 2 {
                    panic!("killed after epoch 2");
                }
            },
        );
    }));
    assert!(killed.is_err());
    let mut resumed_epochs = Vec::new();
    let resumed = train_with(
        &mlp(&data),
        &settings,
        &data,
        &Device::default(),
        &run,
        &mut |stats| resumed_epochs.push(stats.epoch),
    )
    .unwrap();
    assert_eq!(
        resumed_epochs,
        vec![3, 4],
        "{}: resumed after epoch 2",
        objective.spec()
    );
    assert_eq!(
        outputs(&uninterrupted.model, &data),
        outputs(&resumed.model, &data),
        "{}",
        objective.spec()
    );
    assert_eq!(uninterrupted.history, resumed.history);
    assert_eq!(uninterrupted.kept_epoch, resumed.kept_epoch);
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_weights() {
    let _serial = serial();
    resume_matches(
        ObjectiveConfig::parse("pgd-at:eps=0.1,steps=2").unwrap(),
        EarlyStopping::BestRobust,
    );
    // Free-AT keeps a perturbation across minibatches: the checkpoint holds it too.
    resume_matches(
        ObjectiveConfig::parse("free-at:eps=0.1,replays=2").unwrap(),
        EarlyStopping::None,
    );
    // ADT-IMPAM trains a generator and an encoder with optimizers of their own beside the model.
    resume_matches(
        ObjectiveConfig::parse("adt-impam:eps=0.1,filters=4,latent=4").unwrap(),
        EarlyStopping::None,
    );
}

#[test]
fn a_checkpoint_of_other_settings_is_refused() {
    let _serial = serial();
    let data = data();
    let dir = tempfile::tempdir().unwrap();
    let run = TrainRun {
        checkpoint_dir: Some(dir.path().to_path_buf()),
    };
    let standard = config(ObjectiveConfig::named("standard").unwrap(), 1);
    train_with(
        &mlp(&data),
        &standard,
        &data,
        &Device::default(),
        &run,
        &mut |_| {},
    )
    .unwrap();
    let other = TrainConfig {
        seed: 12,
        ..standard
    };
    let refused = train_with(
        &mlp(&data),
        &other,
        &data,
        &Device::default(),
        &run,
        &mut |_| {},
    );
    assert!(
        refused
            .err()
            .is_some_and(|e| e.to_string().contains("other settings or data")),
    );
}

#[test]
fn unknown_objectives_and_options_are_one_line_errors() {
    let unknown = ObjectiveConfig::parse("madry2").unwrap_err().to_string();
    assert!(unknown.contains("unknown objective 'madry2'"), "{unknown}");
    let option = ObjectiveConfig::parse("trades:decay=1")
        .unwrap_err()
        .to_string();
    assert!(
        option.contains("trades has no option 'decay' (its options: beta, eps,"),
        "{option}"
    );
    let range = ObjectiveConfig::parse("pgd-at:eps=-1")
        .unwrap_err()
        .to_string();
    assert!(range.contains("eps -1 is outside its range"), "{range}");
    let json = serde_json::to_string(&ObjectiveConfig::parse("mart:beta=5").unwrap()).unwrap();
    assert_eq!(json, "\"mart:beta=5\"");
}
