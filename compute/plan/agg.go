package plan

import "strings"

// aggregates are the aggregate functions (ksqlDB's UDAFs) the engine runs.
var aggregates = map[string]bool{
	"COUNT": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true, "COUNT_DISTINCT": true,
	"LATEST_BY_OFFSET": true, "EARLIEST_BY_OFFSET": true, "COLLECT_LIST": true,
}

func isAggregate(name string) bool { return aggregates[strings.ToUpper(name)] }
