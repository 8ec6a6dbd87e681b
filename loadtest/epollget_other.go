//go:build !linux

package loadtest

import (
	"context"
	"errors"
	"time"
)

// EpollGetter needs Linux (epoll); elsewhere use -get raw.
type EpollGetter struct{}

// NewEpollGetter reports that the epoll client needs Linux.
func NewEpollGetter(bases []string, path string, conns, threads int, cookies bool) (*EpollGetter, error) {
	return nil, errors.New("the epoll GET client needs Linux (use -get raw)")
}

// Run does nothing: there is no getter.
func (g *EpollGetter) Run(ctx context.Context, name string, warmup, d time.Duration, sampler *Sampler) LoadResult {
	return LoadResult{Name: name}
}
