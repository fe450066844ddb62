//! Markdown (CommonMark with GitHub's tables, read by pulldown-cmark) to the roff of the
//! `man` macros, and the escaping of text for roff.
//!
//! * headings: `.SH` (upper-cased) at the level the caller names, `.SS` below it;
//! * paragraphs: `.PP`; lists: `.IP` (nested lists inside `.RS`/`.RE`); block quotes:
//!   `.RS`/`.RE`;
//! * code blocks: `.nf`/`.fi`, indented, every line escaped;
//! * tables: tbl (`.TS`/`.TE`, the page then needs the `'\" t` first line: [`Rendered`]
//!   says so), every cell a text block so that long cells wrap;
//! * inline code and strong text: bold; emphasis: italic; links: their text, followed by the
//!   address when it is outside the repository (`http`, `https`, `mailto`);
//! * HTML, images and rules are dropped.
//!
//! Text is escaped so that roff prints it as written: backslashes, `-` (as `\-`, the ASCII
//! hyphen-minus options are typed with), quotes and accents that groff would turn into
//! typographic ones, `^` and `~`, and every character outside ASCII (as `\[uXXXX]`), and a
//! line that would start with `.` or `'` (a control line) starts with `\&`.

use std::fmt::Write as _;

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

/// A prefix of a line in the inline buffer that is a control line, emitted as it is.
const RAW: char = '\u{1}';

/// Escapes `text` for roff (for a text line or a quoted macro argument, not for the start
/// of a line: see [`text_line`]).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\(rs"),
            '-' => out.push_str("\\-"),
            '\'' => out.push_str("\\(aq"),
            '`' => out.push_str("\\(ga"),
            '^' => out.push_str("\\(ha"),
            '~' => out.push_str("\\(ti"),
            '"' => out.push_str("\\(dq"),
            '\t' => out.push(' '),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c if c.is_ascii_control() => {}
            c => {
                let _ = write!(out, "\\[u{:04X}]", u32::from(c));
            }
        }
    }
    out
}

/// `line` (escaped text) as a text line: leading blanks (which would break the line) removed
/// and a leading `.` or `'` made harmless. `None` for a blank line.
pub(crate) fn text_line(line: &str) -> Option<String> {
    let line = line.trim_start();
    if line.is_empty() {
        None
    } else if line.starts_with(['.', '\'']) {
        Some(format!("\\&{line}"))
    } else {
        Some(line.to_owned())
    }
}

/// `text` as a quoted macro argument.
pub(crate) fn quoted(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

/// The roff of some Markdown.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    /// The roff, a sequence of whole lines.
    pub(crate) roff: String,
    /// Whether it has a table (the page must then start with `'\" t`).
    pub(crate) has_table: bool,
}

/// Renders `markdown`; headings of `sh_level` (1 for `#`) and above become `.SH`, deeper
/// ones `.SS`.
pub(crate) fn markdown(markdown: &str, sh_level: usize) -> Rendered {
    let mut e = Emitter::new(sh_level);
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        e.event(event);
    }
    e.flush();
    Rendered {
        roff: e.out,
        has_table: e.has_table,
    }
}

