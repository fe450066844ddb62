//! The in-memory message: an ordered list of named, typed fields.
//!
//! Field order is significant (it is what the signatures cover) and is preserved by every
//! operation here. Names are case-sensitive; duplicates are allowed but every lookup returns
//! the first occurrence, as Heartbeat does.

/// A Heartbeat message: an ordered list of [`Field`]s.
///
/// For the message to be encodable so that peers can parse it, field names must be non-empty
/// and must not contain `=`; for the classic form (used by the inner `auth=` signature) they
/// must not contain a newline either. Heartbeat's own names are short ASCII words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    fields: Vec<Field>,
}

/// One field of a [`Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name (the bytes before the first `=`).
    pub name: String,
    /// The typed value.
    pub value: Value,
}

/// A typed field value. The wire type code of each variant is given by [`Value::type_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Type 0: a byte string (most fields; usually ASCII).
    Str(Vec<u8>),
    /// Type 1: raw binary data (e.g. the 16-byte `srcuuid`).
    Binary(Vec<u8>),
    /// Type 2: a nested message.
    Struct(Message),
    /// Type 3: a list of byte strings.
    List(Vec<Vec<u8>>),
    /// Type 4: compressed data, kept as the raw bytes received (no decompression here).
    Compressed(Vec<u8>),
}

impl Value {
    /// The wire type code: 0 string, 1 binary, 2 struct, 3 list, 4 compressed.
    #[must_use]
    pub fn type_code(&self) -> u8 {
        match self {
            Value::Str(_) => 0,
            Value::Binary(_) => 1,
            Value::Struct(_) => 2,
            Value::List(_) => 3,
            Value::Compressed(_) => 4,
        }
    }

    /// The raw bytes of a `Str`, `Binary` or `Compressed` value; `None` for `Struct`/`List`.
    #[must_use]
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(b) | Value::Binary(b) | Value::Compressed(b) => Some(b),
            Value::Struct(_) | Value::List(_) => None,
        }
    }
}

impl Field {
    /// A string (type 0) field.
    #[must_use]
    pub fn string(name: &str, value: impl AsRef<[u8]>) -> Self {
        Field {
            name: name.to_owned(),
            value: Value::Str(value.as_ref().to_vec()),
        }
    }

    /// A binary (type 1) field.
    #[must_use]
    pub fn binary(name: &str, value: impl AsRef<[u8]>) -> Self {
        Field {
            name: name.to_owned(),
            value: Value::Binary(value.as_ref().to_vec()),
        }
    }
}

impl Message {
    /// An empty message.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`push_str`](Self::push_str): appends a string field and returns `self`.
    ///
    /// ```
    /// let m = hb_proto::Message::new().with("t", "status").with("st", "up");
    /// assert_eq!(m.str("st"), Some("up"));
    /// ```
    #[must_use]
    pub fn with(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.push_str(name, value);
        self
    }

    /// Appends a string (type 0) field.
    pub fn push_str(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.fields.push(Field::string(name, value));
    }

    /// Appends a binary (type 1) field.
    pub fn push_bin(&mut self, name: &str, value: impl AsRef<[u8]>) {
        self.fields.push(Field::binary(name, value));
    }

    /// Appends any field.
    pub fn push(&mut self, field: Field) {
        self.fields.push(field);
    }

