package sql

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// seed is the statement the engine's first use case starts from.
const seed = `CREATE STREAM possible_fraud AS SELECT card_number, count(*) FROM authorization_attempts
WINDOW TUMBLING (SIZE 5 MINUTE) GROUP BY card_number HAVING count(*) > 3;`

// statementTests map one statement to its canonical form.
var statementTests = []struct{ src, want string }{
	{seed, "CREATE STREAM POSSIBLE_FRAUD AS SELECT CARD_NUMBER, COUNT(*) FROM AUTHORIZATION_ATTEMPTS " +
		"WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY CARD_NUMBER HAVING COUNT(*) > 3"},

	// CREATE STREAM|TABLE with columns and properties.
	{"CREATE STREAM pageviews (viewtime BIGINT, user_id VARCHAR KEY, page_id STRING)\n" +
		"WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON', PARTITIONS=3);",
		"CREATE STREAM PAGEVIEWS (VIEWTIME BIGINT, USER_ID STRING KEY, PAGE_ID STRING) " +
			"WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON', PARTITIONS=3)"},
	{"create or replace stream s with (kafka_topic='t', value_format='avro')",
		"CREATE OR REPLACE STREAM S WITH (KAFKA_TOPIC='t', VALUE_FORMAT='avro')"},
	{"CREATE STREAM IF NOT EXISTS s (a INT) WITH (KAFKA_TOPIC='t', WRAP_SINGLE_VALUE=false, X=1.5, Y=2e3)",
		"CREATE STREAM IF NOT EXISTS S (A INTEGER) WITH (KAFKA_TOPIC='t', WRAP_SINGLE_VALUE=FALSE, X=1.5, Y=2e3)"},
	{"CREATE TABLE users (id STRING PRIMARY KEY, registertime BIGINT) WITH (kafka_topic='users', \"key_format\"='KAFKA')",
		"CREATE TABLE USERS (ID STRING PRIMARY KEY, REGISTERTIME BIGINT) WITH (KAFKA_TOPIC='users', `key_format`='KAFKA')"},
	{"CREATE OR REPLACE TABLE IF (x INT PRIMARY KEY)", "CREATE OR REPLACE TABLE IF (X INTEGER PRIMARY KEY)"},
	{"CREATE STREAM t (b BOOLEAN, i INT, i2 INTEGER, l BIGINT, d DOUBLE, dec DECIMAL(10, 2), v VARCHAR, " +
		"s STRING, ts TIMESTAMP, dt DATE, tm TIME, bs BYTES, a ARRAY<INT>, m MAP<STRING, ARRAY<DOUBLE>>, " +
		"st STRUCT<street STRING, `Zip` INT, geo STRUCT<lat DOUBLE, lon DOUBLE>>, e STRUCT<>, e2 STRUCT< >)",
		"CREATE STREAM T (B BOOLEAN, I INTEGER, I2 INTEGER, L BIGINT, D DOUBLE, DEC DECIMAL(10, 2), V STRING, " +
			"S STRING, TS TIMESTAMP, DT DATE, TM TIME, BS BYTES, A ARRAY<INTEGER>, M MAP<STRING, ARRAY<DOUBLE>>, " +
			"ST STRUCT<STREET STRING, `Zip` INTEGER, GEO STRUCT<LAT DOUBLE, LON DOUBLE>>, E STRUCT<>, E2 STRUCT<>)"},
	{"CREATE STREAM `my-stream` (`Col` INT, `a``b` STRING, key INT KEY, size INT)",
		"CREATE STREAM `my-stream` (`Col` INTEGER, `a``b` STRING, KEY INTEGER KEY, SIZE INTEGER)"},

	// Persistent queries.
	{"CREATE STREAM s2 WITH (KAFKA_TOPIC='s2') AS SELECT * FROM s1 WHERE a > 1 EMIT CHANGES;",
		"CREATE STREAM S2 WITH (KAFKA_TOPIC='s2') AS SELECT * FROM S1 WHERE A > 1 EMIT CHANGES"},
	{"CREATE OR REPLACE TABLE counts AS SELECT region, COUNT(*) AS n FROM pageviews GROUP BY region EMIT CHANGES",
		"CREATE OR REPLACE TABLE COUNTS AS SELECT REGION, COUNT(*) AS N FROM PAGEVIEWS GROUP BY REGION EMIT CHANGES"},
	{"CREATE TABLE IF NOT EXISTS t AS SELECT a, SUM(b) total FROM s GROUP BY a",
		"CREATE TABLE IF NOT EXISTS T AS SELECT A, SUM(B) AS TOTAL FROM S GROUP BY A"},
	{"INSERT INTO all_views SELECT * FROM mobile_views", "INSERT INTO ALL_VIEWS SELECT * FROM MOBILE_VIEWS"},
	{"insert into all_views with (query_id='q1') select * from web_views",
		"INSERT INTO ALL_VIEWS WITH (QUERY_ID='q1') SELECT * FROM WEB_VIEWS"},
	{"INSERT INTO s (a, `b`) VALUES (1, 'x')", "INSERT INTO S (A, `b`) VALUES (1, 'x')"},
	{"INSERT INTO s VALUES (1, ARRAY[1, 2], NULL)", "INSERT INTO S VALUES (1, ARRAY[1, 2], NULL)"},

	// Queries.
	{"SELECT * FROM s", "SELECT * FROM S"},
	{"SELECT s.*, t.x AS y, t.z w, f(a) `Mixed` FROM s AS s JOIN t ON s.id = t.id EMIT CHANGES LIMIT 10",
		"SELECT S.*, T.X AS Y, T.Z AS W, F(A) AS `Mixed` FROM S AS S JOIN T ON S.ID = T.ID EMIT CHANGES LIMIT 10"},
	{"SELECT * FROM t WHERE id = 'k';", "SELECT * FROM T WHERE ID = 'k'"},
	{"SELECT a FROM s a INNER JOIN t b WITHIN 10 MINUTES ON a.id = b.id",
		"SELECT A FROM S AS A JOIN T AS B WITHIN 10 MINUTES ON A.ID = B.ID"},
	{"SELECT a FROM s LEFT OUTER JOIN t WITHIN (1 HOUR, 2 HOURS) ON s.id = t.id",
		"SELECT A FROM S LEFT JOIN T WITHIN (1 HOUR, 2 HOURS) ON S.ID = T.ID"},
	{"SELECT a FROM s LEFT JOIN t WITHIN (1 HOUR) ON s.id = t.id",
		"SELECT A FROM S LEFT JOIN T WITHIN 1 HOUR ON S.ID = T.ID"},
	{"SELECT a FROM s RIGHT OUTER JOIN t WITHIN 1 HOUR GRACE PERIOD 15 MINUTES ON s.id = t.id",
		"SELECT A FROM S RIGHT JOIN T WITHIN 1 HOUR GRACE PERIOD 15 MINUTES ON S.ID = T.ID"},
	{"SELECT a FROM s FULL OUTER JOIN t ON s.id = t.id FULL JOIN u ON t.id = u.id RIGHT JOIN v ON u.id = v.id LEFT JOIN w ON v.id = w.id",
		"SELECT A FROM S FULL JOIN T ON S.ID = T.ID FULL JOIN U ON T.ID = U.ID RIGHT JOIN V ON U.ID = V.ID LEFT JOIN W ON V.ID = W.ID"},
	{"SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES) GROUP BY k EMIT FINAL",
		"SELECT K, COUNT(*) FROM S WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES) GROUP BY K EMIT FINAL"},
	{"SELECT k, COUNT(*) FROM s WINDOW TUMBLING (SIZE 1 HOURS, GRACE PERIOD 1 MINUTES, RETENTION 1 DAY) GROUP BY k",
		"SELECT K, COUNT(*) FROM S WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 1 DAY, GRACE PERIOD 1 MINUTE) GROUP BY K"},
	{"SELECT WINDOWSTART, WINDOWEND, k FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECOND) GROUP BY k",
		"SELECT WINDOWSTART, WINDOWEND, K FROM S WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS) GROUP BY K"},
	{"SELECT k FROM s WINDOW SESSION (500 MILLISECONDS, GRACE PERIOD 0 MILLISECOND) GROUP BY k, j",
		"SELECT K FROM S WINDOW SESSION (500 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS) GROUP BY K, J"},
	{"SELECT * FROM s WHERE a IS NOT NULL PARTITION BY b, c->d EMIT CHANGES",
		"SELECT * FROM S WHERE A IS NOT NULL PARTITION BY B, C->D EMIT CHANGES"},
	{"SELECT a, SUM(b) FROM s WHERE c GROUP BY a HAVING SUM(b) > 10 AND COUNT(*) < 3 EMIT CHANGES LIMIT 1",
		"SELECT A, SUM(B) FROM S WHERE C GROUP BY A HAVING SUM(B) > 10 AND COUNT(*) < 3 EMIT CHANGES LIMIT 1"},
	{"SELECT ROWTIME, ROWPARTITION, ROWOFFSET, key, timestamp, stream, array, map[1], struct FROM s",
		"SELECT ROWTIME, ROWPARTITION, ROWOFFSET, KEY, TIMESTAMP, STREAM, `ARRAY`, `MAP`[1], `STRUCT` FROM S"},
	{"-- leading comment\nSELECT /* inline */ a -- trailing\nFROM s /* last */",
		"SELECT A FROM S"},

	// Other statements.
	{"SHOW STREAMS", "SHOW STREAMS"},
	{"show tables extended", "SHOW TABLES EXTENDED"},
	{"LIST QUERIES", "SHOW QUERIES"},
	{"LIST TOPICS EXTENDED;", "SHOW TOPICS EXTENDED"},
	{"SHOW PROPERTIES", "SHOW PROPERTIES"},
	{"DESCRIBE pageviews", "DESCRIBE PAGEVIEWS"},
	{"describe `Views` extended", "DESCRIBE `Views` EXTENDED"},
	{"DROP STREAM s", "DROP STREAM S"},
	{"DROP TABLE IF EXISTS t DELETE TOPIC", "DROP TABLE IF EXISTS T DELETE TOPIC"},
	{"DROP STREAM IF", "DROP STREAM IF"},
	{"TERMINATE CSAS_PAGEVIEWS_0", "TERMINATE CSAS_PAGEVIEWS_0"},
	{"TERMINATE ALL", "TERMINATE ALL"},
	{"TERMINATE `ALL`", "TERMINATE `ALL`"},
	{"EXPLAIN CSAS_PAGEVIEWS_0", "EXPLAIN CSAS_PAGEVIEWS_0"},
	{"EXPLAIN SELECT * FROM s EMIT CHANGES", "EXPLAIN SELECT * FROM S EMIT CHANGES"},
	{"EXPLAIN CREATE STREAM x AS SELECT * FROM s", "EXPLAIN CREATE STREAM X AS SELECT * FROM S"},
	{"EXPLAIN INSERT INTO x SELECT * FROM s", "EXPLAIN INSERT INTO X SELECT * FROM S"},
	{"SET 'auto.offset.reset'='earliest';", "SET 'auto.offset.reset' = 'earliest'"},
	{"UNSET 'auto.offset.reset'", "UNSET 'auto.offset.reset'"},
	{"PRINT 'my-topic' FROM BEGINNING INTERVAL 2 LIMIT 10", "PRINT 'my-topic' FROM BEGINNING INTERVAL 2 LIMIT 10"},
	{"print pageviews", "PRINT 'PAGEVIEWS'"},
}

