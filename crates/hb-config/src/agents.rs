//! Finding the script behind a haresources resource, and refusing unsafe ones.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Directory of LSB init scripts, searched last (as Heartbeat's `ResourceManager` does).
pub const INIT_DIR: &str = "/etc/init.d";
/// Default root of OCF agents (`$OCF_ROOT`).
pub const DEFAULT_OCF_ROOT: &str = "/usr/lib/ocf";

/// Where resource agents are looked up, in order, and whether their ownership and modes are
/// checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSearch {
    dirs: Vec<PathBuf>,
    check_permissions: bool,
    ocf_root: PathBuf,
    init_dir: PathBuf,
}

impl AgentSearch {
    /// Searches exactly `dirs`, in order.
    #[must_use]
    pub fn new(dirs: Vec<PathBuf>, check_permissions: bool) -> Self {
        AgentSearch {
            dirs,
            check_permissions,
            ocf_root: PathBuf::from(DEFAULT_OCF_ROOT),
            init_dir: PathBuf::from(INIT_DIR),
        }
    }

    /// Uses `root` as `$OCF_ROOT` (agents in `root/resource.d/PROVIDER/TYPE`).
    #[must_use]
    pub fn with_ocf_root(mut self, root: PathBuf) -> Self {
        self.ocf_root = root;
        self
    }

    /// Uses `dir` for `lsb:NAME` resources instead of `/etc/init.d` (tests).
    #[must_use]
    pub fn with_init_dir(mut self, dir: PathBuf) -> Self {
        self.init_dir = dir;
        self
    }

    /// `$OCF_ROOT`.
    #[must_use]
    pub fn ocf_root(&self) -> &Path {
        &self.ocf_root
    }

    /// Whether `path` was found in the init-script directory (an LSB script).
    #[must_use]
    pub fn is_init_dir(&self, path: &Path) -> bool {
        path.parent() == Some(self.init_dir.as_path())
    }

    /// The OCF agent `ocf:PROVIDER:TYPE`.
    ///
    /// # Errors
    /// Invalid names, a missing or non-executable agent, or an unsafe path.
    pub fn resolve_ocf(&self, provider: &str, kind: &str) -> Result<PathBuf, String> {
        for (what, name) in [("provider", provider), ("type", kind)] {
            if !valid_name(name) {
                return Err(format!(
                    "invalid OCF {what} '{name}' in ocf:{provider}:{kind} (a name without '/')"
                ));
            }
        }
        let dir = self.ocf_root.join("resource.d").join(provider);
        self.find_in(&dir, kind, &format!("OCF agent ocf:{provider}:{kind}"))?
            .ok_or_else(|| {
                format!(
                    "no OCF agent ocf:{provider}:{kind} ({} is missing or not executable)",
                    dir.join(kind).display()
                )
            })
    }

    /// The LSB init script `lsb:NAME`.
    ///
    /// # Errors
    /// An invalid name, a missing script, or an unsafe path.
    pub fn resolve_lsb(&self, name: &str) -> Result<PathBuf, String> {
        if !valid_name(name) {
            return Err(format!(
                "invalid init script name '{name}' (a name without '/')"
            ));
        }
        let dir = self.init_dir.clone();
        self.find_in(&dir, name, &format!("init script '{name}'"))?
            .ok_or_else(|| {
                format!(
                    "no init script {} (missing or not executable)",
                    dir.join(name).display()
                )
            })
    }

    /// `dir/name` if it is an executable file (checked for safety), `None` if not there.
    fn find_in(&self, dir: &Path, name: &str, what: &str) -> Result<Option<PathBuf>, String> {
        let path = dir.join(name);
        let Ok(meta) = fs::metadata(&path) else {
            return Ok(None);
        };
        if !meta.is_file() || meta.mode() & 0o111 == 0 {
            return Ok(None);
        }
        if self.check_permissions {
            self.check_path(&path, dir, &meta, what)?;
        }
        Ok(Some(path))
    }

