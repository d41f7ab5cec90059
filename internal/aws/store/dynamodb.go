package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/features"
)

// Attribute names. The first group is the contract other tools read; the
// second is the processor's own bookkeeping.
const (
	AttrUserID         = "userId"         // S, the hash key
	AttrEventCount     = "eventCount"     // N
	AttrTypeCounts     = "typeCounts"     // M of N, keyed by type spelling
	AttrCategoryCounts = "categoryCounts" // M of N
	AttrLastEventAt    = "lastEventAt"    // S, RFC 3339 UTC
	AttrRecentProducts = "recentProducts" // L of S, newest first
	AttrPurchaseTotal  = "purchaseTotal"  // N, exact decimal

	AttrRecentProductTimes = "recentProductTimes" // B: the ts of each recentProducts entry, 12 bytes each
	AttrSequenceMarks      = "sequenceMarks"      // M of S: shard id -> "<sequence number>/<sub-index>"
	AttrSeenEvents         = "seenEvents"         // B: the Seen set and its floors (seenEventsHeader, then seenEntryBytes per entry)
	AttrVersion            = "version"            // N, the optimistic lock
	AttrErasedAt           = "erasedAt"           // N, Unix seconds: the suppression record of an erasure

	// What items written before the binary attributes held instead. They
	// are still read, and the item's next write replaces them.
	AttrLegacyRecentProductsAt = "recentProductsAt" // L of S, RFC 3339
	AttrLegacyRecentEventIDs   = "recentEventIds"   // L of S, the eventIds themselves
	// Items written before arrival times were kept hold the last 64
	// eventIds' keys here (16 bytes each) instead of AttrSeenEvents.
	AttrLegacyRecentEventIDHashes = "recentEventIdHashes"
)

// The seenEvents attribute: a format byte (1), then NewestArrival, Floor
// and FloorOther (int64 Unix seconds, big-endian), then per entry its
// arrival (uint32 Unix seconds: good until 2106), a flags byte (bit 0:
// Other) and the 16-byte key. About 21 bytes per event.
const (
	seenFormat       = 1
	seenEventsHeader = 1 + 3*8
	seenEntryBytes   = 4 + 1 + 16
)

// productTimeBytes is the size of one recentProductTimes entry: the Unix
// seconds (int64) and the nanoseconds (uint32), big-endian. One binary
// attribute instead of a list of strings keeps the item small and cheap to
// write: an attribute value costs DynamoDB (and every SDK and stand-in on
// the way) more than its bytes.
const productTimeBytes = 12

// DynamoDBAPI is the part of the DynamoDB client the store uses.
type DynamoDBAPI interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// DynamoDB stores items in a DynamoDB table whose hash key is userId (S).
type DynamoDB struct {
	client       DynamoDBAPI
	table        string
	ttlAttribute string
	// UnprocessedAttempts bounds BatchGetItem calls for one Load when
	// DynamoDB keeps returning UnprocessedKeys (throttling).
	UnprocessedAttempts int
	// UnprocessedBackoff is the first wait before retrying unprocessed
	// keys; it doubles each time.
	UnprocessedBackoff time.Duration
}

// NewDynamoDB returns a store for table. ttlAttribute names the table's TTL
// attribute (the item's ExpiresAt is written there when non-zero).
func NewDynamoDB(client DynamoDBAPI, table, ttlAttribute string) *DynamoDB {
	return &DynamoDB{client: client, table: table, ttlAttribute: ttlAttribute, UnprocessedAttempts: 6, UnprocessedBackoff: 50 * time.Millisecond}
}

