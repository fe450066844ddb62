//! The pages: which command or file each describes, what it takes from which document, and
//! how it is put together.

use std::fmt::Write as _;

use clap::CommandFactory as _;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::roff::{self, escape, quoted};

/// The date in every page's `.TH` line: the pages' own, not the build's, so that the
/// output is reproducible. Change it with the pages.
pub(crate) const DATE: &str = "2026-12-04";

/// `heartbeat-rs VERSION`, the source in every page's `.TH` line.
pub(crate) fn source() -> String {
    format!("heartbeat-rs {}", env!("CARGO_PKG_VERSION"))
}

/// A document of `docs/`, built into the binary (cargo rebuilds hb-man when it changes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Doc {
    path: &'static str,
    text: &'static str,
}

const HA_CF: Doc = Doc {
    path: "docs/ha.cf.md",
    text: include_str!("../../../docs/ha.cf.md"),
};
const DAEMON: Doc = Doc {
    path: "docs/daemon.md",
    text: include_str!("../../../docs/daemon.md"),
};
const TOOLS: Doc = Doc {
    path: "docs/tools.md",
    text: include_str!("../../../docs/tools.md"),
};
const AGENTS: Doc = Doc {
    path: "docs/agents.md",
    text: include_str!("../../../docs/agents.md"),
};
const SECURITY: Doc = Doc {
    path: "docs/security.md",
    text: include_str!("../../../docs/security.md"),
};

/// What a page takes from a document.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    /// The text before the document's first `##` heading, without its `#` title and its
    /// `Contents:` paragraph (a page has its own navigation), under `.SH title`.
    Intro { doc: Doc, title: &'static str },
    /// The section under `heading` (compared as plain text) with its sub-sections: under
    /// `.SH title`, its sub-sections as `.SS`.
    Section {
        doc: Doc,
        heading: &'static str,
        title: &'static str,
    },
    /// Every `##` section of the document except those named, each as a `.SH` of its own
    /// (its sub-sections as `.SS`).
    Sections {
        doc: Doc,
        except: &'static [&'static str],
    },
}

/// What a page describes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject {
    /// A command, from its clap definition.
    Command(fn() -> clap::Command),
    /// A file: the one-line summary of the NAME section and its usual path.
    File {
        summary: &'static str,
        path: &'static str,
    },
}

/// A manual page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page {
    pub(crate) name: &'static str,
    pub(crate) section: u8,
    pub(crate) subject: Subject,
    /// After the generated sections, in order.
    pub(crate) parts: &'static [Part],
}

/// What each page says about what only tools.md describes for all four tools.
const TOOLS_COMMON: Part = Part::Section {
    doc: TOOLS,
    heading: "Common options and permissions",
    title: "COMMON OPTIONS AND PERMISSIONS",
};
const TOOLS_DIFFERENCES: Part = Part::Section {
    doc: TOOLS,
    heading: "Differences from Heartbeat",
    title: "DIFFERENCES FROM HEARTBEAT",
};
const STANDBY: &[Part] = &[
    Part::Section {
        doc: TOOLS,
        heading: "hb_standby and hb_takeover",
        title: "OUTPUT AND EXIT STATUS",
    },
    TOOLS_COMMON,
    TOOLS_DIFFERENCES,
];

