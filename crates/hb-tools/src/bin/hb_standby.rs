//! `hb_standby [all|foreign|local|failback]`: give up resource groups (see docs/tools.md).

#![forbid(unsafe_code)]

use hb_tools::standby::{Action, run};

fn main() -> std::process::ExitCode {
    let (argv0, args) = hb_tools::args();
    run(Action::Standby, &argv0, &args).emit()
}
