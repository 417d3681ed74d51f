//! A serde `Deserializer` over a `toml_edit` document whose errors are data, not sentences.
//!
//! The shape pass must know *what kind* of mistake serde found — a key the type does not
//! have, a required key that is absent, a value outside an enum — and *where*, to report it
//! in the file's terms and take the right thing out of the document. `toml_edit`'s own
//! deserializer turns every such error into a string through serde's default
//! constructors, so telling them apart meant matching serde's wording. Here the
//! constructors that serde's derive calls (`unknown_field`, `missing_field`,
//! `unknown_variant`, …) keep their arguments in an [`ErrorKind`], and each error carries the
//! byte span of the key or value it is about, exactly as `toml_edit` would have attached it:
//! a key's span for an error in a key, else the span of the innermost value that failed.
//!
//! Values are offered to serde as `toml_edit` offers them (strings, `i64`, `f64`, booleans,
//! sequences, maps; an enum as a string or a one-entry table), so the serde types accept
//! and reject exactly what they did before.

use std::fmt;
use std::ops::Range;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Expected, IntoDeserializer, Unexpected, Visitor};
use toml_edit::{ArrayOfTables, InlineTable, Item, Table, Value};

/// Message of a date that chrono cannot read, as the serde types say it (see
/// `types::de_date`); the shape pass adds the text the file has.
pub(super) const INVALID_DATE: &str = "invalid date (expected \"YYYY-MM-DD\", e.g. \"2025-05-20\")";

/// What serde found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ErrorKind {
    /// A table lacks a required key.
    MissingField(&'static str),
    /// A table has a key its type does not; `expected` are the keys it has.
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    /// A string is none of an enum's values.
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    /// A date string chrono could not read.
    InvalidDate,
    /// Anything else (a wrong type, a value out of range, a message of our own types), in
    /// words.
    Other(String),
}

/// A deserialization error and the span of the key or value it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Error {
    pub(super) kind: ErrorKind,
    pub(super) span: Option<Range<usize>>,
}

impl Error {
    fn new(kind: ErrorKind, span: Option<Range<usize>>) -> Self {
        Error { kind, span }
    }

    fn other(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Error::new(ErrorKind::Other(message.into()), span)
    }

    /// Attaches `span` unless a deeper value already gave one.
    fn at(mut self, span: Option<Range<usize>>) -> Self {
        if self.span.is_none() {
            self.span = span;
        }
        self
    }
}

/// `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``.
pub(super) fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [a] => format!("`{a}`"),
        [a, b] => format!("`{a}` or `{b}`"),
        _ => {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

impl fmt::Display for Error {
    /// In serde's terms (fields, variants); the shape pass says it in the file's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::MissingField(field) => write!(f, "missing field `{field}`"),
            ErrorKind::UnknownField {
                field,
                expected: [],
            } => {
                write!(f, "unknown field `{field}`, there are no fields")
            }
            ErrorKind::UnknownField { field, expected } => {
                write!(f, "unknown field `{field}`, expected {}", one_of(expected))
            }
            ErrorKind::UnknownVariant {
                variant,
                expected: [],
            } => {
                write!(f, "unknown variant `{variant}`, there are no variants")
            }
            ErrorKind::UnknownVariant { variant, expected } => {
                write!(
                    f,
                    "unknown variant `{variant}`, expected {}",
                    one_of(expected)
                )
            }
            ErrorKind::InvalidDate => f.write_str(INVALID_DATE),
            ErrorKind::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let message = msg.to_string();
        if message == INVALID_DATE {
            return Error::new(ErrorKind::InvalidDate, None);
        }
        Error::other(message, None)
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Error::other(format!("invalid type: {unexp}, expected {exp}"), None)
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Error::other(format!("invalid value: {unexp}, expected {exp}"), None)
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        Error::other(format!("invalid length {len}, expected {exp}"), None)
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let kind = ErrorKind::UnknownVariant {
            variant: variant.to_owned(),
            expected,
        };
        Error::new(kind, None)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let kind = ErrorKind::UnknownField {
            field: field.to_owned(),
            expected,
        };
        Error::new(kind, None)
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(ErrorKind::MissingField(field), None)
    }

    fn duplicate_field(field: &'static str) -> Self {
        Error::other(format!("duplicate field `{field}`"), None)
    }
}

/// Deserializes `T` from the root table of a document.
pub(super) fn from_table<'de, T: de::Deserialize<'de>>(root: &Table) -> Result<T, Error> {
    T::deserialize(Node::Table(root))
}

/// Anything that can stand where a value is expected.
#[derive(Clone, Copy)]
enum Node<'a> {
    Absent,
    Value(&'a Value),
    Table(&'a Table),
    Tables(&'a ArrayOfTables),
}

impl<'a> Node<'a> {
    fn of(item: &'a Item) -> Self {
        match item {
            Item::None => Node::Absent,
            Item::Value(v) => Node::Value(v),
            Item::Table(t) => Node::Table(t),
            Item::ArrayOfTables(a) => Node::Tables(a),
        }
    }

    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Absent => None,
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
            Node::Tables(a) => a.span(),
        }
    }

    /// `toml_edit`'s name for the kind of value.
    fn type_name(&self) -> &'static str {
        match self {
            Node::Absent => "none",
            Node::Value(v) => v.type_name(),
            Node::Table(_) => "table",
            Node::Tables(_) => "array of tables",
        }
    }

    /// The entries of a table or inline table, with the span of each key.
    fn entries(&self) -> Option<Vec<Entry<'a>>> {
        let entries = match *self {
            Node::Table(t) => t
                .iter()
                .map(|(name, item)| Entry {
                    name,
                    key_span: t.key(name).and_then(|k| k.span()),
                    node: Node::of(item),
                })
                .collect(),
            Node::Value(Value::InlineTable(t)) => inline_entries(t),
            _ => return None,
        };
        Some(entries)
    }
}