    /// Refuses `path` (found in `dir`) unless it, `dir` and the directory it really lives in
    /// are root-owned and writable by nobody else, and every directory above those is owned
    /// by root (or the effective user) and not writable by others unless sticky.
    fn check_path(
        &self,
        path: &Path,
        dir: &Path,
        meta: &fs::Metadata,
        what: &str,
    ) -> Result<(), String> {
        check_trusted(path, meta, what)?;
        let dir_meta =
            fs::metadata(dir).map_err(|e| format!("cannot inspect {}: {e}", dir.display()))?;
        check_trusted(dir, &dir_meta, &format!("directory of {what}"))?;
        if let Ok(real) = fs::canonicalize(path)
            && let Some(real_dir) = real.parent().filter(|d| *d != dir)
        {
            let real_meta = fs::metadata(real_dir)
                .map_err(|e| format!("cannot inspect {}: {e}", real_dir.display()))?;
            check_trusted(real_dir, &real_meta, &format!("directory of {what}"))?;
        }
        // Whoever can write a directory above the agent's can swap the agent's directory for
        // their own: every one up to / (sticky ones like /tmp excepted) must be safe too.
        crate::trust::check_ancestors(path)
            .map_err(|e| format!("{what} {}: {}", path.display(), e.describe(path)))
    }

    /// The daemon's search order: each of `agent_path`, then `<config_dir>/resource.d`, then
    /// `/etc/init.d`.
    #[must_use]
    pub fn for_config(agent_path: &[PathBuf], config_dir: &Path, check_permissions: bool) -> Self {
        let mut dirs = agent_path.to_vec();
        dirs.push(config_dir.join("resource.d"));
        dirs.push(PathBuf::from(INIT_DIR));
        AgentSearch::new(dirs, check_permissions)
    }

    /// The directories searched, in order.
    #[must_use]
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Whether found agents must be root-owned and not writable by group or others.
    #[must_use]
    pub fn checks_permissions(&self) -> bool {
        self.check_permissions
    }

    /// The first executable regular file named `agent` in the search directories.
    ///
    /// # Errors
    /// A message naming the agent and the directories searched, or the unsafe path.
    pub fn resolve(&self, agent: &str) -> Result<PathBuf, String> {
        if !valid_name(agent) {
            return Err(format!(
                "invalid resource agent name '{agent}' (a script name without '/')"
            ));
        }
        let mut not_executable = Vec::new();
        for dir in &self.dirs {
            let path = dir.join(agent);
            let Ok(meta) = fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() || meta.mode() & 0o111 == 0 {
                not_executable.push(path);
                continue;
            }
            if self.check_permissions {
                self.check_path(&path, dir, &meta, &format!("resource agent '{agent}'"))?;
            }
            return Ok(path);
        }
        let searched: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        let mut msg = format!(
            "no resource agent '{agent}' (searched: {})",
            searched.join(", ")
        );
        for p in not_executable {
            msg.push_str(&format!(
                "; {} exists but is not an executable file",
                p.display()
            ));
        }
        Err(msg)
    }
}

/// A file name: not empty, not `.`/`..`, no `/`.
fn valid_name(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.contains('/'))
}

/// Refuses `path` unless it is owned by root and not writable by group or others.
fn check_trusted(path: &Path, meta: &fs::Metadata, what: &str) -> Result<(), String> {
    match unsafe_reason(meta.uid(), meta.mode()) {
        None => Ok(()),
        Some(why) => Err(format!(
            "{what} {} must be owned by root and not writable by group or others ({why})",
            path.display()
        )),
    }
}

