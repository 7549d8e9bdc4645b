//! `vapp completions SHELL` and `vapp man`: generated from the same definitions as the parser
//! ([`super::command`]), so they offer exactly what each command takes.

use super::definitions::{CompletionsArgs, ManArgs};

use super::failure::{Context as _, Result};

use super::{Context, Exit};

pub fn run_completions(context: &Context, args: CompletionsArgs) -> Result<Exit> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut super::documented_command(), "vapp", &mut script);
    context.printer.data(&String::from_utf8_lossy(&script));
    Ok(Exit::Success)
}

pub fn run_man(context: &Context, args: ManArgs) -> Result<Exit> {
    let command = super::documented_command();
    let Some(dir) = args.out_dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page).context("cannot render the man page")?;
        context.printer.data(&String::from_utf8_lossy(&page));
        return Ok(Exit::Success);
    };
    fs_err::create_dir_all(&dir)?;
    let pages = pages(command, "vapp")?;
    for (name, page) in &pages {
        let path = dir.join(format!("{name}.1"));
        crate::fsutil::write_atomically(&path, page, crate::fsutil::Mode::Shared)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    context.printer.status(&format!("Wrote {} man pages to {}.", pages.len(), dir.display()));
    Ok(Exit::Success)
}

/// The page of `command` (named `name`) and of each of its subcommands, `vapp-state-list` style.
fn pages(command: clap::Command, name: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let command = command.name(name.to_string());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page).context("cannot render a man page")?;
    let mut all = vec![(name.to_string(), page)];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        all.extend(pages(sub.clone(), &format!("{name}-{}", sub.get_name()))?);
    }
    Ok(all)
}
