//! `cargo xtask train-speed`: one epoch of PGD-AT (10 steps) on the small CNN, ours (release
//! build, the chosen backend) and PyTorch eager (`benches/pytorch/pgd_at_epoch.py`) in one run,
//! on the same data and thread count; prints both times and the ratio.

use std::process::Command;

use clap::Args;

use super::cargo;

#[derive(Args)]
pub struct TrainSpeedArgs {
    /// Python with PyTorch [default: $ADV_TORCH_VENV/bin/python, else ~/.cache/adv/torch-venv].
    #[arg(long)]
    python: Option<String>,
    /// Fashion-MNIST IDX folder (Debian's dataset-fashion-mnist).
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    folder: String,
    /// Which split to train one epoch on: test (10,000 images) or train (60,000).
    #[arg(long, default_value = "test")]
    split: String,
    /// Radius (Linf) of the inner PGD.
    #[arg(long, default_value = "0.1")]
    eps: String,
    /// Threads for both (flex's pool and torch.set_num_threads).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Repetitions of each side; the fastest counts.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

pub fn handle(args: TrainSpeedArgs) -> Result<(), String> {
    let (idx, ours_split) = match args.split.as_str() {
        "test" => ("t10k", "fashion-mnist:test"),
        "train" => ("train", "fashion-mnist:train"),
        other => return Err(format!("--split {other}: expected test or train")),
    };
    let python = args.python.clone().unwrap_or_else(|| {
        let venv = std::env::var("ADV_TORCH_VENV").unwrap_or_else(|_| {
            format!(
                "{}/.cache/adv/torch-venv",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        format!("{venv}/bin/python")
    });
    cargo(&["build", "--release", "--quiet", "--package", "adv-bench"])?;
    let dir = std::env::temp_dir().join(format!("adv-train-speed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("pgd-at.bpk");
    let threads = args.threads.to_string();
    let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..args.repeat.max(1) {
        let stdout = run(Command::new("target/release/adv-bench")
            .env("RAYON_NUM_THREADS", &threads)
            .env("ADV_FASHION_MNIST", &args.folder)
            .args(["train", "--model", "small-cnn", "--data", ours_split])
            .args(["--objective", "pgd-at:steps=10", "--eps", &args.eps])
            .args([
                "--epochs",
                "1",
                "--batch-size",
                "32",
                "--optimizer",
                "adam",
                "--lr",
                "0.001",
            ])
            .arg("--out")
            .arg(&out))?;
        let seconds = stdout
            .lines()
            .find_map(|line| line.strip_prefix("training took "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| format!("adv-bench train printed no time:\n{stdout}"))?;
        ours = ours.min(seconds);
        let stdout = run(Command::new(&python)
            .arg("benches/pytorch/pgd_at_epoch.py")
            .args([
                "--folder",
                &args.folder,
                "--split",
                idx,
                "--eps",
                &args.eps,
                "--threads",
                &threads,
            ]))?;
        let seconds = stdout
            .split("\"seconds\": ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("the PyTorch script printed no time:\n{stdout}"))?;
        theirs = theirs.min(seconds);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "one epoch of PGD-AT (10 steps, Linf {}) on the small CNN, {ours_split}, {threads} threads:",
        args.eps
    );
    println!("  adv (flex, release)  {ours:8.2} s");
    println!("  PyTorch eager        {theirs:8.2} s");
    println!(
        "  PyTorch / adv time   {:8.2}x (above 1: adv is faster)",
        theirs / ours
    );
    Ok(())
}

fn run(command: &mut Command) -> Result<String, String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
