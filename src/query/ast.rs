//! The filter syntax tree and its canonical printer. `Display` output always parses back to an
//! equal tree, so rules can be stored, compared and shown in one normal form.

use std::fmt;

/// A byte offset into the filter source. Equality ignores it, so trees compare structurally.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pos(pub usize);

impl PartialEq for Pos {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A boolean expression: comparisons joined by `&&` / `||` (n-ary, at least two children).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `left op right`.
    Cmp(Box<Comparison>),
    /// `a && b && …`.
    And(Vec<Expr>),
    /// `a || b || …`.
    Or(Vec<Expr>),
}

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub left: Operand,
    pub op: CmpOp,
    /// The `?` any-of form (`?=`, `?~`, …).
    pub any: bool,
    pub right: Operand,
    /// Where the left operand starts.
    pub pos: Pos,
}

/// The comparison operators without their `?` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    NotLike,
}

impl CmpOp {
    /// The operator as written (without `?`).
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Like => "~",
            CmpOp::NotLike => "!~",
        }
    }
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Null(Pos),
    Bool(bool, Pos),
    /// A finite number (the grammar has no exponents, NaN or infinities).
    Number(f64, Pos),
    Str(String, Pos),
    Ident(Ident),
    Macro(Macro, Pos),
    Call(Call),
}

impl Operand {
    /// Where the operand starts in the source.
    pub fn pos(&self) -> usize {
        match self {
            Operand::Null(p)
            | Operand::Bool(_, p)
            | Operand::Number(_, p)
            | Operand::Str(_, p)
            | Operand::Macro(_, p) => p.0,
            Operand::Ident(i) => i.pos.0,
            Operand::Call(c) => c.pos.0,
        }
    }
}

/// Where an identifier path starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// A field of the filtered record.
    Record,
    /// `@request.auth.…`
    Auth,
    /// `@request.body.…`
    Body,
    /// `@request.query.…`
    Query,
    /// `@request.headers.…`
    Headers,
    /// `@request.method` (no path).
    Method,
    /// `@request.context` (no path).
    Context,
    /// `@collection.<name>[:alias].…`
    Collection { name: String, alias: Option<String> },
}

/// A (possibly dotted) identifier with an optional trailing modifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub root: Root,
    /// Dotted segments after the root (for `Record` the first one is the field name).
    pub path: Vec<String>,
    pub modifier: Option<Modifier>,
    pub pos: Pos,
}

/// `:isset`, `:changed`, `:length`, `:each`, `:lower`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Isset,
    Changed,
    Length,
    Each,
    Lower,
}

impl Modifier {
    /// All modifiers with their names.
    pub const ALL: [(Modifier, &'static str); 5] = [
        (Modifier::Isset, "isset"),
        (Modifier::Changed, "changed"),
        (Modifier::Length, "length"),
        (Modifier::Each, "each"),
        (Modifier::Lower, "lower"),
    ];

    /// The name after the colon.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("", |(_, s)| s)
    }
}

/// Datetime macros, evaluated in UTC at evaluation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Macro {
    Now,
    Second,
    Minute,
    Hour,
    Weekday,
    Day,
    Month,
    Year,
    Yesterday,
    Tomorrow,
    TodayStart,
    TodayEnd,
    MonthStart,
    MonthEnd,
    YearStart,
    YearEnd,
}

impl Macro {
    /// Every macro with its name (without `@`).
    pub const ALL: [(Macro, &'static str); 16] = [
        (Macro::Now, "now"),
        (Macro::Second, "second"),
        (Macro::Minute, "minute"),
        (Macro::Hour, "hour"),
        (Macro::Weekday, "weekday"),
        (Macro::Day, "day"),
        (Macro::Month, "month"),
        (Macro::Year, "year"),
        (Macro::Yesterday, "yesterday"),
        (Macro::Tomorrow, "tomorrow"),
        (Macro::TodayStart, "todayStart"),
        (Macro::TodayEnd, "todayEnd"),
        (Macro::MonthStart, "monthStart"),
        (Macro::MonthEnd, "monthEnd"),
        (Macro::YearStart, "yearStart"),
        (Macro::YearEnd, "yearEnd"),
    ];

    /// The name without `@`.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("", |(_, s)| s)
    }
}

/// The supported functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `strftime(format[, value])`; without a value it formats the current time.
    Strftime,
    /// `geoDistance(lonA, latA, lonB, latB)` in km.
    GeoDistance,
}

impl Func {
    /// The function name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Func::Strftime => "strftime",
            Func::GeoDistance => "geoDistance",
        }
    }

    /// How many arguments the function takes (least, most). `strftime(format)` formats now.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::Strftime => (1, 2),
            Func::GeoDistance => (4, 4),
        }
    }
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: Func,
    pub args: Vec<Operand>,
    pub pos: Pos,
}

fn write_str_lit(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = match &self.root {
            Root::Record => String::new(),
            Root::Auth => "@request.auth".into(),
            Root::Body => "@request.body".into(),
            Root::Query => "@request.query".into(),
            Root::Headers => "@request.headers".into(),
            Root::Method => "@request.method".into(),
            Root::Context => "@request.context".into(),
            Root::Collection { name, alias } => match alias {
                Some(a) => format!("@collection.{name}:{a}"),
                None => format!("@collection.{name}"),
            },
        };
        f.write_str(&head)?;
        for (i, seg) in self.path.iter().enumerate() {
            if i > 0 || !head.is_empty() {
                f.write_str(".")?;
            }
            f.write_str(seg)?;
        }
        if let Some(m) = self.modifier {
            write!(f, ":{}", m.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Null(_) => f.write_str("null"),
            Operand::Bool(b, _) => write!(f, "{b}"),
            // Rust prints f64 without exponents and with the shortest round-tripping digits.
            Operand::Number(n, _) => write!(f, "{n}"),
            Operand::Str(s, _) => write_str_lit(f, s),
            Operand::Ident(i) => write!(f, "{i}"),
            Operand::Macro(m, _) => write!(f, "@{}", m.as_str()),
            Operand::Call(c) => {
                write!(f, "{}(", c.func.as_str())?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = if self.any { "?" } else { "" };
        write!(f, "{} {q}{} {}", self.left, self.op.as_str(), self.right)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Cmp(c) => write!(f, "{c}"),
            Expr::And(items) | Expr::Or(items) => {
                let and = matches!(self, Expr::And(_));
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(if and { " && " } else { " || " })?;
                    }
                    // A nested list of the same kind, or an OR inside an AND, needs parentheses.
                    let paren = match e {
                        Expr::Cmp(_) => false,
                        Expr::And(_) => and,
                        Expr::Or(_) => true,
                    };
                    if paren {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
        }
    }
}
