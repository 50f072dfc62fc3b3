//! Parser for the subset of SQLite `CREATE INDEX` statements PocketBase collections use:
//! ``CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON coll (a, b [COLLATE NOCASE] [ASC|DESC]) [WHERE f != '' AND …]``.

use crate::store::IndexSpec;

/// One indexed column as written in the statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexColumn {
    pub name: String,
    pub collate: Option<String>,
    pub order: Option<String>,
}

/// A fully parsed index statement, kept so it can be re-rendered after a rename.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedIndex {
    pub name: String,
    pub unique: bool,
    pub table: String,
    pub columns: Vec<IndexColumn>,
    pub skip_empty: Vec<String>,
}

impl ParsedIndex {
    /// The plain description the store maintains (collation and order are not part of it).
    pub fn spec(&self) -> IndexSpec {
        IndexSpec {
            name: self.name.clone(),
            unique: self.unique,
            fields: self.columns.iter().map(|c| c.name.clone()).collect(),
            skip_empty: self.skip_empty.clone(),
        }
    }

    /// Renders the statement in PocketBase's canonical quoting.
    pub fn to_sql(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut s = format!("`{}`", c.name);
                if let Some(coll) = &c.collate {
                    s.push_str(&format!(" COLLATE {coll}"));
                }
                if let Some(o) = &c.order {
                    s.push_str(&format!(" {o}"));
                }
                s
            })
            .collect();
        let mut sql = format!(
            "CREATE {}INDEX `{}` ON `{}` ({})",
            if self.unique { "UNIQUE " } else { "" },
            self.name,
            self.table,
            cols.join(", ")
        );
        if !self.skip_empty.is_empty() {
            let conds: Vec<String> = self
                .skip_empty
                .iter()
                .map(|f| format!("`{f}` != ''"))
                .collect();
            sql.push_str(&format!(" WHERE {}", conds.join(" AND ")));
        }
        sql
    }
}

/// Parses an index statement of `collection_name` into the spec the store maintains. The caller
/// checks that every named field exists.
pub fn parse_index(sql: &str, collection_name: &str) -> Result<IndexSpec, String> {
    let parsed = parse_index_sql(sql)?;
    if !parsed.table.eq_ignore_ascii_case(collection_name) {
        return Err(format!(
            "the index is on `{}` but must be on its collection `{collection_name}`",
            parsed.table
        ));
    }
    Ok(parsed.spec())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Sym(&'static str),
}

fn tokenize(sql: &str) -> Result<Vec<(usize, Tok)>, String> {
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let closing = match c {
            '`' => Some('`'),
            '"' => Some('"'),
            '[' => Some(']'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(close) = closing {
            let end = chars[i + 1..]
                .iter()
                .position(|&(_, ch)| ch == close)
                .ok_or_else(|| format!("unterminated quote at {pos}"))?;
            let text: String = chars[i + 1..i + 1 + end]
                .iter()
                .map(|&(_, ch)| ch)
                .collect();
            out.push((
                pos,
                if c == '\'' {
                    Tok::Str(text)
                } else {
                    Tok::Quoted(text)
                },
            ));
            i += end + 2;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let len = chars[i..]
                .iter()
                .take_while(|&&(_, ch)| ch.is_ascii_alphanumeric() || ch == '_')
                .count();
            out.push((
                pos,
                Tok::Word(chars[i..i + len].iter().map(|&(_, ch)| ch).collect()),
            ));
            i += len;
        } else {
            let next = chars.get(i + 1).map(|&(_, ch)| ch);
            let (sym, len) = match (c, next) {
                ('!', Some('=')) => ("!=", 2),
                ('<', Some('>')) => ("<>", 2),
                ('=', _) => ("=", 1),
                ('<', _) => ("<", 1),
                ('>', _) => (">", 1),
                ('(', _) => ("(", 1),
                (')', _) => (")", 1),
                (',', _) => (",", 1),
                (';', _) => (";", 1),
                _ => return Err(format!("unexpected character '{c}' at {pos}")),
            };
            out.push((pos, Tok::Sym(sym)));
            i += len;
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(p, _)| *p)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        self.pos += usize::from(hit);
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), String> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(format!("expected {kw} at {}", self.at()))
        }
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        let hit = matches!(self.peek(), Some(Tok::Sym(s)) if *s == sym);
        self.pos += usize::from(hit);
        hit
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), String> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(format!("expected '{sym}' at {}", self.at()))
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, String> {
        let at = self.at();
        let name = match self.peek() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.clone(),
            _ => return Err(format!("expected {what} at {at}")),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid {what} '{name}' at {at}"));
        }
        self.pos += 1;
        Ok(name)
    }
}

