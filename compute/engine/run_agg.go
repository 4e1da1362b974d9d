package engine

import (
	"context"
	"errors"

	"github.com/strata-log/strata/compute/plan"
)

// aggregate builds the aggregation stages of q: its input projection, the
// windowed hash aggregation, HAVING, then next.
func (e *Engine) aggregate(q *plan.Query, p *pipeline, next stage) (stage, error) {
	return nil, errors.New("GROUP BY queries are not supported yet")
}

var _ = context.Background