    /// Sets a string field: overwrites the value of the first field called `name` in place
    /// (keeping its position, as Heartbeat does for its header fields), or appends a new field.
    pub fn set_str(&mut self, name: &str, value: impl AsRef<[u8]>) {
        let value = value.as_ref();
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(f) => match &mut f.value {
                Value::Str(v) => {
                    v.clear();
                    v.extend_from_slice(value);
                }
                other => *other = Value::Str(value.to_vec()),
            },
            None => self.push_str(name, value),
        }
    }

    /// The value of the first field called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }

    /// The first field called `name` as UTF-8 text; `None` if absent, not a string field, or
    /// not valid UTF-8.
    #[must_use]
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::Str(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The raw bytes of the first field called `name` if it is a string or binary field.
    #[must_use]
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Value::Str(b) | Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// Removes the first field called `name` and returns its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let pos = self.fields.iter().position(|f| f.name == name)?;
        Some(self.fields.remove(pos).value)
    }

    /// Removes every field called `name`; returns how many were removed.
    pub fn remove_all(&mut self, name: &str) -> usize {
        let before = self.fields.len();
        self.fields.retain(|f| f.name != name);
        before - self.fields.len()
    }

    /// All fields, in order.
    #[must_use]
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Iterates over the fields in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Field> {
        self.fields.iter()
    }

    /// Number of fields (nested fields not counted).
    #[must_use]
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the message has no fields.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl FromIterator<Field> for Message {
    fn from_iter<I: IntoIterator<Item = Field>>(iter: I) -> Self {
        Message {
            fields: iter.into_iter().collect(),
        }
    }
}

impl From<Vec<Field>> for Message {
    fn from(fields: Vec<Field>) -> Self {
        Message { fields }
    }
}

impl<'a> IntoIterator for &'a Message {
    type Item = &'a Field;
    type IntoIter = std::slice::Iter<'a, Field>;
    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut m = Message::new().with("t", "status").with("st", "init");
        m.push_bin("srcuuid", [1u8, 2, 3]);
        m.push_str("st", "shadowed");
        m
    }

    #[test]
    fn builder_keeps_order_and_types() {
        let m = sample();
        let names: Vec<&str> = m.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["t", "st", "srcuuid", "st"]);
        assert_eq!(m.len(), 4);
        assert!(!m.is_empty());
        assert_eq!(m.get("srcuuid"), Some(&Value::Binary(vec![1, 2, 3])));
        assert_eq!(m.get("srcuuid").map(Value::type_code), Some(1));
    }

    #[test]
    fn lookups_return_first_occurrence() {
        let m = sample();
        assert_eq!(m.str("st"), Some("init"));
        assert_eq!(m.bytes("st"), Some(&b"init"[..]));
        assert_eq!(m.bytes("srcuuid"), Some(&[1u8, 2, 3][..]));
        assert_eq!(m.str("srcuuid"), None, "binary is not a string");
        assert_eq!(m.str("missing"), None);
    }

    #[test]
    fn str_rejects_invalid_utf8() {
        let m = Message::new().with("x", [0xffu8, 0xfe]);
        assert_eq!(m.str("x"), None);
        assert_eq!(m.bytes("x"), Some(&[0xffu8, 0xfe][..]));
    }

    #[test]
    fn set_str_overwrites_in_place_or_appends() {
        let mut m = sample();
        m.set_str("st", "up");
        assert_eq!(m.fields()[1], Field::string("st", "up"));
        assert_eq!(m.fields()[3], Field::string("st", "shadowed"));
        m.set_str("srcuuid", "text");
        assert_eq!(m.fields()[2], Field::string("srcuuid", "text"));
        m.set_str("seq", "1");
        assert_eq!(m.fields().last(), Some(&Field::string("seq", "1")));
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn remove_takes_first_occurrence_only() {
        let mut m = sample();
        assert_eq!(m.remove("st"), Some(Value::Str(b"init".to_vec())));
        assert_eq!(m.str("st"), Some("shadowed"));
        assert_eq!(m.remove("nope"), None);
        assert_eq!(m.len(), 3);
        assert_eq!(m.remove_all("st"), 1);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn value_helpers() {
        assert_eq!(Value::Compressed(vec![9]).as_bytes(), Some(&[9u8][..]));
        assert_eq!(Value::List(vec![]).as_bytes(), None);
        assert_eq!(Value::Struct(Message::new()).type_code(), 2);
        assert_eq!(Value::List(vec![]).type_code(), 3);
        assert_eq!(Value::Compressed(vec![]).type_code(), 4);
        let m: Message = vec![Field::string("a", "b")].into_iter().collect();
        assert_eq!(m, Message::from(vec![Field::string("a", "b")]));
        assert_eq!((&m).into_iter().count(), 1);
    }
}