func TestParseStatement(t *testing.T) {
	for _, tt := range statementTests {
		s, err := ParseStatement(tt.src)
		if err != nil {
			t.Errorf("%s\n  error: %v", tt.src, err)
			continue
		}
		if got := s.String(); got != tt.want {
			t.Errorf("%s\n   got: %s\n  want: %s", tt.src, got, tt.want)
		}
	}
}

func TestParseScript(t *testing.T) {
	src := ";; SHOW STREAMS;\n\nDESCRIBE s ; ;\n-- done\nSELECT * FROM s"
	stmts, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := "SHOW STREAMS;\nDESCRIBE S;\nSELECT * FROM S;\n"
	if got := FormatScript(stmts); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, empty := range []string{"", " ; ; ", "-- nothing\n/* at all */"} {
		if stmts, err := Parse(empty); err != nil || stmts != nil {
			t.Errorf("Parse(%q) = %v, %v; want nil, nil", empty, stmts, err)
		}
	}
}

// TestSeedAST checks the whole tree of the seed statement, positions aside.
func TestSeedAST(t *testing.T) {
	got, err := Parse(seed)
	if err != nil {
		t.Fatal(err)
	}
	countStar := func() Expr { return &Call{Name: "COUNT", Star: true} }
	want := []Statement{&CreateAsSelect{
		Kind: Stream,
		Name: "POSSIBLE_FRAUD",
		Query: &Query{
			Select:  []SelectItem{{Expr: &ColumnRef{Name: "CARD_NUMBER"}}, {Expr: countStar()}},
			From:    Relation{Name: "AUTHORIZATION_ATTEMPTS"},
			Window:  &Window{Kind: Tumbling, Size: TimeSpan{Value: 5, Unit: Minute, Duration: 5 * time.Minute}},
			GroupBy: []Expr{&ColumnRef{Name: "CARD_NUMBER"}},
			Having: &BinaryExpr{Op: OpGt, Left: countStar(),
				Right: &Literal{Kind: IntegerLit, Text: "3"}},
		},
	}}
	if !reflect.DeepEqual(clearPositions(got), want) {
		t.Errorf("got %#v", got[0].(*CreateAsSelect).Query)
	}
}

// TestPositions checks that nodes record where they start (operators
// where the operator is).
func TestPositions(t *testing.T) {
	stmts, err := Parse(seed)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(seed, "\n")
	at := func(line int, s string) Pos {
		return Pos{Line: line, Col: strings.Index(lines[line-1], s) + 1}
	}
	cas := stmts[0].(*CreateAsSelect)
	q := cas.Query
	for _, c := range []struct {
		name string
		node Node
		want Pos
	}{
		{"statement", cas, at(1, "CREATE")},
		{"query", q, at(1, "SELECT")},
		{"select item", q.Select[1], at(1, "count")},
		{"count(*)", q.Select[1].Expr, at(1, "count")},
		{"from", q.From, at(1, "authorization_attempts")},
		{"window", q.Window, at(2, "WINDOW")},
		{"window size", q.Window.Size, at(2, "5")},
		{"group by", q.GroupBy[0], at(2, "card_number")},
		{"having", q.Having, at(2, ">")},
		{"literal", q.Having.(*BinaryExpr).Right, at(2, "3")},
	} {
		if got := c.node.Position(); got != c.want {
			t.Errorf("%s at %v, want %v", c.name, got, c.want)
		}
	}
}
