//! Tokens of the filter grammar with their byte positions. The lexer never panics: every byte
//! sequence becomes tokens or one positioned [`ParseError`].

use super::ParseError;
use crate::error::echo;

/// One token kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare word, path or `@…` name, including `.` and `:` (`author.name`, `tags:each`).
    Ident(String),
    Str(String),
    /// The number as written (validated: `-?digits[.digits]`).
    Number(f64),
    /// `=`, `!=`, `?=`, `~`, `&&`, `||`, `(`, `)`, `,` …
    Sym(&'static str),
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("\"{}\"", echo(s)),
            Tok::Str(s) => format!("string {:?}", echo(s)),
            Tok::Number(n) => format!("number {n}"),
            Tok::Sym(s) => format!("'{s}'"),
        }
    }
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const SYMBOLS: [&str; 21] = [
    "?!=", "?>=", "?<=", "?!~", "?=", "?>", "?<", "?~", "!=", ">=", "<=", "!~", "&&", "||", "=",
    ">", "<", "~", "(", ")", ",",
];

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@' || c == '#'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '#' | '.' | ':')
}

/// Splits `src` into tokens, skipping whitespace and `//` line comments.
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some(&(pos, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if src[pos..].starts_with("//") {
            while it.next_if(|&(_, c)| c != '\n').is_some() {}
        } else if c == '"' || c == '\'' {
            it.next();
            out.push(Token {
                tok: Tok::Str(string_body(pos, c, &mut it)?),
                pos,
            });
        } else if c.is_ascii_digit() || (c == '-' && next_is_digit(src, pos)) {
            let len = number_len(&src[pos..]);
            let text = &src[pos..pos + len];
            let n: f64 = text
                .parse()
                .map_err(|_| ParseError::new(pos, format!("invalid number \"{text}\" at {pos}")))?;
            let rest = &src[pos + len..];
            if rest.starts_with(|c: char| c.is_alphanumeric() || c == '.' || c == '_') {
                return Err(ParseError::new(
                    pos,
                    format!("invalid number \"{}\" at {pos}", word_at(src, pos)),
                ));
            }
            out.push(Token {
                tok: Tok::Number(n),
                pos,
            });
            while it.next_if(|&(p, _)| p < pos + len).is_some() {}
        } else if is_ident_start(c) {
            let mut end = pos;
            while let Some((p, ch)) = it.next_if(|&(_, ch)| is_ident_char(ch)) {
                end = p + ch.len_utf8();
            }
            out.push(Token {
                tok: Tok::Ident(src[pos..end].to_string()),
                pos,
            });
        } else if let Some(sym) = SYMBOLS.iter().find(|s| src[pos..].starts_with(**s)) {
            out.push(Token {
                tok: Tok::Sym(sym),
                pos,
            });
            for _ in 0..sym.len() {
                it.next();
            }
        } else {
            return Err(ParseError::new(
                pos,
                format!("unexpected token '{c}' at {pos}"),
            ));
        }
    }
    Ok(out)
}

fn next_is_digit(src: &str, pos: usize) -> bool {
    src[pos + 1..].starts_with(|c: char| c.is_ascii_digit())
}

/// Length of `-?digits(.digits)?` at the start of `s`.
fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    i
}

/// The run of word-ish characters at `pos`, for error messages.
fn word_at(src: &str, pos: usize) -> &str {
    let end = src[pos..]
        .char_indices()
        .skip(1)
        .find(|&(_, c)| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')))
        .map_or(src.len(), |(i, _)| pos + i);
    &src[pos..end]
}

/// Reads a quoted string after its opening quote. `\"`, `\'` and `\\` are escapes; any other
/// backslash is kept as written so LIKE patterns can use `\%`.
fn string_body(
    start: usize,
    quote: char,
    it: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, ParseError> {
    let mut s = String::new();
    loop {
        match it.next() {
            None => {
                return Err(ParseError::new(
                    start,
                    format!("unterminated string starting at {start}"),
                ))
            }
            Some((_, c)) if c == quote => return Ok(s),
            Some((_, '\\')) => match it.peek() {
                Some(&(_, c)) if c == '"' || c == '\'' || c == '\\' => {
                    s.push(c);
                    it.next();
                }
                _ => s.push('\\'),
            },
            Some((_, c)) => s.push(c),
        }
    }
}
