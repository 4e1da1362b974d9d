// Package plan turns parsed KSQL queries (compute/sql) into pipelines of
// vectorized operators (compute/expr, compute/exec) over a source's batches.
package plan
