//! GNU getopt(3) as Heartbeat's `cl_status` uses it: on the arguments after the
//! sub-command, so the sub-command is getopt's program name in its messages.
//!
//! This stays hand-written rather than clap: Heartbeat's texts and exit codes depend on
//! getopt's exact behaviour (options after operands, `-mv` clusters, `-pNAME` attached
//! values, getopt's own `invalid option -- 'x'` line followed by Heartbeat's ERROR, and
//! sub-commands that ignore bad options), which clap neither parses nor words this way.

/// One option as GNU getopt returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opt {
    /// A flag (`-m`).
    Flag(char),
    /// An option with its argument (`-p deadtime`, `-pdeadtime`).
    Arg(char, String),
    /// getopt's `?`, with the message getopt itself writes to stderr.
    Bad(String),
}

/// GNU getopt with argument permutation: options anywhere, `--` ends them. `optstr` is
/// getopt's (`"mp:"`); returns the options in order and the operands.
pub(crate) fn getopt(cmd: &str, args: &[String], optstr: &str) -> (Vec<Opt>, Vec<String>) {
    let spec = |c: char| -> Option<bool> {
        if c == ':' {
            return None;
        }
        let i = optstr.find(c)?;
        Some(optstr[i + c.len_utf8()..].starts_with(':'))
    };
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) else {
            operands.push(a.clone());
            continue;
        };
        let chars: Vec<char> = cluster.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            match spec(c) {
                None => opts.push(Opt::Bad(format!("{cmd}: invalid option -- '{c}'\n"))),
                Some(false) => opts.push(Opt::Flag(c)),
                Some(true) => {
                    let rest: String = chars[j..].iter().collect();
                    if !rest.is_empty() {
                        opts.push(Opt::Arg(c, rest));
                    } else if i < args.len() {
                        opts.push(Opt::Arg(c, args[i].clone()));
                        i += 1;
                    } else {
                        opts.push(Opt::Bad(format!(
                            "{cmd}: option requires an argument -- '{c}'\n"
                        )));
                    }
                    break;
                }
            }
        }
    }
    (opts, operands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn getopt_permutes_and_clusters_like_gnu() {
        let (opts, ops) = getopt("nodestatus", &s(&["node2", "-m"]), "m");
        assert_eq!((opts, ops), (vec![Opt::Flag('m')], s(&["node2"])));
        let (opts, ops) = getopt("hbparameter", &s(&["-mpdeadtime", "x"]), "mp:");
        assert_eq!(opts, vec![Opt::Flag('m'), Opt::Arg('p', "deadtime".into())]);
        assert_eq!(ops, s(&["x"]));
        let (opts, _) = getopt("hbparameter", &s(&["-p"]), "mp:");
        assert_eq!(
            opts,
            vec![Opt::Bad(
                "hbparameter: option requires an argument -- 'p'\n".into()
            )]
        );
        let (opts, ops) = getopt("listnodes", &s(&["-x", "--", "-v"]), "mpnv");
        assert_eq!(
            opts,
            vec![Opt::Bad("listnodes: invalid option -- 'x'\n".into())]
        );
        assert_eq!(ops, s(&["-v"]));
        let (opts, ops) = getopt("x", &s(&["-", "-:"]), "m");
        assert_eq!(ops, s(&["-"]));
        assert_eq!(opts, vec![Opt::Bad("x: invalid option -- ':'\n".into())]);
    }
}
