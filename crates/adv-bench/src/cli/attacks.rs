//! `adv-bench attacks`: every attack of the registry with its options, from the attacks' own
//! declarations.

use adv_attacks::{listing, markdown_reference};
use adv_bench::Result;
use clap::Args;

use super::to_json;

#[derive(Args, Debug)]
pub struct AttacksArgs {
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the full Markdown reference (every option with its values, default, range and
    /// doc), as docs/attacks.md includes it.
    #[arg(long)]
    markdown: bool,
}

pub fn run(args: AttacksArgs) -> Result<()> {
    if args.json {
        println!("{}", to_json(&listing())?);
        return Ok(());
    }
    if args.markdown {
        print!("{}", markdown_reference());
        return Ok(());
    }
    println!(
        "| attack | norms | access | paper | options (default) |\n| --- | --- | --- | --- | --- |"
    );
    for attack in listing() {
        let options: Vec<String> = attack
            .options
            .iter()
            .map(|o| format!("{} ({})", o.key, o.default))
            .collect();
        let access = serde_json::to_value(attack.access)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "| {} | {} | {} | {} | {} |",
            attack.name,
            attack.norms.join(", "),
            access,
            attack.paper,
            options.join(", ")
        );
    }
    Ok(())
}