/// Every page, commands first.
pub(crate) const PAGES: &[Page] = &[
    Page {
        name: "heartbeat",
        section: 8,
        subject: Subject::Command(hb_daemon::Args::command),
        parts: &[
            Part::Intro {
                doc: DAEMON,
                title: "USAGE",
            },
            Part::Sections {
                doc: DAEMON,
                except: &[],
            },
        ],
    },
    Page {
        name: "cl_status",
        section: 1,
        subject: Subject::Command(hb_tools::cli::cl_status),
        parts: &[
            Part::Section {
                doc: TOOLS,
                heading: "cl_status",
                title: "OUTPUT AND EXIT STATUS",
            },
            TOOLS_COMMON,
            TOOLS_DIFFERENCES,
        ],
    },
    Page {
        name: "hb_standby",
        section: 1,
        subject: Subject::Command(hb_tools::cli::hb_standby),
        parts: STANDBY,
    },
    Page {
        name: "hb_takeover",
        section: 1,
        subject: Subject::Command(hb_tools::cli::hb_takeover),
        parts: STANDBY,
    },
    Page {
        name: "hb_cleanup",
        section: 1,
        subject: Subject::Command(hb_tools::cli::hb_cleanup),
        parts: &[
            Part::Section {
                doc: TOOLS,
                heading: "hb_cleanup",
                title: "OUTPUT AND EXIT STATUS",
            },
            TOOLS_COMMON,
        ],
    },
    Page {
        name: "ha.cf",
        section: 5,
        subject: Subject::File {
            summary: "heartbeat-rs cluster configuration: nodes, media, timing, monitoring, \
                      fencing",
            path: "/etc/ha.d/ha.cf",
        },
        parts: &[
            Part::Intro {
                doc: HA_CF,
                title: "DESCRIPTION",
            },
            Part::Sections {
                doc: HA_CF,
                except: &["haresources", "authkeys"],
            },
        ],
    },
    Page {
        name: "haresources",
        section: 5,
        subject: Subject::File {
            summary: "heartbeat-rs resource groups",
            path: "/etc/ha.d/haresources",
        },
        parts: &[
            Part::Section {
                doc: HA_CF,
                heading: "haresources",
                title: "DESCRIPTION",
            },
            Part::Section {
                doc: AGENTS,
                heading: "Writing resources in haresources",
                title: "RESOURCE FORMS",
            },
        ],
    },
    Page {
        name: "authkeys",
        section: 5,
        subject: Subject::File {
            summary: "heartbeat-rs keys that sign and authenticate cluster messages",
            path: "/etc/ha.d/authkeys",
        },
        parts: &[
            Part::Section {
                doc: HA_CF,
                heading: "authkeys",
                title: "DESCRIPTION",
            },
            Part::Section {
                doc: SECURITY,
                heading: "Key rotation",
                title: "KEY ROTATION",
            },
        ],
    },
];

impl Page {
    /// `name.section`.
    pub(crate) fn file_name(&self) -> String {
        format!("{}.{}", self.name, self.section)
    }

    /// The page's roff.
    ///
    /// # Errors
    /// A heading a part names is missing from its document.
    pub(crate) fn render(&self) -> Result<String, String> {
        let mut body = String::new();
        let mut has_table = false;
        match self.subject {
            Subject::Command(command) => command_sections(&mut body, &command()),
            Subject::File { summary, path } => {
                body.push_str(".SH NAME\n");
                let _ = writeln!(body, "{} \\- {}", escape(self.name), escape(summary));
                body.push_str(".SH SYNOPSIS\n");
                let _ = writeln!(body, "\\fB{}\\fR", escape(path));
            }
        }
        for part in self.parts {
            let r = part.render()?;
            has_table |= r.has_table;
            body.push_str(&r.roff);
        }
        body.push_str(".SH \"SEE ALSO\"\n");
        let others: Vec<&Page> = PAGES.iter().filter(|p| p.name != self.name).collect();
        for (i, p) in others.iter().enumerate() {
            let comma = if i + 1 < others.len() { "," } else { "" };
            let _ = writeln!(body, ".BR {} ({}){comma}", escape(p.name), p.section);
        }
        let mut page = String::new();
        if has_table {
            page.push_str("'\\\" t\n");
        }
        let _ = writeln!(
            page,
            ".TH {} {} \"{DATE}\" {}",
            quoted(&self.name.to_uppercase()),
            self.section,
            quoted(&source())
        );
        page.push_str(&body);
        Ok(page)
    }
}