/// Markdown text as inline roff text lines (no paragraph macros): for one-line descriptions.
pub(crate) fn inline(markdown_text: &str) -> String {
    let r = markdown(markdown_text, 1);
    r.roff
        .lines()
        .filter(|l| *l != ".PP")
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The heading levels in pulldown-cmark's terms, as numbers.
pub(crate) fn level_number(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[derive(Debug)]
struct List {
    /// The next number of an ordered list.
    next: Option<u64>,
    /// Indent of the items' text.
    indent: usize,
}

#[derive(Debug, Default)]
struct Table {
    /// The cells' roff.
    rows: Vec<Vec<String>>,
    /// The cells' plain text, for the column widths.
    plain: Vec<Vec<String>>,
    head_rows: usize,
    /// The cell being read: roff and plain text.
    cell: Option<(String, String)>,
}

#[derive(Debug)]
struct Emitter {
    out: String,
    sh_level: usize,
    /// Escaped inline text not written yet; `\n` separates output lines.
    inline: String,
    bold: usize,
    italic: usize,
    lists: Vec<List>,
    /// The block just started is the first of a list item (its `.IP` is written).
    item_fresh: bool,
    /// For each open link, the address to print after its text.
    links: Vec<Option<String>>,
    /// The heading being read: its level and plain text.
    heading: Option<(usize, String)>,
    /// The code block being read.
    code: Option<String>,
    table: Option<Table>,
    has_table: bool,
}

impl Emitter {
    fn new(sh_level: usize) -> Emitter {
        Emitter {
            out: String::new(),
            sh_level,
            inline: String::new(),
            bold: 0,
            italic: 0,
            lists: Vec::new(),
            item_fresh: false,
            links: Vec::new(),
            heading: None,
            code: None,
            table: None,
            has_table: false,
        }
    }

    fn control(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
    }

    /// Writes the pending inline text.
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.inline);
        for line in text.split('\n') {
            if let Some(raw) = line.strip_prefix(RAW) {
                self.control(raw);
            } else if let Some(l) = text_line(line) {
                self.control(&l);
            }
        }
    }

    /// Starts a block (paragraph, code block, table) at the current list position.
    fn block(&mut self, paragraph: bool) {
        self.flush();
        if self.item_fresh {
            self.item_fresh = false;
        } else if let Some(list) = self.lists.last() {
            let line = format!(".IP \"\" {}", list.indent);
            self.control(&line);
        } else if paragraph {
            self.control(".PP");
        }
    }

    fn font(&self) -> &'static str {
        match (self.bold > 0, self.italic > 0) {
            (false, false) => "\\fR",
            (true, false) => "\\fB",
            (false, true) => "\\fI",
            (true, true) => "\\f(BI",
        }
    }

    fn push(&mut self, s: &str) {
        if let Some((_, text)) = &mut self.heading {
            return text.push_str(s);
        }
        if let Some((cell, plain)) = self.table.as_mut().and_then(|t| t.cell.as_mut()) {
            plain.push_str(s);
            return cell.push_str(&breakable(s));
        }
        self.item_fresh = false;
        self.inline.push_str(&escape(s));
    }

    /// Code: as [`push`](Self::push), and breakable after `/`, `:` and the like (paths and
    /// `a::b` words are long).
    fn push_code(&mut self, s: &str) {
        if let Some((_, text)) = &mut self.heading {
            return text.push_str(s);
        }
        if let Some((_, plain)) = self.table.as_mut().and_then(|t| t.cell.as_mut()) {
            plain.push_str(s);
        }
        self.push_roff(&breakable(s));
    }

    fn push_roff(&mut self, s: &str) {
        if self.heading.is_some() {
            return;
        }
        match self.table.as_mut().and_then(|t| t.cell.as_mut()) {
            Some((cell, _)) => cell.push_str(s),
            None => {
                self.item_fresh = false;
                self.inline.push_str(s);
            }
        }
    }

    fn set_font(&mut self, change: impl FnOnce(&mut Self)) {
        change(self);
        let f = self.font();
        self.push_roff(f);
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => match &mut self.code {
                Some(code) => code.push_str(&t),
                None => self.push(&t),
            },
            Event::Code(t) => {
                self.set_font(|e| e.bold += 1);
                // `\%`: code is not hyphenated.
                for (i, word) in t.split(' ').enumerate() {
                    if i > 0 {
                        self.push(" ");
                    }
                    if !word.is_empty() {
                        self.push_roff("\\%");
                        self.push_code(word);
                    }
                }
                self.set_font(|e| e.bold -= 1);
            }
            Event::SoftBreak => {
                if self.table.is_some() || self.heading.is_some() {
                    self.push(" ");
                } else {
                    self.inline.push('\n');
                }
            }
            Event::HardBreak => {
                if self.table.is_some() || self.heading.is_some() {
                    self.push(" ");
                } else {
                    self.inline.push('\n');
                    self.inline.push(RAW);
                    self.inline.push_str(".br\n");
                }
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.push(&t),
            Event::Html(_)
            | Event::InlineHtml(_)
            | Event::FootnoteReference(_)
            | Event::TaskListMarker(_)
            | Event::Rule => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.block(true),
            Tag::Heading { level, .. } => {
                self.flush();
                self.heading = Some((level_number(level), String::new()));
            }
            Tag::BlockQuote(_) => {
                self.block(false);
                self.control(".RS 4");
            }
            Tag::CodeBlock(_) => {
                self.block(true);
                self.code = Some(String::new());
            }
            Tag::List(start) => {
                self.flush();
                if !self.lists.is_empty() {
                    self.item_fresh = false;
                    self.control(".RS");
                }
                let indent = if start.is_some() { 4 } else { 2 };
                self.lists.push(List {
                    next: start,
                    indent,
                });
            }
            Tag::Item => {
                self.flush();
                let line = match self.lists.last_mut() {
                    Some(List {
                        next: Some(n),
                        indent,
                    }) => {
                        let l = format!(".IP {n}. {indent}");
                        *n += 1;
                        l
                    }
                    Some(List { indent, .. }) => format!(".IP \\(bu {indent}"),
                    None => ".IP \\(bu 2".to_owned(),
                };
                self.control(&line);
                self.item_fresh = true;
            }
            Tag::Table(_) => {
                self.block(true);
                self.table = Some(Table::default());
                self.has_table = true;
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                    t.plain.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(t) = &mut self.table {
                    t.cell = Some((String::new(), String::new()));
                }
            }
            Tag::Emphasis => self.set_font(|e| e.italic += 1),
            Tag::Strong => self.set_font(|e| e.bold += 1),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                // An autolink's text is its address already.
                let external = !matches!(link_type, LinkType::Autolink | LinkType::Email)
                    && ["http://", "https://", "mailto:"]
                        .iter()
                        .any(|p| dest_url.starts_with(p));
                self.links.push(external.then(|| dest_url.to_string()));
            }
            Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Image { .. }
            | Tag::HtmlBlock
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.flush(),
            TagEnd::Heading(_) => {
                if let Some((level, text)) = self.heading.take() {
                    let line = if level <= self.sh_level {
                        format!(".SH {}", quoted(&text.to_uppercase()))
                    } else {
                        format!(".SS {}", quoted(&text))
                    };
                    self.control(&line);
                }
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.control(".RE");
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                self.control(".RS 4");
                self.control(".nf");
                for line in code.strip_suffix('\n').unwrap_or(&code).split('\n') {
                    let escaped = code_line(line);
                    self.control(&escaped);
                }
                self.control(".fi");
                self.control(".RE");
            }
            TagEnd::List(_) => {
                self.flush();
                self.item_fresh = false;
                self.lists.pop();
                if !self.lists.is_empty() {
                    self.control(".RE");
                }
            }
            TagEnd::Item => {
                self.flush();
                self.item_fresh = false;
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    let tbl = tbl(&t);
                    self.out.push_str(&tbl);
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.head_rows = t.rows.len();
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = &mut self.table
                    && let Some((cell, plain)) = t.cell.take()
                    && let (Some(row), Some(plain_row)) = (t.rows.last_mut(), t.plain.last_mut())
                {
                    row.push(cell);
                    plain_row.push(plain);
                }
            }
            TagEnd::Emphasis => self.set_font(|e| e.italic = e.italic.saturating_sub(1)),
            TagEnd::Strong => self.set_font(|e| e.bold = e.bold.saturating_sub(1)),
            TagEnd::Link => {
                if let Some(Some(url)) = self.links.pop() {
                    self.push(&format!(" <{url}>"));
                }
            }
            TagEnd::TableRow
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Image
            | TagEnd::HtmlBlock
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {}
        }
    }
}