fn inline_entries(t: &InlineTable) -> Vec<Entry<'_>> {
    t.iter()
        .map(|(name, value)| Entry {
            name,
            key_span: t.key(name).and_then(|k| k.span()),
            node: Node::Value(value),
        })
        .collect()
}

/// One key of a table and its value.
struct Entry<'a> {
    name: &'a str,
    key_span: Option<Range<usize>>,
    node: Node<'a>,
}

impl<'de> de::Deserializer<'de> for Node<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.span();
        let result = match self {
            Node::Absent => visitor.visit_none(),
            Node::Value(Value::String(s)) => visitor.visit_str(s.value()),
            Node::Value(Value::Integer(i)) => visitor.visit_i64(*i.value()),
            Node::Value(Value::Float(x)) => visitor.visit_f64(*x.value()),
            Node::Value(Value::Boolean(b)) => visitor.visit_bool(*b.value()),
            // The loader turns dates into strings before it deserializes.
            Node::Value(Value::Datetime(d)) => visitor.visit_str(&d.value().to_string()),
            Node::Value(Value::Array(a)) => visitor.visit_seq(Seq(a
                .iter()
                .map(Node::Value)
                .collect::<Vec<_>>()
                .into_iter())),
            Node::Tables(a) => visitor.visit_seq(Seq(a
                .iter()
                .map(Node::Table)
                .collect::<Vec<_>>()
                .into_iter())),
            Node::Value(Value::InlineTable(_)) | Node::Table(_) => {
                let entries = self.entries().unwrap_or_default();
                visitor.visit_map(Map {
                    entries: entries.into_iter(),
                    value: None,
                })
            }
        };
        result.map_err(|e| e.at(span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.span();
        visitor.visit_some(self).map_err(|e| e.at(span))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let span = self.span();
        visitor.visit_newtype_struct(self).map_err(|e| e.at(span))
    }

    /// An enum is a string (`kind = "sht3x"`) or a table of one entry (`kind = { sht3x = {} }`),
    /// as `toml_edit` reads it.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let span = self.span();
        let result = match self {
            Node::Value(Value::String(s)) => {
                let name: StrDeserializer<'_, Error> = s.value().as_str().into_deserializer();
                visitor.visit_enum(name)
            }
            Node::Value(Value::InlineTable(_)) | Node::Table(_) => {
                let mut entries = self.entries().unwrap_or_default();
                match entries.len() {
                    0 => Err(Error::other(
                        "wanted exactly 1 element, found 0 elements",
                        span.clone(),
                    )),
                    1 => visitor.visit_enum(OneEntry(entries.remove(0))),
                    _ => Err(Error::other(
                        "wanted exactly 1 element, more than 1 element",
                        span.clone(),
                    )),
                }
            }
            other => Err(Error::other("wanted string or table", other.span())),
        };
        result.map_err(|e| e.at(span))
    }

    serde::forward_to_deserialize_any! {
        bool u8 u16 u32 u64 i8 i16 i32 i64 i128 u128 f32 f64 char str string seq
        bytes byte_buf map unit struct ignored_any unit_struct tuple_struct tuple identifier
    }
}

/// The elements of an array or an array of tables.
struct Seq<'a>(std::vec::IntoIter<Node<'a>>);

impl<'de> de::SeqAccess<'de> for Seq<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(node) => seed.deserialize(node).map(Some),
            None => Ok(None),
        }
    }
}

/// The entries of a table: an error in a key is at the key, one in a value at the value
/// (or, for a value without a span, at its key).
struct Map<'a> {
    entries: std::vec::IntoIter<Entry<'a>>,
    value: Option<Entry<'a>>,
}

impl<'de> de::MapAccess<'de> for Map<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        let key: StrDeserializer<'_, Error> = entry.name.into_deserializer();
        let result = seed
            .deserialize(key)
            .map_err(|e| e.at(entry.key_span.clone()));
        self.value = Some(entry);
        result.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(entry) = self.value.take() else {
            return Err(Error::other("a value was asked for before its key", None));
        };
        let span = entry.node.span().or(entry.key_span);
        seed.deserialize(entry.node).map_err(|e| e.at(span))
    }
}

/// An enum written as a table of one entry: the key names the variant.
struct OneEntry<'a>(Entry<'a>);

impl<'de, 'a> de::EnumAccess<'de> for OneEntry<'a> {
    type Error = Error;
    type Variant = Node<'a>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Node<'a>), Error> {
        let key: StrDeserializer<'_, Error> = self.0.name.into_deserializer();
        let variant = seed.deserialize(key).map_err(|e| e.at(self.0.key_span))?;
        Ok((variant, self.0.node))
    }
}

impl<'de> de::VariantAccess<'de> for Node<'_> {
    type Error = Error;

    /// A unit variant written as a table holds nothing.
    fn unit_variant(self) -> Result<(), Error> {
        let empty = match self {
            Node::Tables(a) => a.is_empty(),
            Node::Table(t) => t.is_empty(),
            Node::Value(Value::Array(a)) => a.is_empty(),
            Node::Value(Value::InlineTable(t)) => t.is_empty(),
            other => {
                let message = format!("expected table, found {}", other.type_name());
                return Err(Error::other(message, other.span()));
            }
        };
        if empty {
            Ok(())
        } else if matches!(self, Node::Tables(_)) {
            Err(Error::other("expected empty array", self.span()))
        } else {
            Err(Error::other("expected empty table", self.span()))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", &[], visitor)
    }
}
