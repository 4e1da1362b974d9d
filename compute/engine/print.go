package engine

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-log/strata/compute/sql"
)

// print runs PRINT topic: the topic's records as rows (time, partition,
// offset, key, value), from the end (or the beginning), every INTERVAL-th,
// until LIMIT or the client leaves.
func (e *Engine) print(ctx context.Context, st *sql.Print, res Result) error {
	topic := st.Topic
	if _, err := e.partitions(ctx, topic); err != nil {
		return errorAt(st, "topic %s does not exist (SHOW TOPICS lists them)", topic)
	}
	at := kgo.NewOffset().AtEnd()
	if st.FromBeginning {
		at = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(at))
	if err != nil {
		return err
	}
	defer cl.Close()
	cols := []Column{{"ROWTIME", "TIMESTAMP"}, {"ROWPARTITION", "INTEGER"}, {"ROWOFFSET", "BIGINT"}, {"KEY", "STRING"}, {"VALUE", "STRING"}}
	if err := res.Header(Header{Statement: st.String(), Columns: cols}); err != nil {
		return err
	}
	every := int64(1)
	if st.Interval != nil && *st.Interval > 1 {
		every = *st.Interval
	}
	var seen, rows int64
	for st.Limit == nil || rows < *st.Limit {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // the client left
		}
		if err := fetches.Err0(); err != nil {
			return fmt.Errorf("print %s: %w", topic, err)
		}
		for r := range fetches.RecordsAll() {
			seen++
			if (seen-1)%every != 0 || (st.Limit != nil && rows >= *st.Limit) {
				continue
			}
			row := []any{r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), r.Partition, r.Offset, printable(r.Key), printable(r.Value)}
			if err := res.Row(row, false); err != nil {
				return err
			}
			rows++
		}
	}
	return res.Done(rows)
}

// printable shows bytes as text when they are UTF-8, else as hex.
func printable(b []byte) any {
	if b == nil {
		return nil
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("%x", b)
}
