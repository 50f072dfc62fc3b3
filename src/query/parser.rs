//! Recursive-descent parser for PocketBase's filter grammar: `||` over `&&` over comparisons,
//! parentheses, literals, paths with modifiers, `@request.*`, `@collection.*`, macros and
//! functions. Bounded by [`Limits`] so no input can exhaust the stack or the CPU.

use super::ast::{Call, CmpOp, Comparison, Expr, Func, Ident, Macro, Modifier, Operand, Pos, Root};
use super::lexer::{tokenize, Tok, Token};
use super::{Limits, ParseError};
use crate::error::echo;

/// Parses a filter or rule with the default [`Limits`].
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    parse_with(src, &Limits::default())
}

/// Parses with explicit limits.
pub fn parse_with(src: &str, limits: &Limits) -> Result<Expr, ParseError> {
    let len = src.chars().count();
    if len > limits.max_len {
        return Err(ParseError::new(
            0,
            format!(
                "the filter is {len} characters long, more than the limit of {}",
                limits.max_len
            ),
        ));
    }
    let mut p = Parser {
        toks: tokenize(src)?,
        i: 0,
        end: src.len(),
        depth: 0,
        comparisons: 0,
        limits,
    };
    if p.toks.is_empty() {
        return Err(ParseError::new(0, "empty filter expression".into()));
    }
    let e = p.or_expr()?;
    match p.toks.get(p.i) {
        None => Ok(e),
        Some(t) if t.tok == Tok::Sym(")") => Err(ParseError::new(
            t.pos,
            format!("unexpected token ')' at {}", t.pos),
        )),
        Some(t) => Err(ParseError::new(
            t.pos,
            format!("expected && or ||, got {} at {}", t.tok.describe(), t.pos),
        )),
    }
}

struct Parser<'l> {
    toks: Vec<Token>,
    i: usize,
    end: usize,
    depth: usize,
    comparisons: usize,
    limits: &'l Limits,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn at(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn eat(&mut self, sym: &str) -> bool {
        let hit = matches!(self.peek(), Some(Token { tok: Tok::Sym(s), .. }) if *s == sym);
        self.i += usize::from(hit);
        hit
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            let at = self.at();
            return Err(ParseError::new(
                at,
                format!(
                    "the filter is nested more than {} levels deep at {at}",
                    self.limits.max_depth
                ),
            ));
        }
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and_expr()?];
        while self.eat("||") {
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.primary()?];
        while self.eat("&&") {
            items.push(self.primary()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("(") {
            self.enter()?;
            let e = self.or_expr()?;
            if !self.eat(")") {
                return Err(self.unexpected("')'"));
            }
            self.depth -= 1;
            return Ok(e);
        }
        self.comparison()
    }

    fn unexpected(&self, wanted: &str) -> ParseError {
        match self.peek() {
            None => ParseError::new(
                self.end,
                format!(
                    "unexpected end of filter at {}, expected {wanted}",
                    self.end
                ),
            ),
            Some(t) => ParseError::new(
                t.pos,
                format!("expected {wanted}, got {} at {}", t.tok.describe(), t.pos),
            ),
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        self.comparisons += 1;
        if self.comparisons > self.limits.max_comparisons {
            let at = self.at();
            return Err(ParseError::new(
                at,
                format!(
                    "the filter has more than {} comparisons (at {at})",
                    self.limits.max_comparisons
                ),
            ));
        }
        let pos = self.at();
        let left = self.operand()?;
        let (op, any) = match self.peek().map(|t| &t.tok) {
            Some(Tok::Sym(s)) => match parse_op(s) {
                Some(op) => op,
                None => return Err(self.unexpected("a comparison operator")),
            },
            _ => return Err(self.unexpected("a comparison operator")),
        };
        self.i += 1;
        let right = self.operand()?;
        Ok(Expr::Cmp(Box::new(Comparison {
            left,
            op,
            any,
            right,
            pos: Pos(pos),
        })))
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.unexpected("an operand"));
        };
        let pos = Pos(t.pos);
        match t.tok {
            Tok::Str(s) => {
                self.i += 1;
                Ok(Operand::Str(s, pos))
            }
            Tok::Number(n) => {
                self.i += 1;
                Ok(Operand::Number(n, pos))
            }
            Tok::Ident(word) => {
                self.i += 1;
                if self.eat("(") {
                    return self.call(&word, t.pos);
                }
                word_operand(&word, t.pos)
            }
            Tok::Sym(_) => Err(ParseError::new(
                t.pos,
                format!("unexpected token {} at {}", t.tok.describe(), t.pos),
            )),
        }
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Operand, ParseError> {
        let func = match name {
            "strftime" => Func::Strftime,
            "geoDistance" => Func::GeoDistance,
            _ => {
                return Err(ParseError::new(
                    pos,
                    format!("unknown function \"{name}\" at {pos}"),
                ))
            }
        };
        self.enter()?;
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.operand()?);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.unexpected("',' or ')'"));
                }
            }
        }
        self.depth -= 1;
        let (least, most) = func.arity();
        if args.len() < least || args.len() > most {
            let takes = if least == most {
                least.to_string()
            } else {
                format!("{least} to {most}")
            };
            return Err(ParseError::new(
                pos,
                format!(
                    "{name}() takes {takes} arguments, got {} at {pos}",
                    args.len()
                ),
            ));
        }
        Ok(Operand::Call(Call {
            func,
            args,
            pos: Pos(pos),
        }))
    }
}

