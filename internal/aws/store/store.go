// Package store keeps the per-user feature items. Store is the interface
// the processor writes through; DynamoDB is the real one, Memory the one
// the tests use without a network, and Discard the benchmark's no-op.
package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamfn/streamfn/internal/features"
)

// MaxLoadKeys is the most users one Load may ask for: DynamoDB's
// BatchGetItem limit.
const MaxLoadKeys = 100

// ErrConflict means another writer changed the item since it was read:
// re-read it, re-apply and save again.
var ErrConflict = errors.New("the item changed since it was read (version conflict)")

// UnreadableError names the users whose stored items could not be decoded
// (written by another tool, or by a release with another item format). Load
// returns it with the other users' items, so that one bad item fails its
// user alone, not the 99 others of its BatchGetItem call.
type UnreadableError struct {
	Table string
	Users map[string]error // userId -> what is wrong with the item
}

func (e *UnreadableError) Error() string {
	ids := slices.Sorted(maps.Keys(e.Users))
	return fmt.Sprintf("table %s: %d item(s) cannot be read (users %s): %v; the processor cannot apply these users' events "+
		"until the item is fixed or deleted (aws dynamodb delete-item --table-name %s --key '{\"userId\":{\"S\":\"<userId>\"}}')",
		e.Table, len(ids), strings.Join(ids, ", "), e.Users[ids[0]], e.Table)
}

// For is the error of one user's item, or nil when it was read.
func (e *UnreadableError) For(userID string) error {
	if err, ok := e.Users[userID]; ok {
		return fmt.Errorf("table %s: the item of user %q cannot be read: %w; fix or delete the item "+
			"(aws dynamodb delete-item --table-name %s --key '{\"userId\":{\"S\":%q}}'), and its events apply on the next retry",
			e.Table, userID, err, e.Table, userID)
	}
	return nil
}

// Store reads and writes feature items.
type Store interface {
	// Load reads the items of up to MaxLoadKeys users with a strongly
	// consistent read. Users without an item are absent from the result.
	// An *UnreadableError means the result holds every other user: only
	// the users it names could not be read. Any other error means none
	// could.
	Load(ctx context.Context, userIDs []string) (map[string]*features.Item, error)
	// Save writes item if the stored version still equals item.Version (0:
	// no item stored), then increments item.Version. It returns
	// ErrConflict if the stored version differs.
	Save(ctx context.Context, item *features.Item) error
}

// Erase replaces a user's item with its suppression record: an empty item
// whose ErasedAt is at, expiring at expiresAt (0: never), written over any
// version, so that a processor holding the old item conflicts and re-reads
// it. It returns whether an item with features existed.
func Erase(ctx context.Context, st Store, userID string, at time.Time, expiresAt int64) (existed bool, err error) {
	for attempt := 1; ; attempt++ {
		items, err := st.Load(ctx, []string{userID})
		var unreadable *UnreadableError
		if err != nil && !errors.As(err, &unreadable) {
			return false, fmt.Errorf("erasing user %q: reading the item: %w", userID, err)
		}
		tombstone := features.NewItem(userID)
		tombstone.ErasedAt, tombstone.ExpiresAt = at.Unix(), expiresAt
		if old := items[userID]; old != nil {
			existed = old.EventCount > 0 || existed
			tombstone.Version = old.Version
		} else if unreadable != nil {
			// An item another tool wrote: replace it whatever it holds.
			return true, forceErase(ctx, st, tombstone)
		}
		err = st.Save(ctx, tombstone)
		if err == nil {
			return existed, nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= 10 {
			return existed, fmt.Errorf("erasing user %q: writing the suppression record: %w", userID, err)
		}
	}
}

// forceErase writes the suppression record over an item the processor
// cannot read.
func forceErase(ctx context.Context, st Store, tombstone *features.Item) error {
	if f, ok := st.(interface {
		Overwrite(context.Context, *features.Item) error
	}); ok {
		return f.Overwrite(ctx, tombstone)
	}
	return fmt.Errorf("erasing user %q: the item cannot be read and the store cannot overwrite it", tombstone.UserID)
}

// Memory is a Store in memory, for tests. It keeps deep copies, so callers
// cannot change stored items behind its back. The zero value is ready.
type Memory struct {
	mu    sync.Mutex
	items map[string]*features.Item
}

// Load implements Store.
func (m *Memory) Load(_ context.Context, userIDs []string) (map[string]*features.Item, error) {
	if len(userIDs) > MaxLoadKeys {
		return nil, errors.New("store: more than 100 keys in one Load")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*features.Item, len(userIDs))
	for _, id := range userIDs {
		if it, ok := m.items[id]; ok {
			out[id] = it.Clone()
		}
	}
	return out, nil
}

// Save implements Store.
func (m *Memory) Save(_ context.Context, item *features.Item) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var stored int64
	if it, ok := m.items[item.UserID]; ok {
		stored = it.Version
	}
	if stored != item.Version {
		return ErrConflict
	}
	if m.items == nil {
		m.items = map[string]*features.Item{}
	}
	item.Bytes = ItemBytes(item, "expiresAt")
	item.Version++
	// The clone's userId too: the caller's strings may live in memory the
	// next invocation reuses.
	kept := item.Clone()
	m.items[kept.UserID] = kept
	return nil
}

// Item returns a copy of a stored item, or nil.
func (m *Memory) Item(userID string) *features.Item {
	m.mu.Lock()
	defer m.mu.Unlock()
	if it, ok := m.items[userID]; ok {
		return it.Clone()
	}
	return nil
}

// Len is the number of stored items.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

// Discard is a Store that stores nothing: every Load finds no items and
// every Save succeeds. The benchmark uses it to time the processor without
// a network.
type Discard struct{}

// Load implements Store.
func (Discard) Load(context.Context, []string) (map[string]*features.Item, error) { return nil, nil }

// Save implements Store.
func (Discard) Save(_ context.Context, item *features.Item) error {
	item.Version++
	return nil
}
