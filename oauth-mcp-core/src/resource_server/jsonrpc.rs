//! The guard's one reading of a POST body: is it JSON, and which operations
//! with scopes of their own (`tools/call`, `resources/read`, `prompts/get`)
//! does it name. One parse answers both, so the two cannot disagree: a body
//! the guard accepts as JSON is a body whose operations it has read.
//!
//! The reading is strict where a laxer parser at the MCP server could see
//! an operation the guard did not: the body must be UTF-8 (RFC 8259 §8.1,
//! checked whole, ignored strings included), and no message may name
//! `method` or `params` twice, nor its `params` `name` or `uri` twice
//! (which one a server reads is its parser's choice), nor name them in a
//! way that only a parser matching keys loosely reads as them (`Method`,
//! `paramſ`, `n_a_m_e`, `name\u0000`: Go's `encoding/json` matches keys
//! ignoring case, and some parsers drop or stop at NULs). Everything else
//! in a message is checked and skipped without being built, through
//! `deserialize_any`, so that `serde_json`'s nesting limit (128) and its
//! number range apply to it as to any value: a body the guard reads is one
//! `serde_json::Value` reads too. (A body that cannot name an operation is
//! only checked for syntax.)

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::json_syntax::is_json;
use super::operations::Operation;

/// The visits of the scalars a visitor skips, each answering `$skipped`;
/// `no_str` leaves `visit_str` to the visitor.
macro_rules! scalars {
    ($skipped:expr) => {
        scalars!($skipped, no_str);
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($skipped)
        }
    };
    ($skipped:expr, no_str) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($skipped)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($skipped)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($skipped)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($skipped)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($skipped)
        }
    };
}

/// The body is not one UTF-8 JSON value, or (one that may name an
/// operation) nests deeper than 128, holds a number beyond `f64`, or names
/// a key the guard reads twice in one message, or a look-alike of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotJson;

/// The operations named by `body` (a JSON-RPC message or batch; any other
/// JSON value names none), or [`NotJson`]. A body that cannot name an
/// operation (see [`may_name_an_operation`]) is checked to be UTF-8 JSON
/// only if `whole` (the guard's JSON check); otherwise nothing is read.
pub(crate) fn operations_in_body(body: &[u8], whole: bool) -> Result<Vec<Operation>, NotJson> {
    let may_name = may_name_an_operation(body);
    let mut out = Vec::new();
    if !may_name && !whole {
        return Ok(out);
    }
    let text = simdutf8::basic::from_utf8(body).map_err(|_| NotJson)?;
    if !may_name {
        // Whatever its messages say, none names an operation: only its
        // syntax matters (and a repeated key changes nothing).
        return if is_json(text) { Ok(out) } else { Err(NotJson) };
    }
    let mut de = serde_json::Deserializer::from_str(text);
    Messages {
        out: &mut out,
        in_batch: false,
    }
    .deserialize(&mut de)
    .map_err(|_| NotJson)?;
    de.end().map_err(|_| NotJson)?;
    Ok(out)
}

/// The methods that name an operation (see [`Operation::of`]), split at
/// their `/`.
const OPERATION_METHODS: [(&[u8], &[u8]); 3] = [
    (b"tools", b"call"),
    (b"resources", b"read"),
    (b"prompts", b"get"),
];

/// False only if `body` cannot name an operation: a JSON string without
/// escapes is its bytes, so a UTF-8 body with no backslash names one of
/// [`OPERATION_METHODS`] only if it contains it literally (a parser that
/// replaces bytes that are not UTF-8 does not make one either). A NUL byte
/// may mean another encoding (a parser that detects UTF-16 or UTF-32, as
/// Python's `json.loads` does, reads `t\0o\0o\0l\0s\0/\0c\0…` as
/// `tools/call`), so it counts as a backslash does. One pass over the body,
/// looking at each `/`; most MCP requests (`tools/list`, notifications,
/// results) are decided by it, and then only checked to be JSON.
fn may_name_an_operation(body: &[u8]) -> bool {
    memchr::memchr3_iter(b'\\', b'/', 0, body).any(|i| {
        body[i] != b'/'
            || OPERATION_METHODS
                .iter()
                .any(|(group, verb)| body[..i].ends_with(group) && body[i + 1..].starts_with(verb))
    })
}

/// Where messages may be: the body (a message, a batch, or another value)
/// or, `in_batch`, an element of a batch (a message if it is an object).
struct Messages<'o> {
    out: &'o mut Vec<Operation>,
    in_batch: bool,
}

impl<'de> DeserializeSeed<'de> for Messages<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Messages<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON-RPC")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.out.extend(message(map)?);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.in_batch {
            // An array in a batch is no message.
            return Skip.visit_seq(seq);
        }
        // A batch: each object in it is a message.
        let out = self.out;
        while seq
            .next_element_seed(Messages {
                out: &mut *out,
                in_batch: true,
            })?
            .is_some()
        {}
        Ok(())
    }
    scalars!(());
}

