package wal

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a WAL. The zero value is invalid only because Dir is
// required.
type Options struct {
	// Dir holds the segment files; created if missing. Required.
	Dir string
	// SegmentSize: once the active segment has reached this many bytes the
	// next entry goes into a new segment. 0 means DefaultSegmentSize (64 MiB);
	// otherwise at least MinSegmentSize.
	SegmentSize int64
	// NoSync skips every fsync (benchmarks and tests only): done callbacks
	// fire once the data has been handed to write(2).
	NoSync bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, if not nil, gets the WAL's metrics at Open (and loses them
	// at Close): strata_wal_appends_total, strata_wal_fsyncs_total,
	// strata_wal_fsync_duration_seconds, strata_wal_bytes_written_total,
	// strata_wal_flushes_total, strata_wal_torn_tail_truncations_total and
	// strata_wal_segments.
	Registerer prometheus.Registerer
	// FS is the file system; nil means OSFS().
	FS FS
}

// Validate checks the options, naming the offending field.
func (o Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("wal: Options.Dir is required"))
	}
	if o.SegmentSize < 0 {
		errs = append(errs, fmt.Errorf("wal: Options.SegmentSize is %d: must not be negative (0 means the default, %d)", o.SegmentSize, DefaultSegmentSize))
	} else if o.SegmentSize != 0 && o.SegmentSize < MinSegmentSize {
		errs = append(errs, fmt.Errorf("wal: Options.SegmentSize is %d: must be 0 (default, %d) or at least %d", o.SegmentSize, DefaultSegmentSize, MinSegmentSize))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FS == nil {
		o.FS = OSFS()
	}
	return o
}
