// Package schema turns Kafka records into Apache Arrow record batches and
// back: the SQL types of the streaming engine (ksqlDB dialect), the schema of
// a source, and the KAFKA, JSON, DELIMITED and NONE formats.
//
// # Types
//
// A Type is a SQL column type; each maps to one Arrow type:
//
//	BOOLEAN            Boolean
//	INT                Int32
//	BIGINT             Int64
//	DOUBLE             Float64
//	DECIMAL(p, s)      Decimal128(p, s)     1 ≤ p ≤ 38, 0 ≤ s ≤ p
//	STRING (VARCHAR)   String (UTF-8)
//	TIMESTAMP          Timestamp(ms, "UTC") milliseconds since the epoch
//	DATE               Date32               days since 1970-01-01
//	TIME               Time32(ms)           milliseconds since midnight
//	BYTES              Binary
//	ARRAY<T>           List(T)
//	MAP<STRING, V>     Map(String, V)       keys must be STRING, as in ksqlDB
//	STRUCT<a T, …>     Struct(a T, …)
//
// Nested elements, map values and struct fields are nullable. Type.String
// prints ksqlDB syntax and FromArrow inverts Type.Arrow.
//
// # Batch layout
//
// A source batch (Schema.Arrow) has the pseudo columns first, filled from the
// Kafka record, then the key columns, then the value columns:
//
//	0 ROWTIME       TIMESTAMP  record timestamp   (not nullable)
//	1 ROWPARTITION  INT        partition          (not nullable)
//	2 ROWOFFSET     BIGINT     offset             (not nullable)
//	3 …             key columns, in declaration order
//	…               value columns, in declaration order
//
// Column i of a Schema is field NumPseudoColumns+i.
//
// # Decoding and encoding
//
// A Decoder decodes each Record's key and value in their formats into a row
// of scratch values and appends the row to the batch builders only once all
// of it decoded, so a bad record (Append returns a *DecodeError naming the
// partition, offset and column) leaves the batch as it was. A nil key or
// value decodes as NULL in all its columns; a tombstone thus appends a row
// and callers decide what it means. An Encoder writes the key or value
// columns of an Arrow row for sinks; decoding what it wrote gives the row
// back exactly. A payload with no columns is ignored when decoding.
//
// # KAFKA format
//
// One column, as Kafka's serializers write it; nil is NULL:
//
//	INT     4 bytes, two's complement, big-endian
//	BIGINT  8 bytes, two's complement, big-endian
//	DOUBLE  8 bytes, IEEE 754 binary64, big-endian
//	STRING  the UTF-8 bytes, no length, no terminator
//	BYTES   the bytes as they are
//
// Any other length for INT, BIGINT and DOUBLE, and invalid UTF-8 for STRING,
// is a decode error. The encoder returns nil for NULL.
//
// # JSON format
//
// A value is a JSON object whose keys name columns. A key feeds the column
// spelled exactly like it and every column spelled like it ignoring case
// (Unicode upper-casing) that no key spells exactly; of several keys feeding
// a column the last wins. Missing keys and null are NULL, unknown keys are
// ignored, and a document that is just null is NULL in all columns. With
// exactly one column, a document that is not an object is that column's
// value; with Format.Unwrapped (ksqlDB's WRAP_SINGLE_VALUE=false, its rule
// for keys) the document is always the single column's value, objects
// included. Encoding writes {"NAME":value,…} with the column names as they
// are, or the bare value when unwrapped.
//
// Coercions, JSON value to column type:
//
//	BOOLEAN    true, false; the strings "true", "false" (any case)
//	INT        integers in range, as numbers or strings; numbers such as
//	BIGINT       1.0 or 1e3 that are integral count, fractions do not
//	DOUBLE     numbers; numeric strings, also "NaN", "Infinity", "-Infinity"
//	DECIMAL    numbers and numeric strings, exactly from the text (never
//	             through binary floating point), rounded half away from zero
//	             to the scale; more digits than the precision is an error
//	STRING     strings; any other value as its JSON text without
//	             insignificant whitespace (12.50 → "12.50", [1, 2] → "[1,2]")
//	TIMESTAMP  integer epoch milliseconds; ISO-8601 strings
//	             YYYY-MM-DD[(T| )HH:MM[:SS[.fff]][Z|±HH[:MM]]] (UTC if no zone)
//	DATE       integer days since the epoch; "YYYY-MM-DD"
//	TIME       integer milliseconds since midnight; "HH:MM[:SS[.fff]]"
//	BYTES      base64 strings (standard alphabet, padded)
//	ARRAY      arrays, element by element
//	MAP        objects, key by key; of duplicate keys the last wins
//	STRUCT     objects, matching field names as for columns
//
// Anything else is a decode error. Encoding writes NULL as null, DECIMAL as
// a number with exactly its scale's digits (1.50), TIMESTAMP, DATE and TIME
// as the integers Arrow stores, BYTES as base64 strings, DOUBLE as the
// shortest number that reads back the same, and NaN and the infinities,
// which JSON numbers cannot hold, as the strings above.
//
// Documents must be strict RFC 8259 JSON (nesting up to 1000 deep), checked
// in full, ignored keys included; malformed JSON is a decode error about the
// whole payload. The decoder walks the document once, without building a
// tree, converting values as it meets them: a value for a column is
// converted even if a later duplicate key overrides it. Lone UTF-16
// surrogates in \u escapes read as U+FFFD.
//
// # DELIMITED format
//
// One field per column, in order, separated by the delimiter (',' unless
// Format.Delimiter says otherwise). A field starting with '"' is quoted up to
// the next lone '"', with "" standing for '"' inside, and may hold the
// delimiter and line breaks. An empty field is NULL; an empty quoted field ""
// is the empty STRING or BYTES (NULL for other types). Fields convert from text as JSON
// strings do, and encode as JSON writes them (BYTES as base64, NaN as NaN),
// quoted when they hold the delimiter, '"', '\r' or '\n'. A record with
// another number of fields is a decode error. ARRAY, MAP and STRUCT columns
// cannot be DELIMITED.
//
// # NONE format
//
// For a key with no columns: the key bytes are ignored; the encoder returns
// nil.
package schema