/// The operation of one message (an object), if it names one.
fn message<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Operation>, A::Error> {
    let mut method: Option<Option<Cow<'de, str>>> = None;
    let mut params: Option<Params<'de>> = None;
    while let Some(key) = map.next_key::<Key>()? {
        match key {
            Key::LooksLike(Named::Method | Named::Params) => return Err(look_alike()),
            Key::Method if method.is_some() => return Err(de::Error::duplicate_field("method")),
            Key::Method => method = Some(map.next_value::<MaybeStr<'de>>()?.0),
            Key::Params if params.is_some() => return Err(de::Error::duplicate_field("params")),
            Key::Params => params = Some(map.next_value::<Params<'de>>()?),
            _ => {
                map.next_value::<Skip>()?;
            }
        }
    }
    let (Some(Some(method)), Some(params)) = (method, params) else {
        return Ok(None);
    };
    let target = if method == "resources/read" {
        params.uri
    } else {
        params.name
    };
    Ok(target.and_then(|t| Operation::of(&method, &t)))
}

/// The keys the guard reads (`method`/`params` in a message, `name`/`uri`
/// in its params), as the parser unescaped them; `Other` for the rest.
enum Key {
    Method,
    Params,
    Name,
    Uri,
    /// Not one of them, but one to a parser that matches keys loosely.
    LooksLike(Named),
    Other,
}

/// Which key a [`Key::LooksLike`] passes for.
enum Named {
    Method,
    Params,
    Name,
    Uri,
}

impl Named {
    /// The key `k` passes for to a parser that matches keys loosely:
    /// ignoring ASCII case and the letters that fold to ASCII ones (`ſ` to
    /// `s` in Go's `encoding/json`, the Kelvin sign `\u{212a}` to `k`, `ı`
    /// and `İ` to `i` under .NET's ordinal case-insensitive comparison),
    /// `_` and `-` (Go's `encoding/json/v2` case-insensitive matching) and
    /// NULs; or, for a key with a NUL, its part before the first one (a
    /// parser that keeps keys as C strings). Only keys of at most 6 such
    /// letters are folded, without allocating.
    fn looked_like(k: &str) -> Option<Named> {
        k.split_once('\0')
            .and_then(|(before, _)| Self::folded(before))
            .or_else(|| Self::folded(k))
    }

    /// `k` folded as [`looked_like`](Self::looked_like) says, NULs dropped.
    fn folded(k: &str) -> Option<Named> {
        let mut folded = [0u8; 6];
        let mut len = 0;
        for c in k.chars() {
            let ascii = match c {
                '\0' | '_' | '-' => continue,
                '\u{17f}' => b's',
                '\u{212a}' => b'k',
                '\u{130}' | '\u{131}' => b'i',
                c if c.is_ascii() => (c as u8).to_ascii_lowercase(),
                _ => return None,
            };
            *folded.get_mut(len)? = ascii;
            len += 1;
        }
        Some(match &folded[..len] {
            b"method" => Named::Method,
            b"params" => Named::Params,
            b"name" => Named::Name,
            b"uri" => Named::Uri,
            _ => return None,
        })
    }
}

/// A message or its params names a key that only a loose parser reads.
fn look_alike<E: de::Error>() -> E {
    E::custom("a key that a case-insensitive parser reads as method, params, name or uri")
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<Key, E> {
                Ok(match k {
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "name" => Key::Name,
                    "uri" => Key::Uri,
                    _ => Named::looked_like(k).map_or(Key::Other, Key::LooksLike),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A message's `params`: the `name` and `uri` strings of an object; nothing
/// for anything else (positional params name no operation).
#[derive(Default)]
struct Params<'de> {
    name: Option<Cow<'de, str>>,
    uri: Option<Cow<'de, str>>,
}

impl<'de> de::Deserialize<'de> for Params<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Params<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("params")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params<'de>, A::Error> {
                let (mut name, mut uri) = (None, None);
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::LooksLike(Named::Name | Named::Uri) => return Err(look_alike()),
                        Key::Name if name.is_some() => {
                            return Err(de::Error::duplicate_field("name"));
                        }
                        Key::Name => name = Some(map.next_value::<MaybeStr<'de>>()?.0),
                        Key::Uri if uri.is_some() => return Err(de::Error::duplicate_field("uri")),
                        Key::Uri => uri = Some(map.next_value::<MaybeStr<'de>>()?.0),
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(Params {
                    name: name.flatten(),
                    uri: uri.flatten(),
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Params<'de>, A::Error> {
                Skip.visit_seq(seq).map(|()| Params::default())
            }
            scalars!(Params::default());
        }
        d.deserialize_any(V)
    }
}

/// A value that names something if it is a string (borrowed from the body
/// unless it had escapes); any other value is skipped.
struct MaybeStr<'de>(Option<Cow<'de, str>>);

impl<'de> de::Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<MaybeStr<'de>, E> {
                Ok(MaybeStr(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeStr<'de>, A::Error> {
                Skip.visit_map(map).map(|()| MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MaybeStr<'de>, A::Error> {
                Skip.visit_seq(seq).map(|()| MaybeStr(None))
            }
            scalars!(MaybeStr(None), no_str);
        }
        d.deserialize_any(V)
    }
}

/// A value the guard skips, read through `deserialize_any` so that the
/// parser's nesting limit applies to it as to any value (serde's
/// `IgnoredAny` skips without one).
struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip).map(|()| Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(())
    }
    scalars!(());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(body: &str) -> Result<Vec<Operation>, NotJson> {
        operations_in_body(body.as_bytes(), true)
    }

    #[test]
    fn messages_batches_and_escapes() {
        assert_eq!(
            ops(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#),
            Ok(vec![Operation::Tool("x".into())])
        );
        assert_eq!(
            ops(
                r#"[{"method":"tools/call","params":{"name":"a"}},{"method":"tools/list"},
                  {"method":"resources/read","params":{"uri":"f://x","name":"n"}},
                  {"method":"prompts/get","params":{"name":"p","arguments":{"a":[1,{}]}}},
                  [{"method":"tools/call","params":{"name":"nested"}}], 7, "s", null]"#
            ),
            Ok(vec![
                Operation::Tool("a".into()),
                Operation::Resource("f://x".into()),
                Operation::Prompt("p".into())
            ])
        );
        // Escapes in keys and values are read as the server reads them.
        assert_eq!(
            ops(r#"{"\u006dethod":"tools\/call","params":{"n\u0061me":"\u0078"}}"#),
            Ok(vec![Operation::Tool("x".into())])
        );
        // Params in any order, before the method; positional params name nothing.
        assert_eq!(
            ops(r#"{"params":{"name":"x"},"id":"1","method":"tools/call"}"#),
            Ok(vec![Operation::Tool("x".into())])
        );
        for none in [
            r#"{"method":"tools/call","params":["x"]}"#,
            r#"{"method":"tools/call","params":{"name":7}}"#,
            r#"{"method":7,"params":{"name":"x"}}"#,
            r#"{"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"method":"tools/call","params":{"name":"x"}}}"#,
            r#""tools/call""#,
            "[]",
            " 1 ",
        ] {
            assert_eq!(ops(none), Ok(vec![]), "{none}");
        }
    }

    #[test]
    fn most_bodies_are_decided_by_one_scan() {
        assert!(!may_name_an_operation(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#
        ));
        assert!(may_name_an_operation(br#"{"method":"prompts/get"}"#));
        assert!(may_name_an_operation(br#"{"method":"x\/y"}"#));
        // A NUL may be UTF-16 or UTF-32, where the scan cannot see a method.
        assert!(may_name_an_operation(b"{\0\"\0m\0}\0"));
        let utf16: Vec<u8> = r#"{"method":"tools/call","params":{"name":"x"}}"#
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(operations_in_body(&utf16, false), Err(NotJson));
        for (group, verb) in OPERATION_METHODS {
            let method = format!(
                "{}/{}",
                String::from_utf8_lossy(group),
                String::from_utf8_lossy(verb)
            );
            assert!(Operation::of(&method, "x").is_some(), "{method}");
            assert!(may_name_an_operation(method.as_bytes()), "{method}");
            assert!(!may_name_an_operation(&method.as_bytes()[1..]), "{method}");
        }
        // Scanned or not, a body must be JSON for the guard's JSON check;
        // for scopes alone, one that names no operation is not read.
        for bad in [
            &b"{\"method\":\"tools/list\",}"[..],
            b"{\"a\":1} x",
            b"\"\xff\"",
        ] {
            assert_eq!(operations_in_body(bad, true), Err(NotJson));
            assert_eq!(operations_in_body(bad, false), Ok(vec![]));
        }
        let bad = br#"{"method":"tools/call","params":{"name":"x"},}"#;
        assert_eq!(operations_in_body(bad, false), Err(NotJson));
    }

    #[test]
    fn what_a_laxer_parser_might_read_otherwise_is_not_json() {
        for bad in [
            &b"not json"[..],
            b"{} {}",
            b"{\"method\":\"tools/list\",}",
            // Not UTF-8, in a string the guard does not otherwise read.
            b"{\"method\":\"tools/call\",\"params\":{\"name\":\"admin\"},\"x\":\"\xff\"}",
            br#"{"method":"tools/list","method":"tools/call","params":{"name":"x"}}"#,
            br#"{"method":"tools/call","params":{"name":"x"},"params":{"name":"y"}}"#,
            br#"{"method":"tools/call","params":{"name":"x","name":"y"}}"#,
            br#"{"method":"resources/read","params":{"uri":"a","uri":"b"}}"#,
            br#"[{"method":"tools/call","params":{"name":"x"}},{"method":"a","method":"b"}]"#,
            // Keys a loose parser reads as the guard's (Go's encoding/json
            // ignores case, folds `ſ` and the Kelvin sign; .NET folds `ı`; NULs dropped).
            br#"{"method":"tools/call","params":{"name":"x","Name":"admin"}}"#,
            br#"{"Method":"tools/call","params":{"name":"admin"}}"#,
            br#"{"method":"tools/list","METHOD":"tools/call","params":{"name":"admin"}}"#,
            br#"{"method":"tools/call","PARAMS":{"name":"admin"}}"#,
            "{\"method\":\"tools/call\",\"param\u{17f}\":{\"name\":\"admin\"}}".as_bytes(),
            "{\"method\":\"resources/read\",\"params\":{\"ur\u{131}\":\"f://s\"}}".as_bytes(),
            "{\"method\":\"resources/read\",\"params\":{\"UR\u{130}\":\"f://s\"}}".as_bytes(),
            br#"{"method":"tools/call","params":{"name\u0000":"admin"}}"#,
            br#"{"method":"tools/call","params":{"\u0000n\u0000a\u0000m\u0000e":"admin"}}"#,
            br#"{"method":"tools/call","params":{"N\u0041ME":"admin"}}"#,
            br#"[{"method":"tools/list"},{"method":"tools/call","params":{"uRi":"x"}}]"#,
            // Go's encoding/json/v2 (case-insensitive) also ignores `_` and
            // `-`; a parser keeping keys as C strings stops at a NUL.
            br#"{"method":"tools/call","params":{"name":"x","n_a_m_e":"admin"}}"#,
            br#"{"method":"tools/call","params":{"name":"x","na-me":"admin"}}"#,
            br#"{"method":"tools/call","params_":{"name":"admin"}}"#,
            br#"{"method":"resources/read","params":{"uri_":"f://s"}}"#,
            br#"{"method":"tools/call","params":{"name":"x","name\u0000x":"admin"}}"#,
            br#"{"method\u0000tools/list":"tools/call","params":{"name":"admin"}}"#,
        ] {
            assert_eq!(
                operations_in_body(bad, true),
                Err(NotJson),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // Keys the guard does not read may repeat, as JSON allows.
        assert_eq!(ops(r#"{"id":1,"id":2,"params":{"a":1,"a":2}}"#), Ok(vec![]));
        // Look-alikes count only where the key would: a message's
        // `method`/`params`, its params' `name`/`uri`; longer keys are others.
        assert_eq!(
            ops(
                r#"{"method":"tools/call","NAME":1,"Uri":2,"methods":3,"_meta":4,
                  "params":{"name":"x","METHOD":1,"Params":2,"names":3,"Named":4,"urn":5,
                  "_meta":{},"arguments":{"Name":"y","URI":"z","n_a_m_e":"w"}}}"#
            ),
            Ok(vec![Operation::Tool("x".into())])
        );
    }

    #[test]
    fn what_may_name_an_operation_is_read_as_serde_json_reads_it() {
        let nested = |depth: usize| {
            format!(
                r#"{{"method":"tools/call","params":{{"name":"x"}},"deep":{}{}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        for depth in [1, 100, 126] {
            let body = nested(depth);
            assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
            assert_eq!(ops(&body), Ok(vec![Operation::Tool("x".into())]), "{depth}");
        }
        for depth in [127, 128, 1000] {
            let body = nested(depth);
            assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
            assert_eq!(ops(&body), Err(NotJson), "{depth}");
        }
        // A number beyond f64 (found by the fuzzer): refused where the body
        // may name an operation, as `Value` refuses it.
        let big = r#"{"method":"tools/call","params":{"name":"x"},"n":4.4e+3333333}"#;
        assert!(serde_json::from_str::<serde_json::Value>(big).is_err());
        assert_eq!(ops(big), Err(NotJson));
        // A body that names no operation is only checked for syntax (a
        // number's range does not matter), with the same nesting limit.
        let plain = |depth: usize| {
            format!(
                r#"{{"method":"tools/list","n":4.4e+3333333,"deep":{}{}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        assert_eq!(ops(&plain(126)), Ok(vec![]));
        for depth in [127, 1000] {
            assert_eq!(ops(&plain(depth)), Err(NotJson), "{depth}");
        }
    }
}