/// Parses a statement without checking which collection it names.
pub(crate) fn parse_index_sql(sql: &str) -> Result<ParsedIndex, String> {
    let mut p = Parser {
        toks: tokenize(sql)?,
        pos: 0,
        end: sql.len(),
    };
    p.expect_kw("CREATE")?;
    let unique = p.eat_kw("UNIQUE");
    p.expect_kw("INDEX")?;
    if p.eat_kw("IF") {
        p.expect_kw("NOT")?;
        p.expect_kw("EXISTS")?;
    }
    let name = p.ident("index name")?;
    p.expect_kw("ON")?;
    let table = p.ident("collection name")?;
    p.expect_sym("(")?;
    let mut columns: Vec<IndexColumn> = Vec::new();
    loop {
        let at = p.at();
        let col = p.ident("column name")?;
        if columns.iter().any(|c| c.name.eq_ignore_ascii_case(&col)) {
            return Err(format!("column '{col}' is listed twice at {at}"));
        }
        let collate = if p.eat_kw("COLLATE") {
            let at = p.at();
            let coll = p.ident("collation")?.to_ascii_uppercase();
            if coll != "NOCASE" && coll != "BINARY" {
                return Err(format!("unsupported collation '{coll}' at {at}"));
            }
            Some(coll)
        } else {
            None
        };
        let order = ["ASC", "DESC"]
            .into_iter()
            .find(|o| p.eat_kw(o))
            .map(String::from);
        columns.push(IndexColumn {
            name: col,
            collate,
            order,
        });
        if !p.eat_sym(",") {
            break;
        }
    }
    p.expect_sym(")")?;
    let mut skip_empty = Vec::new();
    if p.eat_kw("WHERE") {
        loop {
            let at = p.at();
            let field = p.ident("field name in WHERE")?;
            if !(p.eat_sym("!=") || p.eat_sym("<>")) {
                return Err(format!(
                    "only `field != ''` conditions joined by AND are supported in WHERE (at {at})"
                ));
            }
            if p.peek() != Some(&Tok::Str(String::new())) {
                return Err(format!("expected '' at {}", p.at()));
            }
            p.pos += 1;
            if !skip_empty.contains(&field) {
                skip_empty.push(field);
            }
            if !p.eat_kw("AND") {
                break;
            }
        }
    }
    p.eat_sym(";");
    if p.pos < p.toks.len() {
        return Err(format!("unexpected input at {}", p.at()));
    }
    Ok(ParsedIndex {
        name,
        unique,
        table,
        columns,
        skip_empty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, unique: bool, fields: &[&str], skip: &[&str]) -> IndexSpec {
        IndexSpec {
            name: name.into(),
            unique,
            fields: fields.iter().map(|s| s.to_string()).collect(),
            skip_empty: skip.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parses_pocketbase_auth_indexes() {
        let s = parse_index(
            "CREATE UNIQUE INDEX `idx_tokenKey_pbc_1` ON `users` (`tokenKey`)",
            "users",
        );
        assert_eq!(s, Ok(spec("idx_tokenKey_pbc_1", true, &["tokenKey"], &[])));
        let s = parse_index(
            "CREATE UNIQUE INDEX `idx_email_pbc_1` ON `users` (`email`) WHERE `email` != ''",
            "users",
        );
        assert_eq!(s, Ok(spec("idx_email_pbc_1", true, &["email"], &["email"])));
    }

    #[test]
    fn accepts_quoting_styles_and_keyword_case() {
        let s = parse_index(
            r#"create index if not exists "ix" on [posts] (a, `b` desc, "c" collate nocase asc);"#,
            "POSTS",
        );
        assert_eq!(s, Ok(spec("ix", false, &["a", "b", "c"], &[])));
        let s = parse_index("CREATE INDEX idx_v_uq ON v (uq)", "v");
        assert_eq!(s, Ok(spec("idx_v_uq", false, &["uq"], &[])));
    }

    #[test]
    fn parses_where_conjunctions() {
        let s = parse_index(
            "CREATE INDEX i ON t (a, b) WHERE a != '' AND `b` <> '' and a != ''",
            "t",
        );
        assert_eq!(s, Ok(spec("i", false, &["a", "b"], &["a", "b"])));
    }

    #[test]
    fn refuses_unsupported_statements() {
        let cases = [
            ("", "expected CREATE"),
            ("CREATE TABLE t (a)", "expected INDEX"),
            ("CREATE INDEX i ON t ()", "expected column name"),
            ("CREATE INDEX i ON t (a", "expected ')'"),
            ("CREATE INDEX i ON t (lower(a))", "expected ')'"),
            ("CREATE INDEX i t (a)", "expected ON"),
            ("CREATE INDEX IF EXISTS i ON t (a)", "expected NOT"),
            ("CREATE INDEX i ON t (a, A)", "listed twice"),
            (
                "CREATE INDEX i ON t (a COLLATE RTRIM)",
                "unsupported collation",
            ),
            ("CREATE INDEX i ON t (a) WHERE a = ''", "only `field != ''`"),
            ("CREATE INDEX i ON t (a) WHERE a != 'x'", "expected ''"),
            (
                "CREATE INDEX i ON t (a) WHERE a != '' OR b != ''",
                "unexpected input",
            ),
            ("CREATE INDEX i ON t (a) extra", "unexpected input"),
            ("CREATE INDEX `i ON t (a)", "unterminated quote"),
            (
                "CREATE INDEX i ON t (a) WHERE a != '' + 1",
                "unexpected character '+'",
            ),
            ("CREATE INDEX `a b` ON t (a)", "invalid index name"),
            (
                "CREATE INDEX i ON other (a)",
                "must be on its collection `t`",
            ),
        ];
        for (sql, want) in cases {
            let err = parse_index(sql, "t").unwrap_err();
            assert!(err.contains(want), "{sql:?}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn renders_canonical_sql() {
        let p =
            parse_index_sql("create unique index ix on t (a collate nocase desc, b) where a != ''")
                .unwrap();
        assert_eq!(
            p.to_sql(),
            "CREATE UNIQUE INDEX `ix` ON `t` (`a` COLLATE NOCASE DESC, `b`) WHERE `a` != ''"
        );
        assert_eq!(parse_index_sql(&p.to_sql()), Ok(p));
    }
}