/// `text` escaped, with a break point (`\:`) after each `/`, `:`, `=`, `,` and `|`, and
/// before each `\`: table columns are narrow, and paths, `a::b::c` words and `\t`s must
/// still fit.
fn breakable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\:");
        }
        out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        if matches!(c, '/' | ':' | '=' | ',' | '|') {
            out.push_str("\\:");
        }
    }
    out
}

/// A line of a code block, in no-fill mode: blanks and tabs kept, an empty line kept as one.
fn code_line(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        match c {
            '\t' => out.push('\t'),
            c => out.push_str(&escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    if out.is_empty() || out.starts_with(['.', '\'']) {
        out.insert_str(0, "\\&");
    }
    out
}

/// The width of the text of a page at 80 columns (man indents it by 7), in ens.
const TEXT_WIDTH: usize = 73;
/// tbl's default gap between columns, in ens.
const GAP: usize = 3;

/// Minimum widths of the columns of a table, in ens: what each needs if they fit in
/// [`TEXT_WIDTH`], else a share of it by how much text each has (never narrower than its
/// longest word, when possible).
fn widths(plain: &[Vec<String>], columns: usize) -> Vec<usize> {
    let avail = TEXT_WIDTH
        .saturating_sub(GAP * columns.saturating_sub(1))
        .max(6 * columns);
    let column = |c: usize| plain.iter().filter_map(move |row| row.get(c));
    let need: Vec<usize> = (0..columns)
        .map(|c| {
            column(c)
                .map(|s| s.trim().chars().count())
                .max()
                .unwrap_or(0)
                .max(1)
        })
        .collect();
    if need.iter().sum::<usize>() <= avail {
        return need;
    }
    let word: Vec<usize> = (0..columns)
        .map(|c| {
            column(c)
                .flat_map(|s| s.split(|ch: char| ch.is_whitespace() || "/:=,|\\".contains(ch)))
                .map(|w| w.chars().count() + 1)
                .max()
                .unwrap_or(1)
        })
        .collect();
    let mut w: Vec<usize> = need
        .iter()
        .zip(&word)
        .map(|(n, w)| (*n).min((*w).max(6)).min(avail / 2))
        .collect();
    let floor: usize = w.iter().sum();
    if floor < avail {
        let rest = avail - floor;
        let extra: Vec<usize> = need.iter().zip(&w).map(|(n, w)| n - w).collect();
        let total: usize = extra.iter().sum::<usize>().max(1);
        for (wi, e) in w.iter_mut().zip(&extra) {
            *wi += rest * e / total;
        }
    }
    w
}

/// A table for tbl: the header rows bold, a rule under them, every cell a text block (so
/// that long cells wrap) except empty ones; the columns as wide as [`widths`] says, the
/// widest one wider on a wider terminal.
fn tbl(t: &Table) -> String {
    let columns = t.rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let widths = widths(&t.plain, columns);
    // Not adjusted: narrow columns cannot be filled to both margins.
    let mut out = String::from(".na\n.TS\ntab(\t);\n");
    // The widest column takes what a wider terminal adds (tbl would make several `x`
    // columns equally wide).
    let widest = (0..columns).max_by_key(|c| widths[*c]).unwrap_or(0);
    let format = |font: &str| {
        widths
            .iter()
            .enumerate()
            .map(|(c, w)| format!("l{font}w({w}n){}", if c == widest { "x" } else { "" }))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if t.head_rows > 0 {
        out.push_str(&format("b"));
        out.push('\n');
    }
    out.push_str(&format(""));
    out.push_str(".\n");
    for (i, row) in t.rows.iter().enumerate() {
        let cells: Vec<String> = (0..columns)
            .map(|c| {
                let cell = row.get(c).map_or("", |s| s.trim());
                if cell.is_empty() {
                    String::new()
                } else {
                    let line = text_line(cell).unwrap_or_default();
                    format!("T{{\n{line}\nT}}")
                }
            })
            .collect();
        out.push_str(&cells.join("\t"));
        out.push('\n');
        if i + 1 == t.head_rows {
            out.push_str("_\n");
        }
    }
    out.push_str(".TE\n.ad\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_are_escaped() {
        assert_eq!(escape(r"a\b"), r"a\(rsb");
        assert_eq!(escape("--run-dir"), r"\-\-run\-dir");
        assert_eq!(
            escape("it's `x` ^ ~ \"q\""),
            r"it\(aqs \(gax\(ga \(ha \(ti \(dqq\(dq"
        );
        assert_eq!(escape("0 ≤ N · é"), r"0 \[u2264] N \[u00B7] \[u00E9]");
        assert_eq!(escape("😀"), r"\[u1F600]");
    }

    #[test]
    fn control_characters_at_line_starts_are_neutralised() {
        let r = markdown("first line\n.second line\n'third line\n\n. alone", 1);
        assert_eq!(
            r.roff,
            ".PP\nfirst line\n\\&.second line\n\\(aqthird line\n.PP\n\\&. alone\n"
        );
        assert_eq!(text_line("   .x"), Some("\\&.x".into()));
        assert_eq!(text_line("  "), None);
    }

    #[test]
    fn headings_and_inline_fonts() {
        let r = markdown(
            "# Top\n\n## Sub `x`\n\nSome **bold `code` here** and *it*.\n",
            1,
        );
        assert_eq!(
            r.roff,
            ".SH \"TOP\"\n.SS \"Sub x\"\n.PP\nSome \\fBbold \\fB\\%code\\fB here\\fR and \\fIit\\fR.\n"
        );
        assert!(!r.has_table);
    }

    #[test]
    fn code_blocks_keep_their_lines() {
        let r = markdown("```\n.start\n\n  a\\b -x\n'q\n```\n", 1);
        assert_eq!(
            r.roff,
            ".PP\n.RS 4\n.nf\n\\&.start\n\\&\n  a\\(rsb \\-x\n\\(aqq\n.fi\n.RE\n"
        );
    }

    #[test]
    fn a_table_is_tbl() {
        let r = markdown(
            "| option | meaning |\n|---|---|\n| `-f` | foreground |\n| `--run-dir` | |\n| a.b | /run/x |\n",
            1,
        );
        assert!(r.has_table);
        assert_eq!(
            r.roff,
            ".PP\n.na\n.TS\ntab(\t);\nlbw(9n) lbw(10n)x\nlw(9n) lw(10n)x.\n\
             T{\noption\nT}\tT{\nmeaning\nT}\n_\n\
             T{\n\\fB\\%\\-f\\fR\nT}\tT{\nforeground\nT}\n\
             T{\n\\fB\\%\\-\\-run\\-dir\\fR\nT}\t\n\
             T{\na.b\nT}\tT{\n/\\:run/\\:x\nT}\n\
             .TE\n.ad\n"
        );
    }

    #[test]
    fn lists_nest() {
        let r = markdown("* one\n* two\n  1. a\n  2. b\n* three\n\nafter\n", 1);
        assert_eq!(
            r.roff,
            ".IP \\(bu 2\none\n.IP \\(bu 2\ntwo\n.RS\n.IP 1. 4\na\n.IP 2. 4\nb\n.RE\n\
             .IP \\(bu 2\nthree\n.PP\nafter\n"
        );
        let r = markdown("* one\n\n  more\n\n  ```\n  x\n  ```\n", 1);
        assert_eq!(
            r.roff,
            ".IP \\(bu 2\none\n.IP \"\" 2\nmore\n.IP \"\" 2\n.RS 4\n.nf\nx\n.fi\n.RE\n"
        );
    }

    #[test]
    fn links_keep_their_text_and_outside_addresses() {
        let r = markdown(
            "See [control.md](control.md#x), [the site](https://example.org/a) and <https://example.org/b>.",
            1,
        );
        assert_eq!(
            r.roff,
            ".PP\nSee control.md, the site <https://example.org/a> and https://example.org/b.\n"
        );
    }
}
