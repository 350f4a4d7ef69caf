package simplatform

import (
	"fmt"
	"sync"
)

// listCache makes paging through a large account list cheap: the contract
// pages by number (OFFSET), which costs O(offset) per page and a full count
// per request. While no account is inserted or changes state, totals are
// reused and page p+1 starts right after page p's last row (keyset).
type listCache struct {
	mu      sync.Mutex
	version uint64
	totals  map[string]int
	bounds  map[string]int64 // key|per_page|page → seq of that page's last row
}

// changed invalidates everything; call it after any write that adds an
// account or changes its state.
func (c *listCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	c.totals, c.bounds = nil, nil
}

func (c *listCache) snapshot() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

func (c *listCache) total(key string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.totals[key]
	return n, ok
}

func (c *listCache) bound(key string, perPage, page int) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, ok := c.bounds[boundKey(key, perPage, page)]
	return seq, ok
}

// remember stores what one list request learned, unless a write happened
// since version was taken.
func (c *listCache) remember(version uint64, key string, total, perPage, page int, lastSeq int64, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		return
	}
	if c.totals == nil {
		c.totals, c.bounds = map[string]int{}, map[string]int64{}
	}
	if len(c.totals) > 1000 {
		clear(c.totals)
		clear(c.bounds)
	}
	c.totals[key] = total
	if full {
		c.bounds[boundKey(key, perPage, page)] = lastSeq
	}
}

func boundKey(key string, perPage, page int) string {
	return fmt.Sprintf("%s|%d|%d", key, perPage, page)
}

// seqScanner reads the seq column ahead of a row's other columns.
type seqScanner struct {
	row interface{ Scan(...any) error }
	seq *int64
}

func (s seqScanner) Scan(dest ...any) error { return s.row.Scan(append([]any{s.seq}, dest...)...) }
