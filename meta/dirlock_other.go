//go:build !unix

package meta

import "os"

// lockDir is a no-op where flock is unavailable; StartEmbedded's start
// timeout still bounds a start that blocks on a data dir in use.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return nil, nil
}
