//! Loading a whole configuration directory (`ha.cf`, `haresources`, `authkeys`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::agents::AgentSearch;
use crate::error::{ConfigErrors, Diagnostic, Diags};
use crate::hacf::HaCf;
use crate::haresources::Haresources;
use crate::proto::KeyRing;
use crate::{authkeys, hacf, haresources, trust};

/// Heartbeat's configuration directory.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/ha.d";

/// A complete, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ha.cf`.
    pub ha_cf: HaCf,
    /// `haresources`.
    pub haresources: Haresources,
    /// `authkeys`.
    pub keys: KeyRing,
    /// The directory the files were read from.
    pub dir: PathBuf,
}

/// How to load a configuration.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// This node's name (`uname -n`); compared lower-cased with the `node` lines.
    pub node_name: String,
    /// Directories searched for resource agents before `<dir>/resource.d` and `/etc/init.d`.
    pub agent_path: Vec<PathBuf>,
    /// Refuse an `authkeys` that is not root-owned mode 0600-like; an `ha.cf` or
    /// `haresources` (or a directory above them) not owned by root (or the effective user) or
    /// writable by others; and resource agents (or their directories, and the directories
    /// above those) not owned by root or writable by group or others.
    pub check_permissions: bool,
}

impl LoadOptions {
    /// Options for `node_name` with no extra agent directories and permission checks on.
    pub fn new(node_name: impl Into<String>) -> Self {
        LoadOptions {
            node_name: node_name.into(),
            agent_path: Vec::new(),
            check_permissions: true,
        }
    }
}

/// A loaded configuration and the warnings found while loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Warnings of all three files (deprecated or ignored directives, risky values).
    pub warnings: Vec<Diagnostic>,
}

/// Everything `heartbeat --check` reports: the configuration when it is valid, and every
/// error and warning of the three files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The configuration, when there are no errors.
    pub config: Option<Config>,
    /// Errors, `ha.cf` first, then `haresources`, then `authkeys`.
    pub errors: Vec<Diagnostic>,
    /// Warnings, in the same file order.
    pub warnings: Vec<Diagnostic>,
}

/// Loads `ha.cf`, `haresources` and `authkeys` from `dir`.
///
/// # Errors
/// Every error of all three files (not just the first).
pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Loaded, ConfigErrors> {
    let report = check(dir, opts);
    match report.config {
        Some(config) if report.errors.is_empty() => Ok(Loaded {
            config,
            warnings: report.warnings,
        }),
        _ => Err(ConfigErrors(report.errors)),
    }
}

fn read(path: &Path, diags: &mut Diags) -> Option<Vec<u8>> {
    match fs::read(path) {
        Ok(data) => Some(data),
        Err(e) => {
            diags.error(None, format!("cannot read: {e}"));
            None
        }
    }
}

/// `ha.cf` and `haresources` decide what runs as root: like `authkeys`, they (and every
/// directory above them) must be owned by root (or the user the daemon runs as) and not
/// writable by others. Heartbeat does not check them; anyone who can change `haresources`
/// runs code as root, so this is an error.
fn read_trusted(path: &Path, opts: &LoadOptions, diags: &mut Diags) -> Option<Vec<u8>> {
    let data = read(path, diags)?;
    if opts.check_permissions
        && let Err(e) = trust::check_path(path)
    {
        diags.error(None, e.describe(path));
    }
    Some(data)
}

/// Reads and checks the configuration in `dir` without stopping at the first problem.
pub fn check(dir: &Path, opts: &LoadOptions) -> Report {
    // ha.cf (non-UTF-8 bytes can only be in comments or are invalid anyway).
    let ha_cf_path = dir.join("ha.cf");
    let mut ha_cf_diags = Diags::new(&ha_cf_path);
    let (ha_cf, nodes) = match read_trusted(&ha_cf_path, opts, &mut ha_cf_diags) {
        Some(data) => hacf::parse_into(&String::from_utf8_lossy(&data), &mut ha_cf_diags),
        None => (None, Vec::new()),
    };
    let me = opts.node_name.to_ascii_lowercase();
    if let Some(ha_cf) = &ha_cf
        && !ha_cf.has_node(&me)
    {
        ha_cf_diags.error(
            None,
            format!(
                "this node '{me}' is not listed in a node directive (nodes: {}); node names \
                 must match uname -n",
                ha_cf.nodes.join(", ")
            ),
        );
    }

    // haresources: node names are checked when ha.cf gave any.
    let har_path = dir.join("haresources");
    let mut har_diags = Diags::new(&har_path);
    let mut agents = AgentSearch::for_config(&opts.agent_path, dir, opts.check_permissions);
    if let Some(h) = &ha_cf {
        agents = agents.with_ocf_root(h.ocf_root.clone());
    }
    let haresources = read_trusted(&har_path, opts, &mut har_diags).map(|data| {
        let known = (!nodes.is_empty()).then_some(nodes.as_slice());
        haresources::parse_into(
            &String::from_utf8_lossy(&data),
            known,
            &agents,
            &mut har_diags,
        )
    });

    // authkeys.
    let keys_path = dir.join("authkeys");
    let mut keys_diags = Diags::new(&keys_path);
    let keys = read(&keys_path, &mut keys_diags).and_then(|data| {
        if opts.check_permissions
            && let Err(d) = authkeys::check_authkeys_permissions(&keys_path)
        {
            keys_diags.error(d.line, d.message);
        }
        authkeys::parse_into(&data, &mut keys_diags)
    });

    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for d in [ha_cf_diags, har_diags, keys_diags] {
        errors.extend(d.errors);
        warnings.extend(d.warnings);
    }
    let config = match (ha_cf, haresources, keys) {
        (Some(ha_cf), Some(haresources), Some(keys)) if errors.is_empty() => Some(Config {
            ha_cf,
            haresources,
            keys,
            dir: dir.to_path_buf(),
        }),
        _ => None,
    };
    tracing::debug!(
        dir = %dir.display(),
        errors = errors.len(),
        warnings = warnings.len(),
        "checked configuration"
    );
    Report {
        config,
        errors,
        warnings,
    }
}

#[cfg(test)]
mod tests;
