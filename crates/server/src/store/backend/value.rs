//! Values, rows and errors as they cross the SQL boundary, and their conversions to and from
//! each backend's own types. Below [`super::sql`], which runs statements with them.

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// A value as stored: SQLite's storage classes, which PostgreSQL's `BIGINT`, `DOUBLE
/// PRECISION`, `TEXT` and `BYTEA` map onto one to one.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (also a flag, 0 or 1).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Errors of the database itself (a store operation's own errors are `StoreError`s).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("postgres: {}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No connection to the database could be had.
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    /// A query that must return a row returned none.
    #[error("the query returned no rows")]
    NoRows,
    /// A column did not hold what the code reads from it.
    #[error("column {0}: {1}")]
    Column(usize, String),
}

/// The database's own words for an error (tokio-postgres' `Display` says only "db error").
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl DbError {
    /// Whether the transaction should simply run again: a serialization failure or deadlock
    /// on PostgreSQL (another node changed the same rows at the same moment).
    pub fn is_retryable(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            DbError::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
            ),
            _ => false,
        }
    }

    /// Whether the database is busy or out of reach, so the client should retry later (503)
    /// rather than being told something is wrong with its request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            DbError::Postgres(e) => {
                use tokio_postgres::error::SqlState;
                e.is_closed()
                    || e.code().is_none()
                    || e.code().is_some_and(|c| {
                        c.code().starts_with("08") // connection exception
                            || c.code().starts_with("57P") // admin/crash shutdown, cannot connect now
                            || *c == SqlState::TOO_MANY_CONNECTIONS
                            || *c == SqlState::READ_ONLY_SQL_TRANSACTION // a replica during failover
                    })
            }
            _ => false,
        }
    }
}

/// Result of the SQL layer.
pub type DbResult<T> = Result<T, DbError>;

/// What may be bound to a placeholder.
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// Parameters of a statement: `params![a, b]`, or an array of one type (`[id]`).
pub trait Params {
    /// The values, in placeholder order.
    fn values(self) -> Vec<Value>;
}

impl Params for &[Value] {
    fn values(self) -> Vec<Value> {
        self.to_vec()
    }
}
impl Params for Vec<Value> {
    fn values(self) -> Vec<Value> {
        self
    }
}
impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

/// `params![a, b, c]`: a statement's parameters of any bindable types.
macro_rules! params {
    () => { ::std::vec::Vec::<$crate::store::backend::value::Value>::new() };
    ($($x:expr),+ $(,)?) => {
        ::std::vec![$($crate::store::backend::value::ToValue::to_value(&$x)),+]
    };
}
pub(crate) use params;

/// What may be read from a column.
pub trait FromValue: Sized {
    /// Reads column `i`'s value.
    fn from_value(i: usize, v: &Value) -> DbResult<Self>;
}

fn wrong(i: usize, want: &str, v: &Value) -> DbError {
    DbError::Column(i, format!("expected {want}, found {v:?}"))
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(i: usize, v: &Value) -> DbResult<Self> {
                match v {
                    Value::Int(n) => <$t>::try_from(*n)
                        .map_err(|_| DbError::Column(i, format!("{n} is out of range"))),
                    _ => Err(wrong(i, "an integer", v)),
                }
            }
        }
    )*};
}
int_from_value!(i64, i32, u32, u16, u8, u64, usize);

impl FromValue for bool {
    fn from_value(i: usize, v: &Value) -> DbResult<Self> {
        match v {
            Value::Int(n) => Ok(*n != 0),
            _ => Err(wrong(i, "a flag", v)),
        }
    }
}
impl FromValue for f64 {
    fn from_value(i: usize, v: &Value) -> DbResult<Self> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(n) => Ok(*n as f64),
            _ => Err(wrong(i, "a number", v)),
        }
    }
}
impl FromValue for String {
    fn from_value(i: usize, v: &Value) -> DbResult<Self> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(wrong(i, "text", v)),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(i: usize, v: &Value) -> DbResult<Self> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            _ => Err(wrong(i, "bytes", v)),
        }
    }
}
impl FromValue for Value {
    fn from_value(_: usize, v: &Value) -> DbResult<Self> {
        Ok(v.clone())
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(i: usize, v: &Value) -> DbResult<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(i, v).map(Some),
        }
    }
}

/// A column index (only `usize`, so an integer literal is one).
pub trait ColIndex {
    /// The index.
    fn index(self) -> usize;
}
impl ColIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i`, read as `T` (`r.get(0)`, `r.get::<_, String>(0)`).
    pub fn get<I: ColIndex, T: FromValue>(&self, i: I) -> DbResult<T> {
        let i = i.index();
        let v = self
            .0
            .get(i)
            .ok_or_else(|| DbError::Column(i, "no such column".into()))?;
        T::from_value(i, v)
    }
}

/// `.optional()`: no row is `None`, as rusqlite's `OptionalExtension`.
pub trait OptionalExt<T> {
    /// `Ok(None)` instead of [`DbError::NoRows`].
    fn optional(self) -> DbResult<Option<T>>;
}
impl<T> OptionalExt<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

pub(super) fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef as V;
    match v {
        V::Null => Value::Null,
        V::Integer(i) => Value::Int(i),
        V::Real(f) => Value::Real(f),
        V::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        V::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as V};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => V::Null,
            Value::Int(i) => V::Integer(*i),
            Value::Real(f) => V::Real(*f),
            Value::Text(s) => V::Text(s.as_bytes()),
            Value::Blob(b) => V::Blob(b),
        }))
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (the statements hold no `?` otherwise).
pub fn to_postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// Binds a value to whatever type PostgreSQL inferred for the placeholder.
impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound to a {ty} parameter").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(format!("a real cannot be bound to a {ty} parameter").into()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_str().to_sql(ty, out)
                }
                _ => Err(format!("text cannot be bound to a {ty} parameter").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("bytes cannot be bound to a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Reads a PostgreSQL column of the types the schema uses.
impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::OID => Value::Int(i64::from(u32::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::BYTEA => Value::Blob(Vec::<u8>::from_sql(ty, raw)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            Type::VOID => Value::Null,
            _ => {
                return Err(format!(
                    "a {ty} column is not read by the store; cast it in SQL (e.g. to BIGINT)"
                )
                .into());
            }
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_numbers() {
        assert_eq!(
            to_postgres_placeholders("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?10)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $10)"
        );
    }

    #[test]
    fn no_row_is_none_and_other_errors_stay() {
        assert_eq!(Err::<i64, _>(DbError::NoRows).optional().unwrap(), None);
        assert!(
            Err::<i64, _>(DbError::Unavailable("x".into()))
                .optional()
                .is_err()
        );
    }

    #[test]
    fn rows_read_as_the_types_asked() {
        let r = Row(vec![
            Value::Int(1),
            Value::Null,
            Value::Text("a".into()),
            Value::Int(-1),
        ]);
        assert!(r.get::<_, bool>(0).unwrap());
        assert_eq!(r.get::<_, Option<i64>>(1).unwrap(), None);
        assert_eq!(r.get::<_, String>(2).unwrap(), "a");
        assert!(r.get::<_, u32>(3).is_err(), "a negative count is not a u32");
        assert!(r.get::<_, String>(0).is_err());
        assert!(r.get::<_, i64>(9).is_err());
    }
}
