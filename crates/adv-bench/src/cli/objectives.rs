//! `adv-bench objectives`: every training objective with its options, from the objectives'
//! declarations.

use adv_bench::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct ObjectivesArgs {
    /// Print the full Markdown reference (every option's values, default, range and doc), as
    /// docs/training.md includes it.
    #[arg(long)]
    markdown: bool,
}

pub fn run(args: ObjectivesArgs) -> Result<()> {
    if args.markdown {
        print!("{}", adv_defenses::markdown_reference());
        return Ok(());
    }
    println!("| objective | paper | options (default) |\n| --- | --- | --- |");
    for info in adv_defenses::objectives() {
        let options: Vec<String> = (info.config.specs)()
            .iter()
            .map(|o| format!("{} ({})", o.key, o.default))
            .collect();
        println!(
            "| {} | {} | {} |",
            info.name,
            info.paper,
            options.join(", ")
        );
    }
    Ok(())
}
