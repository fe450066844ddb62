//! `hb_cleanup [GROUP...]`: forget recorded failures (see docs/tools.md).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    let (argv0, args) = hb_tools::args();
    hb_tools::cleanup::run(&argv0, &args).emit()
}
