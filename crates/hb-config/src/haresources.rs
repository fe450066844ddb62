//! `haresources`: one resource group per logical line, `NODE RESOURCE...`.
//!
//! Read the way Heartbeat's `ResourceManager` reads it: `#` starts a comment, a trailing `\`
//! joins the next line (without inserting a blank), runs of blanks separate words, the node
//! name is lower-cased, `Name::a::b` runs script `Name` with arguments `a b`, and a bare
//! IPv4 address (optionally `/suffix`ed) means `IPaddr::<address>`.
//!
//! heartbeat-rs adds two forms Heartbeat does not know (docs/agents.md):
//! `ocf:PROVIDER:TYPE::name=value::name=value` runs the OCF agent
//! `$OCF_ROOT/resource.d/PROVIDER/TYPE` with `OCF_RESKEY_name=value`, and `lsb:NAME` runs the
//! init script `/etc/init.d/NAME` (a bare name found only in `/etc/init.d` is LSB too).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::agents::AgentSearch;
use crate::error::{ConfigErrors, Diags, Parsed};
use crate::node::NodeName;

/// `haresources`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Haresources {
    /// The resource groups, in file order.
    pub groups: Vec<GroupSpec>,
}

/// One resource group (one logical line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The preferred node, lower-cased.
    pub node: String,
    /// The group's key: its first resource exactly as written (Heartbeat's group name).
    pub key: String,
    /// The resources, in start order (they stop in reverse).
    pub resources: Vec<ResourceSpec>,
    /// Line where the group starts.
    pub line: usize,
}

/// One resource of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    /// The resource exactly as written (e.g. `10.0.0.5` or `IPaddr::10.0.0.5/24/eth0`).
    pub text: String,
    /// The script name (`IPaddr` for the bare-address shorthand; `ocf:PROVIDER:TYPE` for
    /// OCF agents).
    pub agent: String,
    /// The `::`-separated arguments (empty ones dropped, as the shell does); empty for OCF.
    pub args: Vec<String>,
    /// OCF parameters (`name=value` after `::`), in the order written.
    pub params: Vec<(String, String)>,
    /// Which calling convention the agent follows.
    pub class: AgentClass,
    /// The resolved, executable script.
    pub path: PathBuf,
    /// Line where the resource is written.
    pub line: usize,
}

/// The calling convention of a resource agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentClass {
    /// A heartbeat `resource.d` script: `SCRIPT ARG... start|stop|status`; `status` is
    /// judged by its output ("running").
    Heartbeat,
    /// An LSB init script: `SCRIPT start|stop|status`; status exit 0 = running, 3 = stopped.
    Lsb,
    /// An OCF agent: `AGENT start|stop|monitor` with `OCF_RESKEY_*` parameters and OCF exit
    /// codes.
    Ocf {
        /// The provider directory (`heartbeat`, `heartbeat-rs`, ...).
        provider: String,
        /// The agent type (`IPaddr2`, `nginx`, ...).
        kind: String,
    },
}

impl AgentClass {
    /// `heartbeat`, `lsb` or `ocf`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            AgentClass::Heartbeat => "heartbeat",
            AgentClass::Lsb => "lsb",
            AgentClass::Ocf { .. } => "ocf",
        }
    }
}

/// Parses `haresources` text. Node names must be among `nodes` (lower-case, as in
/// [`crate::HaCf::nodes`]); every agent is resolved through `agents`.
///
/// # Errors
/// Every problem found, each as `file:line: message`.
pub fn parse_haresources(
    text: &str,
    file: &Path,
    nodes: &[NodeName],
    agents: &AgentSearch,
) -> Result<Parsed<Haresources>, ConfigErrors> {
    let mut diags = Diags::new(file);
    let value = parse_into(text, Some(nodes), agents, &mut diags);
    diags.finish(Some(value))
}

/// A word of a logical line and the physical line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    line: usize,
}

/// Joins continuation lines and splits logical lines into words. Each logical line comes
/// with the line number where it starts.
fn logical_lines(text: &str) -> Vec<(usize, Vec<Word>)> {
    let mut out = Vec::new();
    // The logical line being assembled: its text, and (byte offset, line number) of each
    // physical piece in it.
    let mut buf = String::new();
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let content = raw.split('#').next().unwrap_or_default();
        let content = content.trim_end();
        let (content, continued) = match content.strip_suffix('\\') {
            Some(head) => (head, true),
            None => (content, false),
        };
        pieces.push((buf.len(), idx + 1));
        buf.push_str(content);
        if !continued {
            flush(&mut buf, &mut pieces, &mut out);
        }
    }
    flush(&mut buf, &mut pieces, &mut out);
    out
}