// Load implements Store with BatchGetItem, retrying unprocessed keys with
// exponential backoff.
func (d *DynamoDB) Load(ctx context.Context, userIDs []string) (map[string]*features.Item, error) {
	if len(userIDs) > MaxLoadKeys {
		return nil, fmt.Errorf("loading %d users: at most %d per call", len(userIDs), MaxLoadKeys)
	}
	out := make(map[string]*features.Item, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	keys := make([]map[string]types.AttributeValue, len(userIDs))
	for i, id := range userIDs {
		keys[i] = map[string]types.AttributeValue{AttrUserID: &types.AttributeValueMemberS{Value: id}}
	}
	request := map[string]types.KeysAndAttributes{d.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	wait := d.UnprocessedBackoff
	var unreadable *UnreadableError
	for attempt := 1; ; attempt++ {
		res, err := d.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
		if err != nil {
			return nil, fmt.Errorf("reading %d items from table %s: %w", len(userIDs), d.table, err)
		}
		for _, raw := range res.Responses[d.table] {
			item, err := unmarshalItem(raw, d.ttlAttribute)
			if err != nil {
				id, isS := raw[AttrUserID].(*types.AttributeValueMemberS)
				if !isS {
					// BatchGetItem returns items by their key: cannot happen.
					return nil, fmt.Errorf("table %s: an item without a string userId key: %w", d.table, err)
				}
				if unreadable == nil {
					unreadable = &UnreadableError{Table: d.table, Users: map[string]error{}}
				}
				unreadable.Users[id.Value] = err
				continue
			}
			item.Bytes = attributesBytes(raw)
			out[item.UserID] = item
		}
		left, ok := res.UnprocessedKeys[d.table]
		if !ok || len(left.Keys) == 0 {
			if unreadable != nil {
				return out, unreadable
			}
			return out, nil
		}
		if attempt >= d.UnprocessedAttempts {
			return nil, fmt.Errorf("reading items from table %s: %d of %d keys still unprocessed after %d attempts (throttled)",
				d.table, len(left.Keys), len(userIDs), attempt)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("reading items from table %s: %w", d.table, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
		request = map[string]types.KeysAndAttributes{d.table: left}
	}
}

// Save implements Store with a conditional PutItem.
func (d *DynamoDB) Save(ctx context.Context, item *features.Item) error {
	in := &dynamodb.PutItemInput{
		TableName: aws.String(d.table),
		Item:      marshalItem(item, item.Version+1, d.ttlAttribute),
	}
	item.Bytes = attributesBytes(in.Item)
	if item.Bytes > MaxItemBytes {
		// features.MaxSeen and MaxCategories keep items far below this;
		// never send a write DynamoDB would refuse for every retry.
		return fmt.Errorf("item of user %q would be %d bytes, over DynamoDB's %d-byte limit", item.UserID, item.Bytes, MaxItemBytes)
	}
	if item.Version == 0 {
		// No item, or one no processor wrote: either way nothing to lose.
		in.ConditionExpression = aws.String("attribute_not_exists(#version)")
		in.ExpressionAttributeNames = map[string]string{"#version": AttrVersion}
	} else {
		in.ConditionExpression = aws.String("#version = :version")
		in.ExpressionAttributeNames = map[string]string{"#version": AttrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":version": number(item.Version)}
	}
	_, err := d.client.PutItem(ctx, in)
	var conflict *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &conflict):
		return ErrConflict
	case err != nil:
		return fmt.Errorf("writing item of user %q to table %s: %w", item.UserID, d.table, err)
	}
	item.Version++
	return nil
}

// Overwrite writes item unconditionally, at version 1: for the erasure of
// an item the processor cannot read (store.Erase).
func (d *DynamoDB) Overwrite(ctx context.Context, item *features.Item) error {
	_, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(d.table), Item: marshalItem(item, 1, d.ttlAttribute)})
	if err != nil {
		return fmt.Errorf("writing item of user %q to table %s: %w", item.UserID, d.table, err)
	}
	item.Version = 1
	return nil
}

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// marshalItem is the item as DynamoDB stores it, with version as given.
func marshalItem(it *features.Item, version int64, ttlAttribute string) map[string]types.AttributeValue {
	typeCounts := map[string]types.AttributeValue{}
	for _, t := range activity.Types {
		if n := it.TypeCount(t); n > 0 {
			typeCounts[t.String()] = number(n)
		}
	}
	categories := make(map[string]types.AttributeValue, len(it.CategoryCounts))
	for c, n := range it.CategoryCounts {
		categories[c] = number(n)
	}
	products := make([]types.AttributeValue, len(it.RecentProducts))
	productTimes := make([]byte, 0, productTimeBytes*len(it.RecentProducts))
	for i, p := range it.RecentProducts {
		products[i] = str(p.ProductID)
		productTimes = binary.BigEndian.AppendUint64(productTimes, uint64(p.At.Unix()))
		productTimes = binary.BigEndian.AppendUint32(productTimes, uint32(p.At.Nanosecond()))
	}
	marks := make(map[string]types.AttributeValue, len(it.Marks))
	for shard, pos := range it.Marks {
		marks[shard] = str(pos.Sequence + "/" + strconv.Itoa(pos.Sub))
	}
	seen := make([]byte, 0, seenEventsHeader+seenEntryBytes*len(it.Seen))
	seen = append(seen, seenFormat)
	seen = binary.BigEndian.AppendUint64(seen, uint64(it.NewestArrival))
	seen = binary.BigEndian.AppendUint64(seen, uint64(it.Floor))
	seen = binary.BigEndian.AppendUint64(seen, uint64(it.FloorOther))
	for _, e := range it.Seen {
		seen = binary.BigEndian.AppendUint32(seen, uint32(e.Arrival))
		var flags byte
		if e.Other {
			flags = 1
		}
		seen = append(seen, flags)
		seen = append(seen, e.Key[:]...)
	}
	out := map[string]types.AttributeValue{
		AttrUserID:             str(it.UserID),
		AttrEventCount:         number(it.EventCount),
		AttrTypeCounts:         &types.AttributeValueMemberM{Value: typeCounts},
		AttrCategoryCounts:     &types.AttributeValueMemberM{Value: categories},
		AttrRecentProducts:     &types.AttributeValueMemberL{Value: products},
		AttrPurchaseTotal:      &types.AttributeValueMemberN{Value: it.PurchaseTotal.String()},
		AttrRecentProductTimes: &types.AttributeValueMemberB{Value: productTimes},
		AttrSequenceMarks:      &types.AttributeValueMemberM{Value: marks},
		AttrSeenEvents:         &types.AttributeValueMemberB{Value: seen},
		AttrVersion:            number(version),
	}
	if !it.LastEventAt.IsZero() {
		out[AttrLastEventAt] = str(formatTime(it.LastEventAt))
	}
	if it.ExpiresAt > 0 && ttlAttribute != "" {
		out[ttlAttribute] = number(it.ExpiresAt)
	}
	if it.ErasedAt > 0 {
		out[AttrErasedAt] = number(it.ErasedAt)
	}
	return out
}

