// Package stream is a Go API for stream processing programs, in the
// spirit of Kafka Streams, that runs on the SQL engine's machinery: the
// engine's scan reads and decodes topics into Arrow batches
// (compute/schema), its stages filter, project, aggregate
// (compute/exec.Aggregate) and join (compute/exec.StreamStreamJoin) them
// with expressions bound by the SQL planner (compute/plan, compute/expr),
// and its sink produces the results (compute/engine's Scan, NewPipeline
// and NewSink).
//
//	b := stream.NewBuilder(stream.Config{Brokers: []string{"127.0.0.1:9092"}})
//	b.Stream("caterpillars", stream.Raw()).
//		Map(func(r stream.Record) (stream.Record, bool) { r.Value = bytes.ToUpper(r.Value); return r, true }).
//		To("butterflies")
//	err := b.Run(ctx)
//
// # Streams
//
// A Builder's Stream method reads a topic with a Serde: the columns of its
// records and their key and value formats (Raw: KEY and VALUE BYTES as
// they are; JSON: declared columns, JSON values). A Stream's rows carry
// the pseudo columns ROWTIME (event time: the record timestamp),
// ROWPARTITION and ROWOFFSET, then its columns; its methods return new
// streams, and a stream may feed several:
//
//   - Map, Filter: row at a time, on Records (key and value encoded in the
//     stream's formats).
//   - MapBatch: batch at a time, on Arrow records, for vectorized code.
//   - Where, Select: SQL expressions over the columns (ksqlDB dialect, see
//     compute/expr), bound by the planner and evaluated batch at a time.
//     Unquoted identifiers are upper-cased, as in SQL: quote others with
//     backquotes.
//   - GroupBy … [WindowedBy] … Aggregate: the hash aggregation, tumbling,
//     hopping or session windows, EMIT CHANGES (default) or FINAL.
//   - Join, LeftJoin, OuterJoin: stream-stream joins within a time window.
//   - To (a topic), Foreach, Print: sinks.
//
// Streams made by Select, Aggregate, Join and MapBatch with declared
// columns are written in JSON (keys too; a single key column bare, as
// ksqlDB writes keys); WithFormats chooses other formats. Errors of
// building (an unknown column, a type mismatch) are kept by the Stream
// and the Builder and returned by Run.
//
// # Running
//
// Run runs every topology (streams connected through their operators)
// until its context ends. Each reads its sources from their earliest
// offsets (FromLatest: their end), or, with Config.StateDir, from where
// the previous Run stopped: every CommitInterval, and when Run stops, each
// topology writes its sources' positions and its operators' state to a
// file there, between two batches, and the next Run restores them.
// Delivery is at least once: after a clean stop nothing is repeated; after
// a crash, the rows emitted since the last checkpoint are emitted again (an
// aggregate as the same or a newer value of its key).
//
// Not supported yet: tables (KTable) and stream-table joins, record
// headers, and sharing an application's work between processes: a Run
// reads every partition of its sources itself (no consumer group, no
// repartitioning), so aggregations and joins see all the rows of a key.
package stream