/// NAME, SYNOPSIS, DESCRIPTION, OPTIONS (clap_mangen) and SUB-COMMANDS of a command.
fn command_sections(out: &mut String, cmd: &clap::Command) {
    // Help texts are Markdown-ish: clap_mangen prints them as they are, so no backquotes.
    let cmd = cmd
        .clone()
        .mut_args(|a| match a.get_help().map(ToString::to_string) {
            Some(help) if help.contains('`') => a.help(help.replace('`', "")),
            _ => a,
        });
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    let _ = man.render_name_section(&mut buf);
    let _ = man.render_synopsis_section(&mut buf);
    out.push_str(&String::from_utf8_lossy(&buf));
    out.push_str(".SH DESCRIPTION\n");
    let description = cmd
        .get_long_about()
        .or_else(|| cmd.get_about())
        .map(ToString::to_string)
        .unwrap_or_default();
    out.push_str(&roff::markdown(&description, 1).roff);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let mut buf = Vec::new();
        let _ = man.render_options_section(&mut buf);
        out.push_str(&String::from_utf8_lossy(&buf));
    }
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    if subs.is_empty() {
        return;
    }
    out.push_str(".SH SUB-COMMANDS\n");
    for sub in subs {
        out.push_str(".TP\n");
        out.push_str(&sub_synopsis(sub));
        out.push('\n');
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        out.push_str(&roff::inline(&about));
        let aliases: Vec<&str> = sub.get_visible_aliases().collect();
        if !aliases.is_empty() {
            let names: Vec<String> = aliases
                .iter()
                .map(|a| format!("\\fB{}\\fR", escape(a)))
                .collect();
            let _ = writeln!(out, "(also {})", names.join(", "));
        }
        let args: Vec<&clap::Arg> = sub.get_arguments().collect();
        if args.is_empty() {
            continue;
        }
        out.push_str(".RS\n");
        for arg in args {
            out.push_str(".TP\n");
            out.push_str(&arg_synopsis(arg));
            out.push('\n');
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            out.push_str(&roff::inline(&help));
        }
        out.push_str(".RE\n");
    }
}

/// `\fBname\fR [\fB\-v\fR] \fINODE\fR [\fITIMEOUT\fR]`.
fn sub_synopsis(sub: &clap::Command) -> String {
    let mut line = format!("\\fB{}\\fR", escape(sub.get_name()));
    for arg in sub.get_arguments() {
        let one = arg_synopsis(arg);
        if arg.is_required_set() {
            let _ = write!(line, " {one}");
        } else {
            let _ = write!(line, " [{one}]");
        }
    }
    line
}

/// `\fB\-p\fR \fINAME\fR` or `\fINODE\fR`.
fn arg_synopsis(arg: &clap::Arg) -> String {
    let value = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| format!("\\fI{}\\fR", escape(v)));
    match (arg.get_short(), arg.get_long(), value) {
        (Some(c), _, v) => format!(
            "\\fB\\-{}\\fR{}",
            escape(&c.to_string()),
            v.map_or(String::new(), |v| format!(" {v}"))
        ),
        (None, Some(l), v) => format!(
            "\\fB\\-\\-{}\\fR{}",
            escape(l),
            v.map_or(String::new(), |v| format!(" {v}"))
        ),
        (None, None, Some(v)) => v,
        (None, None, None) => format!("\\fI{}\\fR", escape(arg.get_id().as_str())),
    }
}

impl Part {
    fn render(&self) -> Result<roff::Rendered, String> {
        match *self {
            Part::Intro { doc, title } => {
                let hs = headings(doc.text);
                let start = hs.iter().find(|h| h.level == 1).map_or(0, |h| h.end);
                let end = hs
                    .iter()
                    .find(|h| h.level == 2)
                    .map_or(doc.text.len(), |h| h.start);
                let text = without_contents(doc.text.get(start..end).unwrap_or_default());
                Ok(titled(title, &text, 2))
            }
            Part::Section {
                doc,
                heading,
                title,
            } => {
                let (level, text) = section(doc, heading)?;
                Ok(titled(title, text, level))
            }
            Part::Sections { doc, except } => {
                let mut all = roff::Rendered::default();
                for h in headings(doc.text).iter().filter(|h| h.level == 2) {
                    if except.contains(&h.text.as_str()) {
                        continue;
                    }
                    let (level, text) = section(doc, &h.text)?;
                    let r = titled(&h.text.to_uppercase(), text, level);
                    all.roff.push_str(&r.roff);
                    all.has_table |= r.has_table;
                }
                Ok(all)
            }
        }
    }
}