fn flush(buf: &mut String, pieces: &mut Vec<(usize, usize)>, out: &mut Vec<(usize, Vec<Word>)>) {
    let line_at = |offset: usize| {
        pieces
            .iter()
            .rev()
            .find(|(start, _)| *start <= offset)
            .map_or(0, |(_, line)| *line)
    };
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in buf.char_indices().chain(std::iter::once((buf.len(), ' '))) {
        match (c.is_ascii_whitespace(), start) {
            (true, Some(s)) => {
                words.push(Word {
                    text: buf.get(s..i).unwrap_or_default().to_owned(),
                    line: line_at(s),
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(first) = words.first() {
        out.push((first.line, words));
    }
    buf.clear();
    pieces.clear();
}

/// Heartbeat's `isip` test: the shell pattern `[0-9]*.[0-9]*.[0-9]*.[0-9]*`.
fn looks_like_ip(token: &str) -> bool {
    let b = token.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let dots = b
        .windows(2)
        .filter(|w| matches!(w, [b'.', d] if d.is_ascii_digit()))
        .count();
    dots >= 3
}

/// Splits a resource into script name and arguments.
fn split_resource(token: &str) -> Result<(String, Vec<String>), String> {
    let canonical = if looks_like_ip(token) {
        let addr = token.split(['/', ':']).next().unwrap_or_default();
        if addr.parse::<Ipv4Addr>().is_err() {
            return Err(format!(
                "'{token}' looks like an IP address resource, but '{addr}' is not a valid IPv4 \
                 address"
            ));
        }
        format!("IPaddr::{token}")
    } else {
        token.to_owned()
    };
    let mut parts = canonical.split("::");
    let agent = parts.next().unwrap_or_default().to_owned();
    let args = parts.filter(|a| !a.is_empty()).map(str::to_owned).collect();
    Ok((agent, args))
}

/// Is `name` a valid OCF parameter name (letters, digits, `_`; not starting with a digit)?
fn is_param_name(name: &str) -> bool {
    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| !c.is_ascii_digit())
}

/// Splits and resolves one resource word.
fn resolve_resource(text: &str, line: usize, agents: &AgentSearch) -> Result<ResourceSpec, String> {
    if let Some(rest) = text.strip_prefix("ocf:") {
        let mut parts = rest.split("::");
        let head = parts.next().unwrap_or_default();
        let (provider, kind) = head.split_once(':').ok_or_else(|| {
            format!("'{text}': an OCF resource is written ocf:PROVIDER:TYPE[::name=value...]")
        })?;
        let mut params = Vec::new();
        for p in parts.filter(|p| !p.is_empty()) {
            let (name, value) = p
                .split_once('=')
                .ok_or_else(|| format!("'{text}': OCF parameter '{p}' is not name=value"))?;
            if !is_param_name(name) {
                return Err(format!(
                    "'{text}': '{name}' is not a valid OCF parameter name (letters, digits, _)"
                ));
            }
            if params.iter().any(|(n, _): &(String, String)| n == name) {
                return Err(format!("'{text}': OCF parameter '{name}' given twice"));
            }
            params.push((name.to_owned(), value.to_owned()));
        }
        let path = agents.resolve_ocf(provider, kind)?;
        return Ok(ResourceSpec {
            text: text.to_owned(),
            agent: format!("ocf:{provider}:{kind}"),
            args: Vec::new(),
            params,
            class: AgentClass::Ocf {
                provider: provider.to_owned(),
                kind: kind.to_owned(),
            },
            path,
            line,
        });
    }
    if let Some(name) = text.strip_prefix("lsb:") {
        if name.contains("::") {
            return Err(format!("'{text}': an LSB init script takes no arguments"));
        }
        let path = agents.resolve_lsb(name)?;
        return Ok(ResourceSpec {
            text: text.to_owned(),
            agent: name.to_owned(),
            args: Vec::new(),
            params: Vec::new(),
            class: AgentClass::Lsb,
            path,
            line,
        });
    }
    let (agent, args) = split_resource(text)?;
    let path = agents.resolve(&agent)?;
    let class = if agents.is_init_dir(&path) {
        AgentClass::Lsb
    } else {
        AgentClass::Heartbeat
    };
    Ok(ResourceSpec {
        text: text.to_owned(),
        agent,
        args,
        params: Vec::new(),
        class,
        path,
        line,
    })
}

/// Parses into `diags`. With `nodes == None` node names are not checked (used when `ha.cf`
/// itself could not be read, to avoid an error per group).
pub(crate) fn parse_into(
    text: &str,
    nodes: Option<&[NodeName]>,
    agents: &AgentSearch,
    diags: &mut Diags,
) -> Haresources {
    let mut groups = Vec::new();
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for (line, words) in logical_lines(text) {
        let Some((node_word, resource_words)) = words.split_first() else {
            continue;
        };
        let node = node_word.text.to_ascii_lowercase();
        let mut ok = true;
        if let Some(nodes) = nodes
            && !nodes.iter().any(|n| *n == node)
        {
            let known = if nodes.is_empty() {
                "none".to_owned()
            } else {
                nodes.join(", ")
            };
            diags.error(
                Some(line),
                format!("node '{node}' is not declared in ha.cf (nodes: {known})"),
            );
            ok = false;
        }
        let Some(key) = resource_words.first().map(|w| w.text.clone()) else {
            diags.error(
                Some(line),
                format!("resource group of node '{node}' lists no resources"),
            );
            continue;
        };
        if let Some(first) = keys.get(&key) {
            diags.error(
                Some(line),
                format!("resource group '{key}' is defined twice (first on line {first})"),
            );
            ok = false;
        } else {
            keys.insert(key.clone(), line);
        }
        let mut resources = Vec::new();
        for word in resource_words {
            match resolve_resource(&word.text, word.line, agents) {
                Ok(r) => resources.push(r),
                Err(e) => {
                    diags.error(Some(word.line), e);
                    ok = false;
                }
            }
        }
        if ok {
            groups.push(GroupSpec {
                node,
                key,
                resources,
                line,
            });
        }
    }
    Haresources { groups }
}

#[cfg(test)]
mod tests;
