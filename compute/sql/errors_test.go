package sql

import (
	"errors"
	"strings"
	"testing"
)

var errorTests = []struct {
	src       string
	line, col int
	msg       string
}{
	{"SELECT card_number, count(*) FROM a WINDOW TUMBLING (SIZE 5 MINUTE GROUP BY card_number",
		1, 68, "expected ')' after window size, found 'GROUP'"},
	{"SELECT a FROM s WINDOW TUMBLING (SIZE 5 MINUTTE)",
		1, 41, "unknown time unit 'MINUTTE': valid units are MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS (or singular)"},
	{"SELECT a FROM s WINDOW TUMBLING (SIZE 5)",
		1, 40, "expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS (or singular)), found ')'"},
	{"SELECT a FROM s WINDOW TUMBLING (5 MINUTES)", 1, 34, "expected SIZE in TUMBLING window, found '5'"},
	{"SELECT a FROM s WINDOW HOPPING (SIZE 5 MINUTES)", 1, 47, "expected ',' and ADVANCE BY after window size, found ')'"},
	{"SELECT a FROM s WINDOW SLIDING (SIZE 5 MINUTES)", 1, 24, "expected TUMBLING, HOPPING or SESSION after WINDOW, found 'SLIDING'"},
	{"SELECT a FROM s WINDOW SESSION (1 HOUR, RETENTION 1 DAY, RETENTION 2 DAYS)", 1, 58, "duplicate RETENTION in window"},
	{"SELECT a, b WHERE a > 1", 1, 13, "expected ',' or FROM after select item, found 'WHERE'"},
	{"SELECT a FROM s WHERE a > 1 GROUP BY a WINDOW TUMBLING (SIZE 1 HOUR)", 1, 40,
		"WINDOW is out of place: a query's clauses appear at most once each, in the order " + clauseOrder},
	{"SELECT a FROM s WHERE a WHERE b", 1, 25,
		"WHERE is out of place: a query's clauses appear at most once each, in the order " + clauseOrder},
	{"SELECT 'abc FROM s", 1, 8, "unterminated string literal: ' has no closing '"},
	{"SELECT `abc FROM s", 1, 8, "unterminated quoted identifier: ` has no closing `"},
	{"SELECT `` FROM s", 1, 8, "empty quoted identifier"},
	{"SELECT a /* FROM s", 1, 10, "unterminated comment: /* has no closing */"},
	{"SHOW STREAMS foo", 1, 14, "expected ';' or end of input after statement, found 'foo'"},
	{"SHOW VIEWS", 1, 6, "expected STREAMS, TABLES, QUERIES, TOPICS or PROPERTIES after SHOW, found 'VIEWS'"},
	{"SELEC * FROM s", 1, 1, "expected a statement (SELECT, CREATE, INSERT, DROP, SHOW, LIST, DESCRIBE, EXPLAIN, " +
		"TERMINATE, SET, UNSET or PRINT), found 'SELEC'"},
	{"SELECT a\nFROM s\nWHERE a = = 1", 3, 11, "expected an expression, found '='"},
	{"SELECT a FROM s WHERE a = 1 AND", 1, 32, "expected an expression, found end of input"},
	{"SELECT a ! b FROM s", 1, 10, "unexpected character '!'"},
	{"SELECT 'héllo', ü FROM s WHERE ?", 1, 32, "unexpected character '?'"},
	{"SELECT 5minutes FROM s", 1, 9, "unexpected 'm' right after a number; separate words and numbers with a space"},
	{"SELECT 1e+ FROM s", 1, 9, "malformed exponent: expected digits after \"e+\""},
	{"CREATE STREAM select (a INT)", 1, 15, "expected stream name, found reserved word SELECT (write `SELECT` to use it as a name)"},
	{"CREATE STREAM s (a INT, from INT)", 1, 25, "expected column name, found reserved word FROM (write `FROM` to use it as a name)"},
	{"CREATE STREAM s (a INTEGR)", 1, 20, "unknown type 'INTEGR': valid types are " + validTypes},
	{"CREATE STREAM s (a INT,)", 1, 24, "expected column name, found ')'"},
	{"CREATE STREAM s (a INT b INT)", 1, 24, "expected ',' or ')' after column definition, found 'b'"},
	{"CREATE STREAM s (a DECIMAL(2, 5))", 1, 31, "DECIMAL scale 5 exceeds the precision 2"},
	{"CREATE STREAM s (a DECIMAL(0, 0))", 1, 20, "DECIMAL precision must be at least 1"},
	{"CREATE STREAM s (a DECIMAL)", 1, 27, "expected '(' after DECIMAL: write DECIMAL(precision, scale), found ')'"},
	{"CREATE STREAM s (a ARRAY<INT)", 1, 29, "expected '>' to close ARRAY<, found ')'"},
	{"CREATE TABLE t (id INT KEY)", 1, 24, "a table declares its key columns with PRIMARY KEY, not KEY"},
	{"CREATE STREAM s (id INT PRIMARY KEY)", 1, 25, "a stream declares its key columns with KEY, not PRIMARY KEY"},
	{"CREATE OR REPLACE STREAM IF NOT EXISTS s (a INT)", 1, 26, "OR REPLACE and IF NOT EXISTS cannot be used together"},
	{"CREATE STREAM s (a INT) AS SELECT * FROM t", 1, 25, "CREATE STREAM … AS SELECT takes its columns from the query: remove the column list"},
	{"CREATE STREAM s AS SHOW STREAMS", 1, 20, "expected SELECT to start a query, found 'SHOW'"},
	{"CREATE VIEW v AS SELECT * FROM s", 1, 8, "expected STREAM or TABLE after CREATE, found 'VIEW'"},
	{"CREATE STREAM s WITH (KAFKA_TOPIC='a', kafka_topic='b')", 1, 40, "duplicate property KAFKA_TOPIC"},
	{"CREATE STREAM s WITH (PARTITIONS=x)", 1, 34, "expected a string, number or boolean as value of PARTITIONS, found 'x'"},
	{"SELECT * FROM a JOIN b GRACE PERIOD 1 HOUR ON a.x = b.x", 1, 24, "GRACE PERIOD of a join belongs after a WITHIN clause"},
	{"SELECT * FROM a JOIN b WHERE a.x = b.x", 1, 24, "expected ON and a join condition, found 'WHERE'"},
	{"SELECT * FROM a LEFT OUTER b ON a.x = b.x", 1, 28, "expected JOIN after LEFT, found 'b'"},
	{"SELECT * FROM a JOIN b WITHIN (1 HOUR 2 HOURS) ON a.x = b.x", 1, 39, "expected ')' after WITHIN durations, found '2'"},
	{"SELECT * FROM s LIMIT 99999999999999999999", 1, 23, "99999999999999999999 is too large: the maximum is 9223372036854775807"},
	{"SELECT * FROM s LIMIT -1", 1, 23, "expected an integer after LIMIT, found '-'"},
	{"SELECT * FROM s WINDOW TUMBLING (SIZE 9223372036854775807 DAYS)", 1, 39, "9223372036854775807 DAYS is too long a duration"},
	{"SELECT a LIKE b ESCAPE '!!' FROM s", 1, 24, "ESCAPE takes a string of one character, such as ESCAPE '!'"},
	{"SELECT a NOT NULL FROM s", 1, 14, "expected BETWEEN, IN or LIKE after NOT, found 'NULL'"},
	{"SELECT a IS TRUE FROM s", 1, 13, "expected NULL or DISTINCT FROM after IS, found 'TRUE'"},
	{"SELECT CASE WHEN a THEN 1 FROM s", 1, 27, "expected END to close CASE, found 'FROM'"},
	{"SELECT CASE a END FROM s", 1, 15, "expected WHEN in CASE, found 'END'"},
	{"SELECT f(a b) FROM s", 1, 12, "expected ',' or ')' in arguments of F, found 'b'"},
	{"SELECT (a + b FROM s", 1, 15, "expected ')' to close the '(' at 1:8, found 'FROM'"},
	{"SELECT MAP('a' 1) FROM s", 1, 16, "expected ':=' after MAP key, found '1'"},
	{"SELECT CAST(a AS INT FROM s", 1, 22, "expected ')' to close CAST, found 'FROM'"},
	{"EXPLAIN CREATE STREAM s (a INT)", 1, 9, "EXPLAIN takes a query, a CREATE … AS SELECT, an INSERT INTO … SELECT or a query ID"},
	{"SET auto.offset.reset = 'earliest'", 1, 5, "expected a quoted property name after SET (SET 'name' = 'value'), found 'auto'"},
	{"INSERT INTO s SHOW", 1, 15, "expected SELECT to start a query, found 'SHOW'"},
	{"DROP STREAM s DELETE", 1, 21, "expected TOPIC after DELETE, found end of input"},
	{"TERMINATE 42", 1, 11, "expected a query ID or ALL after TERMINATE, found '42'"},
	{"SELECT " + strings.Repeat("(", 1200) + "1", 1, 1008, "nested too deeply: more than 1000 levels"},
	{"SELECT " + strings.Repeat("- ", 1200) + "1", 1, 2008, "nested too deeply: more than 1000 levels"},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorTests {
		stmts, err := Parse(tt.src)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s\n  parses to %v, error %v", tt.src, stmts, err)
			continue
		}
		if e.Line != tt.line || e.Col != tt.col || e.Msg != tt.msg {
			t.Errorf("%s\n   got: %d:%d: %s\n  want: %d:%d: %s", tt.src, e.Line, e.Col, e.Msg, tt.line, tt.col, tt.msg)
		}
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("SELECT a FROM s WINDOW TUMBLING (SIZE 5 MINUTE GROUP BY a")
	want := "line 1:48: expected ')' after window size, found 'GROUP'"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestParseStatementErrors(t *testing.T) {
	for src, want := range map[string]string{
		"":                          "line 1:1: expected a statement (SELECT, CREATE, INSERT, DROP, SHOW, LIST, DESCRIBE, EXPLAIN, TERMINATE, SET, UNSET or PRINT), found end of input",
		"SHOW STREAMS; SHOW TABLES": "line 1:15: expected a single statement, found another starting with 'SHOW'",
		"SHOW STREAMS;; x":          "line 1:16: expected a single statement, found another starting with 'x'",
	} {
		if _, err := ParseStatement(src); err == nil || err.Error() != want {
			t.Errorf("ParseStatement(%q): got %v, want %s", src, err, want)
		}
	}
	for src, want := range map[string]string{
		"a b":      "line 1:3: expected an operator or end of input after expression, found 'b'",
		"a;":       "line 1:2: expected an operator or end of input after expression, found ';'",
		"":         "line 1:1: expected an expression, found end of input",
		"a = 'x":   "line 1:5: unterminated string literal: ' has no closing '",
		"a[1":      "line 1:4: expected ']' after subscript, found end of input",
		"s->":      "line 1:4: expected a field name after ->, found end of input",
		"t.select": "line 1:3: expected a column name after '.', found reserved word SELECT (write `SELECT` to use it as a name)",
	} {
		if _, err := ParseExpr(src); err == nil || err.Error() != want {
			t.Errorf("ParseExpr(%q): got %v, want %s", src, err, want)
		}
	}
}
