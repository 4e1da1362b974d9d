// Package expr is the vectorized expression evaluator of the streaming SQL
// engine (ksqlDB dialect). Expressions are bound, type-checked trees that a
// planner builds with [Column], [Literal], [Call], [Cast], [Case], [Field] and
// [Subscript]; each [Expr] evaluates a whole Arrow record batch column at a
// time. Literals stay scalars inside the tree (kernels broadcast them only
// when they must), and calls whose arguments are all literals are folded once
// at bind time. Allocations use the allocator in the context
// (compute.WithAllocator). [Filter] and [Project] apply expressions to batches.
//
// # Types
//
//	BOOLEAN   arrow bool            VARCHAR   utf8
//	INT       int32                 BYTES     binary
//	BIGINT    int64                 TIMESTAMP timestamp[ms, UTC]
//	DOUBLE    float64               DATE      date32
//	DECIMAL   decimal128(p, s)      TIME      time32[ms]
//	ARRAY<T>  list                  MAP<K, V> map    STRUCT<…> struct
//
// An untyped NULL literal has type [Null] and coerces to any type.
//
// # Implicit widening
//
// Numeric operands widen along INT → BIGINT → DECIMAL → DOUBLE (INT is
// DECIMAL(10, 0), BIGINT DECIMAL(19, 0)). Comparisons, IN, BETWEEN, CASE,
// COALESCE, IFNULL, NULLIF, GREATEST and LEAST coerce to the common type; two
// DECIMALs meet at max scale and max integer digits. A VARCHAR compared with
// a TIMESTAMP, DATE or TIME is parsed as ISO-8601 (ROWTIME > '2024-01-01T00:00').
//
// DECIMAL arithmetic results follow ksqlDB, precision capped at 38:
//
//	a + b, a - b  DECIMAL(max(s1, s2) + max(p1-s1, p2-s2) + 1, max(s1, s2))
//	a * b         DECIMAL(p1 + p2 + 1, s1 + s2)
//	a / b         DECIMAL(p1 - s1 + s2 + max(6, s1+p2+1), max(6, s1+p2+1))
//	a % b         DECIMAL(min(p1-s1, p2-s2) + max(s1, s2), max(s1, s2))
//
// # Operators (Call by their SQL spelling)
//
//	arithmetic   + - * / % on numerics, unary -; VARCHAR + VARCHAR concatenates
//	comparison   = != <> < <= > >= on non-nested types (BOOLEAN: = and != only)
//	BETWEEN      (x, low, high), inclusive
//	IN           (x, v1, v2, …)
//	AND OR NOT   BOOLEAN, three-valued (Kleene) logic
//	IS NULL, IS NOT NULL
//	LIKE         (s, pattern [, escape]): % and _, case-sensitive
//	||           VARCHAR or BYTES concatenation
//	SUBSCRIPT    ARRAY[i] (1-based, negative from the end) and MAP[key]
//
// # Functions
//
//	Strings  CONCAT, CONCAT_WS, UCASE/UPPER, LCASE/LOWER, LEN/LENGTH,
//	         SUBSTRING/SUBSTR, TRIM, LTRIM, RTRIM, REPLACE, INSTR, LPAD, RPAD,
//	         SPLIT → ARRAY<VARCHAR>, INITCAP, REGEXP_EXTRACT(pattern, s [, group]),
//	         REGEXP_REPLACE(s, pattern, replacement)
//	Math     ABS, CEIL/CEILING, FLOOR, ROUND(x [, n]), SQRT, EXP, LN, LOG(x)
//	         (base 10), LOG(base, x), POWER/POW, SIGN → INT, GREATEST, LEAST
//	Nulls    COALESCE, IFNULL, NULLIF
//	Time     FORMAT_TIMESTAMP(ts, pattern [, tz]), PARSE_TIMESTAMP(s, pattern [, tz]),
//	         TIMESTAMPTOSTRING(ms, pattern [, tz]), STRINGTOTIMESTAMP(s, pattern [, tz]) → BIGINT,
//	         FORMAT_DATE, PARSE_DATE, FORMAT_TIME, PARSE_TIME, FROM_UNIXTIME,
//	         UNIX_TIMESTAMP(ts), FROM_DAYS, UNIX_DATE(date), TIMESTAMPADD/SUB,
//	         DATEADD/SUB, TIMEADD/SUB(unit, n, value) with unit a VARCHAR literal
//	         (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS; singular accepted)
//	Arrays   ARRAY_LENGTH, ARRAY_CONTAINS, MAP_KEYS, MAP_VALUES
//
// Date patterns are java.time DateTimeFormatter patterns (see dtPattern for
// the supported letters); unsupported letters are rejected when the pattern
// is a literal, which is then compiled once. Time zones are IANA IDs.
//
// # NULL rules
//
// Operators and functions return NULL when any argument is NULL, except:
// AND/OR (Kleene logic), IS [NOT] NULL (never NULL), CONCAT (NULL is empty,
// never NULL), CONCAT_WS (NULL values skipped; NULL separator gives NULL),
// COALESCE/IFNULL, NULLIF (NULL second argument returns the first),
// GREATEST/LEAST (ignore NULLs), ARRAY_CONTAINS (a NULL value finds a NULL
// element), CASE (a NULL condition does not match) and IN (standard SQL: no
// match with a NULL in the list is NULL).
//
// Errors in the data yield NULL rather than failing the batch, as ksqlDB
// yields NULL (and logs) for a failing row: integer and DECIMAL division or
// modulo by zero, DECIMAL results that overflow their precision, VARCHAR that
// does not parse in CAST or PARSE_*, invalid per-row patterns, zones or
// regular expressions, and out-of-range subscripts. DOUBLE follows IEEE 754
// (1.0/0 is Infinity).
//
// Integer arithmetic wraps on overflow like Java (INT 2147483647 + 1 is
// -2147483648, ABS and negation of the minimum value return it unchanged).
//
// # Deviations from ksqlDB
//
//   - Regular expressions use Go's RE2 syntax: no backreferences or
//     lookaround; in REGEXP_REPLACE, $1 and ${name} refer to groups.
//   - String positions count Unicode code points, not UTF-16 units; case
//     mapping is Go's (UCASE('ß') stays 'ß', Java gives 'SS').
//   - Time zones must be IANA IDs: three-letter IDs such as PDT are not
//     accepted; 'z' (zone name) can be formatted but not parsed.
//   - DECIMAL division rounds HALF_UP to the result scale; ROUND rounds ties
//     toward positive infinity (ksqlDB's Math.round behaviour) and ROUND(INT, n)
//     widens to DECIMAL.
//   - GREATEST/LEAST widen mixed numeric arguments instead of rejecting them.
//   - Nested values cannot be compared, cast to VARCHAR or written as
//     non-NULL literals; MAP subscripts need VARCHAR, INT or BIGINT keys.
//   - Rows where CASE selects no branch still evaluate the branches other rows
//     select; arguments of other calls are evaluated eagerly (no errors are
//     raised per row, so this is unobservable).
package expr
