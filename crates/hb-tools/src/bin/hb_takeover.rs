//! `hb_takeover [all|foreign|local|failback]`: take resource groups over (see docs/tools.md).

#![forbid(unsafe_code)]

use hb_tools::standby::{Action, run};

fn main() -> std::process::ExitCode {
    let (argv0, args) = hb_tools::args();
    run(Action::Takeover, &argv0, &args).emit()
}
