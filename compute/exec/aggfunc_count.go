package exec

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// aggCount is COUNT(*) (arg -1), counting rows, and COUNT(col), counting
// the non-NULL values of col. The result is a BIGINT, 0 for no rows.
type aggCount struct {
	arg   int
	n     []int64
	nulls []byte // validity of the bound argument; nil when it has no NULLs
	off   int
}

func (c *aggCount) outType() arrow.DataType { return arrow.PrimitiveTypes.Int64 }

func (c *aggCount) stateFields(prefix string) []arrow.Field {
	return []arrow.Field{{Name: prefix + "count", Type: arrow.PrimitiveTypes.Int64}}
}

func (c *aggCount) groupBytes() int  { return 8 }
func (c *aggCount) heapBytes() int64 { return 0 }
func (c *aggCount) grow(n int)       { c.n = aggGrow(c.n, n) }

func (c *aggCount) bind(rec arrow.Record) {
	c.nulls = nil
	if c.arg < 0 {
		return
	}
	if col := rec.Column(c.arg); col.NullN() > 0 {
		c.nulls, c.off = col.NullBitmapBytes(), col.Data().Offset()
	}
}

func (c *aggCount) unbind() { c.nulls = nil }

func (c *aggCount) update(gids []int32, _ int64) {
	n := c.n
	if c.nulls == nil {
		for _, g := range gids {
			if g >= 0 {
				n[g]++
			}
		}
		return
	}
	for i, g := range gids {
		if g >= 0 && bitutil.BitIsSet(c.nulls, c.off+i) {
			n[g]++
		}
	}
}

func (c *aggCount) merge(dst, src int32) { c.n[dst] += c.n[src] }
func (c *aggCount) reset(g int32)        { c.n[g] = 0 }

func (c *aggCount) result(mem memory.Allocator, gids []int32) arrow.Array {
	return aggResult(mem, arrow.PrimitiveTypes.Int64, gids, c.n, nil)
}

func (c *aggCount) exportState(mem memory.Allocator, gids []int32) []arrow.Array {
	return []arrow.Array{c.result(mem, gids)}
}

func (c *aggCount) importState(cols []arrow.Array, lo int, gids []int32) {
	aggImport(cols[0], lo, gids, c.n, nil)
}