/// Why an agent (or its directory) with this owner and mode is not trusted, if it is not:
/// the trust rule with root as the only owner (an agent runs as root itself).
pub(crate) fn unsafe_reason(uid: u32, mode: u32) -> Option<String> {
    crate::trust::problem(uid, mode, 0, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn searches_directories_in_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        script(b.path(), "svc", 0o755);
        let search = AgentSearch::new(vec![a.path().into(), b.path().into()], false);
        assert_eq!(search.resolve("svc"), Ok(b.path().join("svc")));
        let first = script(a.path(), "svc", 0o755);
        assert_eq!(search.resolve("svc"), Ok(first));
    }

    #[test]
    fn skips_non_executable_files_and_says_so() {
        let a = tempfile::tempdir().unwrap();
        script(a.path(), "svc", 0o644);
        fs::create_dir(a.path().join("dir")).unwrap();
        let search = AgentSearch::new(vec![a.path().into()], false);
        assert_eq!(
            search.resolve("svc"),
            Err(format!(
                "no resource agent 'svc' (searched: {0}); {0}/svc exists but is not an \
                 executable file",
                a.path().display()
            ))
        );
        assert!(search.resolve("dir").is_err());
    }

    #[test]
    fn missing_agent_lists_every_directory() {
        let search = AgentSearch::new(
            vec!["/nonexistent/a".into(), "/nonexistent/b".into()],
            false,
        );
        assert_eq!(
            search.resolve("nope"),
            Err("no resource agent 'nope' (searched: /nonexistent/a, /nonexistent/b)".into())
        );
    }

    #[test]
    fn names_with_slashes_are_refused() {
        let search = AgentSearch::new(vec!["/".into()], false);
        for bad in ["../bin/sh", "bin/sh", "", ".", ".."] {
            assert!(
                search
                    .resolve(bad)
                    .unwrap_err()
                    .starts_with("invalid resource agent name"),
                "{bad}"
            );
        }
    }

    #[test]
    fn unsafe_reason_covers_owner_and_mode() {
        assert_eq!(unsafe_reason(0, 0o100755), None);
        assert_eq!(unsafe_reason(0, 0o700), None);
        assert_eq!(unsafe_reason(1000, 0o755), Some("owner is uid 1000".into()));
        assert_eq!(unsafe_reason(0, 0o775), Some("mode is 0775".into()));
        assert_eq!(unsafe_reason(0, 0o757), Some("mode is 0757".into()));
        assert_eq!(
            unsafe_reason(5, 0o777),
            Some("owner is uid 5, mode is 0777".into())
        );
    }

    #[test]
    fn permission_check_refuses_group_writable_agent() {
        let a = tempfile::tempdir().unwrap();
        fs::set_permissions(a.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let p = script(a.path(), "svc", 0o775);
        let search = AgentSearch::new(vec![a.path().into()], true);
        let err = search.resolve("svc").unwrap_err();
        assert!(
            err.starts_with(&format!(
                "resource agent 'svc' {} must be owned by root and not writable by group or \
                 others (",
                p.display()
            )),
            "{err}"
        );
        assert!(err.contains("mode is 0775"), "{err}");
    }

    #[test]
    fn permission_check_refuses_world_writable_directory() {
        let a = tempfile::tempdir().unwrap();
        script(a.path(), "svc", 0o755);
        fs::set_permissions(a.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let search = AgentSearch::new(vec![a.path().into()], true);
        let err = search.resolve("svc").unwrap_err();
        // As root the file passes and the directory fails; as another user the file's owner
        // fails first. Either way the agent is refused.
        assert!(err.contains("must be owned by root"), "{err}");
        if fs::metadata(a.path()).unwrap().uid() == 0 {
            assert!(
                err.starts_with(&format!(
                    "directory of resource agent 'svc' {} must be",
                    a.path().display()
                )),
                "{err}"
            );
            assert!(err.ends_with("(mode is 0777)"), "{err}");
        }
    }

    #[test]
    fn permission_check_accepts_root_owned_agent_when_root() {
        let a = tempfile::tempdir().unwrap();
        fs::set_permissions(a.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let p = script(a.path(), "svc", 0o755);
        let search = AgentSearch::new(vec![a.path().into()], true);
        if fs::metadata(&p).unwrap().uid() == 0 {
            assert_eq!(search.resolve("svc"), Ok(p));
        } else {
            eprintln!("not root: checking that a non-root agent is refused instead");
            assert!(search.resolve("svc").unwrap_err().contains("owner is uid"));
        }
    }

    #[test]
    fn permission_check_refuses_a_writable_directory_above_the_agents() {
        let top = tempfile::tempdir().unwrap();
        fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let ocf = top.path().join("ocf");
        let dir = ocf.join("resource.d").join("heartbeat");
        fs::create_dir_all(&dir).unwrap();
        let p = script(&dir, "Dummy", 0o755);
        let search = AgentSearch::new(vec![], true).with_ocf_root(ocf.clone());
        if fs::metadata(&p).unwrap().uid() != 0 {
            eprintln!("not root: agents owned by this user are refused anyway");
            return;
        }
        assert_eq!(search.resolve_ocf("heartbeat", "Dummy"), Ok(p.clone()));
        // The OCF root (two levels above the agent's directory) is writable by anyone.
        fs::set_permissions(&ocf, fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            search.resolve_ocf("heartbeat", "Dummy"),
            Err(format!(
                "OCF agent ocf:heartbeat:Dummy {}: directory {} must be owned by root and not \
                 writable by group or others (mode is 0777)",
                p.display(),
                ocf.display()
            ))
        );
        // Sticky, like /tmp: another user cannot replace what root created there.
        fs::set_permissions(&ocf, fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(search.resolve_ocf("heartbeat", "Dummy"), Ok(p));
    }

    #[test]
    fn for_config_appends_resource_d_and_init_d() {
        let s = AgentSearch::for_config(&["/opt/agents".into()], Path::new("/etc/ha.d"), true);
        assert_eq!(
            s.dirs(),
            &[
                PathBuf::from("/opt/agents"),
                PathBuf::from("/etc/ha.d/resource.d"),
                PathBuf::from("/etc/init.d")
            ]
        );
        assert!(s.checks_permissions());
    }
}