// itemReader decodes attributes, remembering the first problem.
type itemReader struct {
	raw    map[string]types.AttributeValue
	userID string
	err    error
}

func (r *itemReader) fail(attr, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("item of user %q: attribute %s: %s", r.userID, attr, fmt.Sprintf(format, args...))
	}
}

func (r *itemReader) s(attr string, v types.AttributeValue) string {
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		r.fail(attr, "want a string (S), got %T", v)
		return ""
	}
	return s.Value
}

func (r *itemReader) n(attr string, v types.AttributeValue) int64 {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		r.fail(attr, "want a number (N), got %T", v)
		return 0
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		r.fail(attr, "%q is not a whole number", n.Value)
	}
	return i
}

func (r *itemReader) m(attr string) map[string]types.AttributeValue {
	v, ok := r.raw[attr]
	if !ok {
		return nil
	}
	m, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		r.fail(attr, "want a map (M), got %T", v)
		return nil
	}
	return m.Value
}

func (r *itemReader) l(attr string) []types.AttributeValue {
	v, ok := r.raw[attr]
	if !ok {
		return nil
	}
	l, ok := v.(*types.AttributeValueMemberL)
	if !ok {
		r.fail(attr, "want a list (L), got %T", v)
		return nil
	}
	return l.Value
}

// b reads a binary attribute whose length is a multiple of unit; found is
// false when the item does not have it.
func (r *itemReader) b(attr string, unit int) (value []byte, found bool) {
	v, ok := r.raw[attr]
	if !ok {
		return nil, false
	}
	b, ok := v.(*types.AttributeValueMemberB)
	if !ok {
		r.fail(attr, "want binary (B), got %T", v)
		return nil, true
	}
	if len(b.Value)%unit != 0 {
		r.fail(attr, "holds %d bytes, not a whole number of %d-byte entries", len(b.Value), unit)
		return nil, true
	}
	return b.Value, true
}

func (r *itemReader) time(attr string, v types.AttributeValue) time.Time {
	s := r.s(attr, v)
	if r.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		r.fail(attr, "%q is not an RFC 3339 time", s)
	}
	return t
}

// unmarshalItem reads an item written by marshalItem. Any attribute of the
// wrong type is an error naming it: the processor must not overwrite an
// item it cannot read.
func unmarshalItem(raw map[string]types.AttributeValue, ttlAttribute string) (*features.Item, error) {
	r := &itemReader{raw: raw}
	idValue, ok := raw[AttrUserID]
	if !ok {
		return nil, errors.New("an item has no userId")
	}
	r.userID = r.s(AttrUserID, idValue)
	it := features.NewItem(r.userID)
	if v, ok := raw[AttrEventCount]; ok {
		it.EventCount = r.n(AttrEventCount, v)
	}
	for name, v := range r.m(AttrTypeCounts) {
		t := activity.ParseType(name)
		if t == activity.TypeInvalid {
			r.fail(AttrTypeCounts, "unknown type %q", name)
			continue
		}
		it.TypeCounts[t-1] = r.n(AttrTypeCounts+"."+name, v)
	}
	for c, v := range r.m(AttrCategoryCounts) {
		it.CategoryCounts[c] = r.n(AttrCategoryCounts+"."+c, v)
	}
	if v, ok := raw[AttrLastEventAt]; ok {
		it.LastEventAt = r.time(AttrLastEventAt, v)
	}
	it.RecentProducts = r.recentProducts()
	if v, ok := raw[AttrPurchaseTotal]; ok {
		n, isN := v.(*types.AttributeValueMemberN)
		if !isN {
			r.fail(AttrPurchaseTotal, "want a number (N), got %T", v)
		} else if total, err := features.ParseAmount(n.Value); err != nil {
			r.fail(AttrPurchaseTotal, "%v", err)
		} else {
			it.PurchaseTotal = total
		}
	}
	for shard, v := range r.m(AttrSequenceMarks) {
		mark := r.s(AttrSequenceMarks+"."+shard, v)
		seq, sub, found := strings.Cut(mark, "/")
		n, err := strconv.Atoi(sub)
		if !found || err != nil || seq == "" {
			r.fail(AttrSequenceMarks, "%q is not <sequence number>/<sub-index>", mark)
			continue
		}
		it.Marks[shard] = features.Position{Sequence: seq, Sub: n}
	}
	r.seen(it)
	if v, ok := raw[AttrVersion]; ok {
		it.Version = r.n(AttrVersion, v)
	}
	if v, ok := raw[ttlAttribute]; ok && ttlAttribute != "" {
		it.ExpiresAt = r.n(ttlAttribute, v)
	}
	if v, ok := raw[AttrErasedAt]; ok {
		it.ErasedAt = r.n(AttrErasedAt, v)
	}
	if r.err != nil {
		return nil, r.err
	}
	return it, nil
}

