// Package sql is the front end of Strata's streaming SQL engine: a lexer,
// a recursive-descent parser and a formatter for the ksqlDB (KSQL)
// dialect. It turns source text into a syntax tree of plain structs (see
// [Statement], [Expr] and [Type]) and back into canonical SQL; it does no
// name resolution or type checking, which are the engine's.
//
// [Parse] parses a script, [ParseStatement] one statement and [ParseExpr]
// one expression. Every error is an [*Error] carrying the line and
// column (in runes, both 1-based) and saying what was expected and what
// was found. Every node records its position. String on any node, and
// [FormatScript] on a script, return canonical SQL that parses back to
// an equal tree, positions aside.
//
// # Lexical structure
//
// Unquoted identifiers are case-insensitive and normalized to upper
// case; identifiers in backquotes (`like this`) or double quotes keep
// their case and may contain anything, a doubled quote standing for one.
// Keywords are case-insensitive. The reserved words below cannot be
// unquoted identifiers; other keywords (STREAM, SIZE, KEY, type and unit
// names, …) are recognized by context only:
//
//	ALL AND AS BETWEEN BY CASE CAST CREATE DISTINCT ELSE EMIT END EXISTS
//	FALSE FROM FULL GRACE GROUP HAVING IN INNER INSERT INTO IS JOIN LEFT
//	LIKE LIMIT NOT NULL ON OR OUTER PARTITION RIGHT SELECT THEN TRUE WHEN
//	WHERE WINDOW WITH WITHIN
//
// Strings are in single quotes, a doubled single quote standing for one.
// Numbers are INTEGER (42), DECIMAL when written with a '.' (4.2, .5, 1.)
// and DOUBLE when written with an exponent (1e3, 1.5E-2); literals keep
// their text.
// Comments run from -- to the end of the line, or from /* to */.
//
// # Grammar
//
// In this EBNF, quoted words are keywords, name is an identifier and
// exprs is expr {"," expr}.
//
//	script     = [statement] {";" [statement]} .
//	statement  = query | create | insert | show | describe | drop
//	           | terminate | explain | set | unset | print .
//	create     = "CREATE" ["OR" "REPLACE"] ("STREAM" | "TABLE") ["IF" "NOT" "EXISTS"] name
//	             ( ["(" column {"," column} ")"] [with] | [with] "AS" query ) .
//	column     = name type ["KEY" | "PRIMARY" "KEY"] .   (KEY in streams, PRIMARY KEY in tables)
//	with       = "WITH" "(" property {"," property} ")" .
//	property   = name "=" (string | number | "TRUE" | "FALSE") .
//	insert     = "INSERT" "INTO" name ( [with] query
//	           | ["(" name {"," name} ")"] "VALUES" "(" exprs ")" ) .
//	query      = "SELECT" item {"," item} "FROM" relation {join} [window]
//	             ["WHERE" expr] ["GROUP" "BY" exprs] ["PARTITION" "BY" exprs]
//	             ["HAVING" expr] ["EMIT" ("CHANGES" | "FINAL")] ["LIMIT" integer] .
//	item       = "*" | name "." "*" | expr [["AS"] name] .
//	relation   = name [["AS"] name] .
//	join       = ["INNER" | ("LEFT" | "RIGHT" | "FULL") ["OUTER"]] "JOIN" relation
//	             [within] "ON" expr .
//	within     = "WITHIN" (span | "(" span ["," span] ")") ["GRACE" "PERIOD" span] .
//	window     = "WINDOW" ( "TUMBLING" "(" "SIZE" span
//	                      | "HOPPING" "(" "SIZE" span "," "ADVANCE" "BY" span
//	                      | "SESSION" "(" span )
//	             {"," ("RETENTION" span | "GRACE" "PERIOD" span)} ")" .
//	span       = integer ( "MILLISECOND" | "SECOND" | "MINUTE" | "HOUR" | "DAY"
//	                     | "MILLISECONDS" | "SECONDS" | "MINUTES" | "HOURS" | "DAYS" ) .
//	show       = ("SHOW" | "LIST") ( ("STREAMS" | "TABLES" | "QUERIES" | "TOPICS") ["EXTENDED"]
//	                               | "PROPERTIES" ) .
//	describe   = "DESCRIBE" name ["EXTENDED"] .
//	drop       = "DROP" ("STREAM" | "TABLE") ["IF" "EXISTS"] name ["DELETE" "TOPIC"] .
//	terminate  = "TERMINATE" (name | "ALL") .
//	explain    = "EXPLAIN" (query | create | insert | name) .   (create and insert with a query)
//	set        = "SET" string "=" string .
//	unset      = "UNSET" string .
//	print      = "PRINT" (name | string) ["FROM" "BEGINNING"] ["INTERVAL" integer] ["LIMIT" integer] .
//
//	expr       = and {"OR" and} .
//	and        = not {"AND" not} .
//	not        = "NOT" not | comparison .
//	comparison = additive { ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") additive
//	           | "IS" ["NOT"] ("NULL" | "DISTINCT" "FROM" additive)
//	           | ["NOT"] ( "BETWEEN" additive "AND" additive | "IN" "(" exprs ")"
//	                     | "LIKE" additive ["ESCAPE" string] ) } .
//	additive   = multiplicative {("+" | "-" | "||") multiplicative} .
//	multiplicative = unary {("*" | "/" | "%") unary} .
//	unary      = ("-" | "+") unary | postfix .
//	postfix    = primary {"[" expr "]" | "->" name} .
//	primary    = literal | name ["." name] | "(" expr ")"
//	           | name "(" ["*" | ["DISTINCT"] exprs] ")"
//	           | "CASE" [expr] "WHEN" expr "THEN" expr {"WHEN" expr "THEN" expr} ["ELSE" expr] "END"
//	           | "CAST" "(" expr "AS" type ")"
//	           | "ARRAY" "[" [exprs] "]"
//	           | "MAP" "(" [expr ":=" expr {"," expr ":=" expr}] ")"
//	           | "STRUCT" "(" [name ":=" expr {"," name ":=" expr}] ")" .
//	literal    = string | integer | decimal | double | "TRUE" | "FALSE" | "NULL" .
//	type       = "BOOLEAN" | "INT" | "INTEGER" | "BIGINT" | "DOUBLE"
//	           | "DECIMAL" "(" integer "," integer ")" | "STRING" | "VARCHAR"
//	           | "TIMESTAMP" | "DATE" | "TIME" | "BYTES" | "ARRAY" "<" type ">"
//	           | "MAP" "<" type "," type ">" | "STRUCT" "<" [name type {"," name type}] ">" .
//
// Binary operators are left-associative. ARRAY, MAP and STRUCT start a
// constructor only before '[' or '('; elsewhere they are identifiers.
// Pseudo columns (ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART,
// WINDOWEND) are ordinary column references.
//
// # Differences from ksqlDB
//
// Not supported: lambdas (x => …), CREATE TYPE and custom types,
// CREATE SOURCE STREAM|TABLE, HEADERS columns, connectors, variables
// (DEFINE, ${…}), ASSERT, ALTER, SHOW FUNCTIONS, DESCRIBE FUNCTION,
// DESCRIBE STREAMS|TABLES, SHOW ALL TOPICS, PRINT … SAMPLE, and EXPLAIN of
// statements other than queries. Accepted beyond ksqlDB: WITHIN (n unit)
// with one duration, RETENTION and GRACE PERIOD of a window in either
// order, chained comparisons (a = b = c groups as (a = b) = c), and
// DISTINCT in any call. Integer literals are not range-checked here: the
// engine types them. A PRINT topic written as an identifier is upper-cased
// like any identifier; write it as a string to keep its case.
package sql