fn parse_op(s: &str) -> Option<(CmpOp, bool)> {
    let (any, s) = match s.strip_prefix('?') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let op = match s {
        "=" => CmpOp::Eq,
        "!=" => CmpOp::Neq,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Gte,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Lte,
        "~" => CmpOp::Like,
        "!~" => CmpOp::NotLike,
        _ => return None,
    };
    Some((op, any))
}

fn invalid(word: &str, pos: usize, why: &str) -> ParseError {
    ParseError::new(
        pos,
        format!("invalid identifier \"{}\" at {pos}: {why}", echo(word)),
    )
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Turns a word token into a literal, macro or identifier path.
fn word_operand(word: &str, pos: usize) -> Result<Operand, ParseError> {
    let p = Pos(pos);
    match word {
        "null" => return Ok(Operand::Null(p)),
        "true" => return Ok(Operand::Bool(true, p)),
        "false" => return Ok(Operand::Bool(false, p)),
        _ => {}
    }
    if let Some(name) = word.strip_prefix('@') {
        if let Some((m, _)) = Macro::ALL.iter().find(|(_, n)| *n == name) {
            return Ok(Operand::Macro(*m, p));
        }
    }
    // Split off a trailing `:modifier`; an alias colon sits before a later dot.
    let (body, modifier) = match word.rsplit_once(':') {
        Some((b, m)) if !m.contains('.') => {
            let Some((found, _)) = Modifier::ALL.iter().find(|(_, n)| *n == m) else {
                return Err(invalid(word, pos, &format!("unknown modifier \":{m}\"")));
            };
            (b, Some(*found))
        }
        _ => (word, None),
    };
    let mut segs = body.split('.');
    let first = segs.next().unwrap_or_default();
    let rest: Vec<String> = segs.map(String::from).collect();
    let (root, path) = match first {
        "@request" => {
            let (kind, path) = rest.split_first().ok_or_else(|| {
                invalid(
                    word,
                    pos,
                    "expected @request.auth/body/query/headers/method/context",
                )
            })?;
            let root = match kind.as_str() {
                "auth" => Root::Auth,
                "body" => Root::Body,
                "query" => Root::Query,
                "headers" => Root::Headers,
                "method" => Root::Method,
                "context" => Root::Context,
                other => return Err(invalid(word, pos, &format!("unknown @request.{other}"))),
            };
            let wants_path = !matches!(root, Root::Method | Root::Context);
            if wants_path == path.is_empty() {
                return Err(invalid(word, pos, "wrong number of path segments"));
            }
            (root, path.to_vec())
        }
        "@collection" => {
            let (coll, path) = rest
                .split_first()
                .ok_or_else(|| invalid(word, pos, "expected @collection.<name>.<field>"))?;
            let (name, alias) = match coll.split_once(':') {
                Some((n, a)) if valid_segment(a) => (n, Some(a.to_string())),
                Some(_) => return Err(invalid(word, pos, "invalid alias")),
                None => (coll.as_str(), None),
            };
            if path.is_empty() || !valid_segment(name) {
                return Err(invalid(word, pos, "expected @collection.<name>.<field>"));
            }
            (
                Root::Collection {
                    name: name.to_string(),
                    alias,
                },
                path.to_vec(),
            )
        }
        _ if first.starts_with('@') => {
            return Err(ParseError::new(
                pos,
                format!("unknown macro or identifier \"{word}\" at {pos}"),
            ))
        }
        _ => {
            let mut path = vec![first.to_string()];
            path.extend(rest);
            (Root::Record, path)
        }
    };
    if let Some(bad) = path.iter().find(|s| !valid_segment(s)) {
        return Err(invalid(word, pos, &format!("bad path segment \"{bad}\"")));
    }
    Ok(Operand::Ident(Ident {
        root,
        path,
        modifier,
        pos: p,
    }))
}
