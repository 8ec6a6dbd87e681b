//go:build !linux

package loadtest

import (
	"context"
	"errors"
	"time"
)

// EpollClient needs Linux (epoll); elsewhere use -get raw and -post raw.
type EpollClient struct{}

var errNoEpoll = errors.New("the epoll client needs Linux (use -get raw / -post raw)")

// NewEpollGetter reports that the epoll client needs Linux.
func NewEpollGetter(bases []string, path string, conns, threads int, cookies bool) (*EpollClient, error) {
	return nil, errNoEpoll
}

// NewEpollPoster reports that the epoll client needs Linux.
func NewEpollPoster(vs []*Viewer, threads int) (*EpollClient, error) { return nil, errNoEpoll }

// Run does nothing: there is no client.
func (g *EpollClient) Run(ctx context.Context, name string, warmup, d time.Duration, sampler *Sampler) LoadResult {
	return LoadResult{Name: name}
}
