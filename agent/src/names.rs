//! Enum strings written once: the name serde gives a unit variant, as a `&'static str`.
//!
//! The contract's enums (`AlertType`, `Severity`, `Role`, the ratio presets, …) are spelled
//! on the wire and in the configuration by their serde attributes (`rename_all =
//! "snake_case"`, `rename = "cn-2019"`). Their `as_str` methods return that same spelling by
//! asking serde for it — serializing the variant into [`VariantName`], which keeps the
//! variant name serde passes along and nothing else — so no second list of strings can drift
//! from the first. The list of variants comes from `strum::VariantArray`.

use std::fmt;

use serde::ser::{self, Impossible, Serialize, Serializer};

/// The serde name of a unit variant: `serde_name(&AlertType::RatioBreach) == "ratio_breach"`.
///
/// # Panics
///
/// When `value` does not serialize as a unit variant — a programming error that the tests
/// of each enum using it would show.
pub fn serde_name<T: Serialize + ?Sized>(value: &T) -> &'static str {
    match value.serialize(VariantName) {
        Ok(name) => name,
        Err(NotAUnitVariant) => panic!("serde_name is for enums of unit variants"),
    }
}

/// A serializer that accepts a unit variant and returns its name.
struct VariantName;

/// What [`VariantName`] says to anything but a unit variant.
#[derive(Debug)]
struct NotAUnitVariant;

impl fmt::Display for NotAUnitVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a unit variant")
    }
}

impl std::error::Error for NotAUnitVariant {}

impl ser::Error for NotAUnitVariant {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        NotAUnitVariant
    }
}

/// `fn $name(self, _: $ty) -> Result<..> { Err(NotAUnitVariant) }` for each scalar.
macro_rules! refuse {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(fn $name(self, _: $ty) -> Result<Self::Ok, Self::Error> {
            Err(NotAUnitVariant)
        })*
    };
}

type No = Impossible<&'static str, NotAUnitVariant>;

impl Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAUnitVariant;
    type SerializeSeq = No;
    type SerializeTuple = No;
    type SerializeTupleStruct = No;
    type SerializeTupleVariant = No;
    type SerializeMap = No;
    type SerializeStruct = No;
    type SerializeStructVariant = No;

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<&'static str, NotAUnitVariant> {
        Ok(variant)
    }

    refuse! {
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_f32: f32, serialize_f64: f64, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8], serialize_unit_struct: &'static str,
    }

    fn serialize_none(self) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_unit(self) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<No, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_tuple(self, _: usize) -> Result<No, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<No, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<No, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<No, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<No, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<No, NotAUnitVariant> {
        Err(NotAUnitVariant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Sample {
        FirstOne,
        #[serde(rename = "cn-2019")]
        Renamed,
    }

    #[test]
    fn the_name_is_the_one_serde_writes() {
        assert_eq!(serde_name(&Sample::FirstOne), "first_one");
        assert_eq!(serde_name(&Sample::Renamed), "cn-2019");
        assert_eq!(
            serde_json::to_string(&Sample::FirstOne).unwrap(),
            "\"first_one\""
        );
    }

    #[test]
    #[should_panic(expected = "enums of unit variants")]
    fn anything_but_a_unit_variant_is_a_programming_error() {
        serde_name(&5u8);
    }
}