// seen reads the Seen set from seenEvents or, in an item written before
// it, the last eventIds' keys without arrival times (SeenIncomplete).
func (r *itemReader) seen(it *features.Item) {
	if v, found := r.raw[AttrSeenEvents]; found {
		b, ok := v.(*types.AttributeValueMemberB)
		switch {
		case !ok:
			r.fail(AttrSeenEvents, "want binary (B), got %T", v)
			return
		case len(b.Value) < seenEventsHeader || b.Value[0] != seenFormat || (len(b.Value)-seenEventsHeader)%seenEntryBytes != 0:
			r.fail(AttrSeenEvents, "holds %d bytes: not format %d (a %d-byte header, then %d-byte entries)",
				len(b.Value), seenFormat, seenEventsHeader, seenEntryBytes)
			return
		}
		data := b.Value[1:]
		it.NewestArrival = int64(binary.BigEndian.Uint64(data))
		it.Floor = int64(binary.BigEndian.Uint64(data[8:]))
		it.FloorOther = int64(binary.BigEndian.Uint64(data[16:]))
		data = data[24:]
		it.Seen = make([]features.Seen, 0, len(data)/seenEntryBytes)
		for ; len(data) > 0; data = data[seenEntryBytes:] {
			it.Seen = append(it.Seen, features.Seen{
				Arrival: int64(binary.BigEndian.Uint32(data)),
				Other:   data[4]&1 != 0,
				Key:     features.EventKey(data[5:]),
			})
		}
		return
	}
	it.SeenIncomplete = true
	if keys, found := r.b(AttrLegacyRecentEventIDHashes, len(features.EventKey{})); found {
		for ; len(keys) > 0; keys = keys[len(features.EventKey{}):] {
			it.Seen = append(it.Seen, features.Seen{Key: features.EventKey(keys)})
		}
		return
	}
	for _, v := range r.l(AttrLegacyRecentEventIDs) {
		it.Seen = append(it.Seen, features.Seen{Key: features.EventKeyOf(r.s(AttrLegacyRecentEventIDs, v))})
	}
}

// recentProducts pairs recentProducts with their times, from
// recentProductTimes or, in an item written before it, recentProductsAt.
func (r *itemReader) recentProducts() []features.RecentProduct {
	products := r.l(AttrRecentProducts)
	var out []features.RecentProduct
	if times, found := r.b(AttrRecentProductTimes, productTimeBytes); found {
		if len(times) != productTimeBytes*len(products) {
			r.fail(AttrRecentProductTimes, "holds %d times for %d recentProducts", len(times)/productTimeBytes, len(products))
			return nil
		}
		for i, p := range products {
			entry := times[productTimeBytes*i:]
			at := time.Unix(int64(binary.BigEndian.Uint64(entry)), int64(binary.BigEndian.Uint32(entry[8:]))).UTC()
			out = append(out, features.RecentProduct{ProductID: r.s(AttrRecentProducts, p), At: at})
		}
		return out
	}
	times := r.l(AttrLegacyRecentProductsAt)
	if len(products) != len(times) {
		r.fail(AttrRecentProductTimes, "missing: %s has %d times for %d recentProducts", AttrLegacyRecentProductsAt, len(times), len(products))
		return nil
	}
	for i := range products {
		out = append(out, features.RecentProduct{
			ProductID: r.s(AttrRecentProducts, products[i]), At: r.time(AttrLegacyRecentProductsAt, times[i]),
		})
	}
	return out
}