/// `.SH title` and `markdown`, whose headings below `sh_level` become `.SS`.
fn titled(title: &str, markdown: &str, sh_level: usize) -> roff::Rendered {
    let mut r = roff::markdown(markdown, sh_level);
    r.roff.insert_str(0, &format!(".SH {}\n", quoted(title)));
    r
}

/// `text` without the paragraph that starts with `Contents:`.
fn without_contents(text: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with("Contents:") {
            skipping = true;
        }
        if skipping && line.trim().is_empty() {
            skipping = false;
        }
        if !skipping {
            out.push(line);
        }
    }
    out.join("\n")
}

/// A heading of a Markdown text: its level, plain text and byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heading {
    level: usize,
    text: String,
    start: usize,
    end: usize,
}

/// The headings of `markdown` (those in code blocks are not headings).
fn headings(markdown: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut current: Option<Heading> = None;
    for (event, range) in Parser::new_ext(markdown, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some(Heading {
                    level: roff::level_number(level),
                    text: String::new(),
                    start: range.start,
                    end: range.end,
                });
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = &mut current {
                    h.text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

/// The level of heading `heading` of `doc` and the text under it, up to the next heading of
/// its level or above.
fn section(doc: Doc, heading: &str) -> Result<(usize, &'static str), String> {
    let hs = headings(doc.text);
    let i = hs
        .iter()
        .position(|h| h.text == heading)
        .ok_or_else(|| format!("{}: no heading '{heading}'", doc.path))?;
    let h = &hs[i];
    let end = hs[i + 1..]
        .iter()
        .find(|n| n.level <= h.level)
        .map_or(doc.text.len(), |n| n.start);
    Ok((h.level, doc.text.get(h.end..end).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_end_at_the_next_heading_of_their_level() {
        let doc = Doc {
            path: "x.md",
            text: "# T\n\nintro\n\n## A\n\na\n\n```\n## not a heading\n```\n\n### A1\n\na1\n\n## B\n\nb\n",
        };
        let (level, text) = section(doc, "A").unwrap();
        assert_eq!(level, 2);
        assert!(text.contains("## not a heading") && text.contains("a1") && !text.contains('b'));
        assert!(section(doc, "C").is_err());
        let r = Part::Intro {
            doc,
            title: "DESCRIPTION",
        }
        .render()
        .unwrap();
        assert_eq!(r.roff, ".SH \"DESCRIPTION\"\n.PP\nintro\n");
        let r = Part::Sections {
            doc,
            except: &["B"],
        }
        .render()
        .unwrap();
        assert!(r.roff.starts_with(".SH \"A\"\n.PP\na\n"));
        assert!(r.roff.contains(".SS \"A1\"\n.PP\na1\n"));
        assert!(!r.roff.contains("\"B\""));
    }

    #[test]
    fn every_page_renders_with_its_header() {
        for page in PAGES {
            let roff = page.render().unwrap();
            let th = format!(
                ".TH \"{}\" {} \"{DATE}\" \"heartbeat",
                page.name.to_uppercase().replace('-', "\\-"),
                page.section
            );
            let first = roff.lines().find(|l| !l.starts_with('\'')).unwrap();
            assert!(first.starts_with(&th), "{first}");
            assert_eq!(
                roff.starts_with("'\\\" t\n"),
                roff.contains("\n.TS\n"),
                "{}",
                page.name
            );
            for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "\"SEE ALSO\""] {
                assert!(
                    roff.contains(&format!(".SH {section}\n"))
                        || roff.contains(&format!(".SH \"{section}\"\n")),
                    "{}: {section}",
                    page.name
                );
            }
        }
    }

    #[test]
    fn the_contents_paragraph_is_left_out() {
        assert_eq!(
            without_contents("a\n\nContents: [x](#x) ·\n[y](#y)\n\nb"),
            "a\n\n\nb"
        );
    }
}
