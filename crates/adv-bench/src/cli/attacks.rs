//! `adv-bench attacks`: the attack catalogue.

use adv_attacks::catalogue;
use adv_bench::Result;
use clap::Args;

use super::to_json;

#[derive(Args, Debug)]
pub struct AttacksArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: AttacksArgs) -> Result<()> {
    let attacks = catalogue();
    if args.json {
        println!("{}", to_json(&attacks)?);
        return Ok(());
    }
    println!("| attack | norms | knowledge | paper | options |\n| --- | --- | --- | --- | --- |");
    for info in attacks {
        let norms: Vec<&str> = info.norms.iter().map(|n| n.name()).collect();
        let knowledge = serde_json::to_value(info.knowledge)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "| {} | {} | {} | {} | {} |",
            info.name,
            norms.join(", "),
            knowledge,
            info.paper,
            info.options
        );
    }
    Ok(())
}
