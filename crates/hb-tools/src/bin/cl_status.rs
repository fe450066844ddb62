//! `cl_status`: cluster status, as Heartbeat 3's (see docs/tools.md).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    let (_, args) = hb_tools::args();
    hb_tools::cl_status::run(&args).emit()
}
