package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamfn/streamfn/internal/activity"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/features"
)

// sampleItem is an item with every attribute set.
func sampleItem(user string) *features.Item {
	it := features.NewItem(user)
	it.EventCount = 7
	it.TypeCounts = [4]int64{3, 2, 1, 1}
	it.CategoryCounts["shoes"] = 4
	it.CategoryCounts["books"] = 1
	at := time.Date(2026, 11, 26, 12, 0, 0, 123000000, time.UTC)
	it.LastEventAt = at
	it.RecentProducts = []features.RecentProduct{{ProductID: "p2", At: at}, {ProductID: "p1", At: at.Add(-time.Second)}}
	it.PurchaseTotal, _ = features.PurchaseAmount(19.99, 2)
	it.Marks["shardId-000000000000"] = features.Position{Sequence: "49590338271490256608559692538361571095921575989136588898", Sub: 3}
	it.Seen = []features.Seen{{Key: features.EventKeyOf("e1"), Arrival: 1795690000}, {Key: features.EventKeyOf("e2"), Arrival: 1795690001, Other: true}}
	it.NewestArrival, it.Floor, it.FloorOther = 1795690001, 1795680000, 1795600000
	it.ExpiresAt = 1795694400
	return it
}

func TestMarshalRoundTrip(t *testing.T) {
	in := sampleItem("user-1")
	in.Version = 4
	raw := marshalItem(in, in.Version, "expiresAt")
	// The contract's attributes, with their exact types.
	for attr, want := range map[string]any{
		AttrUserID: &types.AttributeValueMemberS{}, AttrEventCount: &types.AttributeValueMemberN{},
		AttrTypeCounts: &types.AttributeValueMemberM{}, AttrCategoryCounts: &types.AttributeValueMemberM{},
		AttrLastEventAt: &types.AttributeValueMemberS{}, AttrRecentProducts: &types.AttributeValueMemberL{},
		AttrPurchaseTotal: &types.AttributeValueMemberN{}, "expiresAt": &types.AttributeValueMemberN{},
	} {
		if reflect.TypeOf(raw[attr]) != reflect.TypeOf(want) {
			t.Errorf("%s is %T, want %T", attr, raw[attr], want)
		}
	}
	// The bookkeeping: one binary attribute each for the Seen set and the
	// products' times: 25 + 21 bytes per entry, and 12 per entry.
	if b, ok := raw[AttrSeenEvents].(*types.AttributeValueMemberB); !ok || len(b.Value) != 25+2*21 {
		t.Errorf("%s = %#v, want 67 bytes", AttrSeenEvents, raw[AttrSeenEvents])
	}
	if b, ok := raw[AttrRecentProductTimes].(*types.AttributeValueMemberB); !ok || len(b.Value) != 2*12 {
		t.Errorf("%s = %#v, want 24 bytes", AttrRecentProductTimes, raw[AttrRecentProductTimes])
	}
	if got := raw[AttrLastEventAt].(*types.AttributeValueMemberS).Value; got != "2026-11-26T12:00:00.123Z" {
		t.Errorf("lastEventAt = %s", got)
	}
	if got := raw[AttrPurchaseTotal].(*types.AttributeValueMemberN).Value; got != "39.98" {
		t.Errorf("purchaseTotal = %s", got)
	}
	if got := raw[AttrTypeCounts].(*types.AttributeValueMemberM).Value[activity.AddToCart.String()].(*types.AttributeValueMemberN).Value; got != "2" {
		t.Errorf("typeCounts.add_to_cart = %s", got)
	}
	out, err := unmarshalItem(raw, "expiresAt")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in  %+v\n out %+v", in, out)
	}
}

// Items written before the binary attributes (the eventIds themselves in
// recentEventIds, the times as strings in recentProductsAt) read as the
// same item, and their next write is in the new form.
func TestUnmarshalLegacyItem(t *testing.T) {
	want := sampleItem("user-1")
	want.Version = 3
	raw := marshalItem(want, want.Version, "expiresAt")
	// The old release kept eventIds without arrival times, and no floors.
	want.Seen = []features.Seen{{Key: features.EventKeyOf("e1")}, {Key: features.EventKeyOf("e2")}}
	want.NewestArrival, want.Floor, want.FloorOther, want.SeenIncomplete = 0, 0, 0, true
	delete(raw, AttrSeenEvents)
	delete(raw, AttrRecentProductTimes)
	raw[AttrLegacyRecentEventIDs] = &types.AttributeValueMemberL{Value: []types.AttributeValue{
		&types.AttributeValueMemberS{Value: "e1"}, &types.AttributeValueMemberS{Value: "e2"}}}
	raw[AttrLegacyRecentProductsAt] = &types.AttributeValueMemberL{Value: []types.AttributeValue{
		&types.AttributeValueMemberS{Value: "2026-11-26T12:00:00.123Z"}, &types.AttributeValueMemberS{Value: "2026-11-26T11:59:59.123Z"}}}
	got, err := unmarshalItem(raw, "expiresAt")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("legacy item:\n got  %+v\n want %+v", got, want)
	}
	rewritten := marshalItem(got, got.Version+1, "expiresAt")
	for _, legacy := range []string{AttrLegacyRecentEventIDs, AttrLegacyRecentProductsAt} {
		if _, ok := rewritten[legacy]; ok {
			t.Errorf("the next write still has %s", legacy)
		}
	}
}

func TestUnmarshalRejectsBadBookkeeping(t *testing.T) {
	for name, change := range map[string]func(map[string]types.AttributeValue){
		AttrLegacyRecentEventIDHashes: func(raw map[string]types.AttributeValue) {
			delete(raw, AttrSeenEvents)
			raw[AttrLegacyRecentEventIDHashes] = &types.AttributeValueMemberB{Value: make([]byte, 17)}
		},
		AttrSeenEvents: func(raw map[string]types.AttributeValue) {
			raw[AttrSeenEvents] = &types.AttributeValueMemberB{Value: make([]byte, 25+20)}
		},
		AttrSeenEvents + " format": func(raw map[string]types.AttributeValue) {
			raw[AttrSeenEvents] = &types.AttributeValueMemberB{Value: append([]byte{9}, make([]byte, 24)...)}
		},
		AttrRecentProductTimes: func(raw map[string]types.AttributeValue) {
			raw[AttrRecentProductTimes] = &types.AttributeValueMemberB{Value: make([]byte, 12)} // 1 time, 2 products
		},
		AttrRecentProductTimes + " type": func(raw map[string]types.AttributeValue) {
			raw[AttrRecentProductTimes] = &types.AttributeValueMemberS{Value: "x"}
		},
	} {
		raw := marshalItem(sampleItem("u"), 1, "expiresAt")
		change(raw)
		_, err := unmarshalItem(raw, "expiresAt")
		attr, _, _ := strings.Cut(name, " ")
		if err == nil || !strings.Contains(err.Error(), attr) {
			t.Errorf("%s: error = %v; want one naming %s", name, err, attr)
		}
	}
}

func TestUnmarshalNamesBadAttribute(t *testing.T) {
	raw := marshalItem(sampleItem("u"), 1, "expiresAt")
	raw[AttrEventCount] = &types.AttributeValueMemberS{Value: "7"}
	_, err := unmarshalItem(raw, "expiresAt")
	if err == nil || !strings.Contains(err.Error(), "eventCount") || !strings.Contains(err.Error(), `"u"`) {
		t.Fatalf("error = %v; want one naming the user and eventCount", err)
	}
}

func TestMemory(t *testing.T) {
	var m Memory
	ctx := t.Context()
	it := sampleItem("u")
	if err := m.Save(ctx, it); err != nil || it.Version != 1 {
		t.Fatalf("Save = %v, version %d", err, it.Version)
	}
	stale := sampleItem("u") // version 0, but an item exists
	if err := m.Save(ctx, stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("Save over an existing item = %v, want ErrConflict", err)
	}
	got, _ := m.Load(ctx, []string{"u", "absent"})
	if len(got) != 1 || got["u"].Version != 1 {
		t.Fatalf("Load = %v", got)
	}
	got["u"].EventCount = 999
	if m.Item("u").EventCount == 999 {
		t.Fatal("Load must return copies")
	}
}

// fakeDynamoDB answers BatchGetItem with the keys it is told to leave
// unprocessed, a number of times.
type fakeDynamoDB struct {
	DynamoDBAPI
	unprocessedRounds int
	calls             int
	corrupt           string // a user whose stored item another tool wrote
}

func (f *fakeDynamoDB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.calls++
	out := &dynamodb.BatchGetItemOutput{}
	for table, ka := range in.RequestItems {
		if f.calls <= f.unprocessedRounds { // throttled: the first key only
			out.UnprocessedKeys = map[string]types.KeysAndAttributes{table: {Keys: ka.Keys[1:]}}
			ka.Keys = ka.Keys[:1]
			if len(out.UnprocessedKeys[table].Keys) == 0 { // nothing at all
				out.UnprocessedKeys[table] = types.KeysAndAttributes{Keys: ka.Keys}
				ka.Keys = nil
			}
		}
		for _, k := range ka.Keys {
			id := k[AttrUserID].(*types.AttributeValueMemberS).Value
			item := marshalItem(sampleItem(id), 1, "expiresAt")
			if id == f.corrupt {
				item[AttrPurchaseTotal] = &types.AttributeValueMemberS{Value: "12.50"}
			}
			out.Responses = map[string][]map[string]types.AttributeValue{table: append(out.Responses[table], item)}
		}
	}
	return out, nil
}

func TestLoadRetriesUnprocessedKeys(t *testing.T) {
	fake := &fakeDynamoDB{unprocessedRounds: 2}
	d := NewDynamoDB(fake, "features", "expiresAt")
	d.UnprocessedBackoff = time.Millisecond
	got, err := d.Load(t.Context(), []string{"a", "b", "c", "d"})
	if err != nil || len(got) != 4 || fake.calls != 3 {
		t.Fatalf("Load = %d items, %v after %d calls; want 4 items after 3 calls", len(got), err, fake.calls)
	}
	if d.UnprocessedAttempts != 6 {
		t.Fatalf("default attempts %d", d.UnprocessedAttempts)
	}
	fake = &fakeDynamoDB{unprocessedRounds: 100}
	d = NewDynamoDB(fake, "features", "expiresAt")
	d.UnprocessedBackoff = time.Millisecond
	if _, err := d.Load(t.Context(), []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "unprocessed") {
		t.Fatalf("error = %v; want one saying keys stayed unprocessed", err)
	}
}

// TestDynamoDB runs the store against dynalite.
func TestDynamoDB(t *testing.T) {
	ctx := t.Context()
	client := emutest.StartAll(t, emulators.DynamoDB).DynamoDB
	if err := CreateTable(ctx, client, "features"); err != nil {
		t.Fatal(err)
	}
	d := NewDynamoDB(client, "features", "expiresAt")

	var users []string
	for i := range 130 { // more than one BatchGetItem's worth
		users = append(users, fmt.Sprintf("user-%03d", i))
	}
	found, err := d.Load(ctx, users[:100])
	if err != nil || len(found) != 0 {
		t.Fatalf("Load of an empty table = %v, %v", found, err)
	}
	for _, u := range users {
		if err := d.Save(ctx, sampleItem(u)); err != nil {
			t.Fatalf("Save %s: %v", u, err)
		}
	}
	found, err = d.Load(ctx, users[30:130])
	if err != nil || len(found) != 100 {
		t.Fatalf("Load = %d items, %v", len(found), err)
	}
	want := sampleItem("user-042")
	want.Version = 1
	// Load and Save say what DynamoDB bills: the item's size.
	want.Bytes = attributesBytes(marshalItem(want, 1, "expiresAt"))
	if want.Bytes < 400 || want.Bytes > 600 {
		t.Fatalf("sample item of %d bytes: the size rule is off", want.Bytes)
	}
	if got := found["user-042"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("stored item:\n got  %+v\n want %+v", got, want)
	}
	// Optimistic locking: a stale version loses, a current one wins.
	current := found["user-042"]
	stale := current.Clone()
	current.EventCount++
	if err := d.Save(ctx, current); err != nil || current.Version != 2 || current.Bytes != want.Bytes {
		t.Fatalf("Save = %v, version %d", err, current.Version)
	}
	stale.EventCount += 5
	if err := d.Save(ctx, stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("Save of a stale item = %v, want ErrConflict", err)
	}
	if err := d.Save(ctx, sampleItem("user-042")); !errors.Is(err, ErrConflict) {
		t.Fatalf("Save of a new item over a stored one = %v, want ErrConflict", err)
	}
	// The TTL attribute is a number of epoch seconds.
	raw, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("features"),
		Key: map[string]types.AttributeValue{AttrUserID: &types.AttributeValueMemberS{Value: "user-001"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ttl, ok := raw.Item["expiresAt"].(*types.AttributeValueMemberN); !ok || ttl.Value != "1795694400" {
		t.Fatalf("expiresAt = %#v", raw.Item["expiresAt"])
	}
}

// An item that cannot be decoded fails its user alone: Load returns the
// other users' items with an *UnreadableError naming only that user.
func TestLoadIsolatesAnUnreadableItem(t *testing.T) {
	fake := &fakeDynamoDB{corrupt: "c"}
	d := NewDynamoDB(fake, "features", "expiresAt")
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = string(rune('a'+i%26)) + strconv.Itoa(i)
	}
	ids[2] = "c"
	got, err := d.Load(t.Context(), ids)
	var unreadable *UnreadableError
	if !errors.As(err, &unreadable) || len(unreadable.Users) != 1 || unreadable.For("c") == nil || unreadable.For(ids[0]) != nil {
		t.Fatalf("error = %v; want an *UnreadableError naming user c only", err)
	}
	if len(got) != 99 || got["c"] != nil {
		t.Fatalf("Load returned %d items; want the 99 readable ones", len(got))
	}
	if msg := unreadable.For("c").Error(); !strings.Contains(msg, `user "c"`) || !strings.Contains(msg, AttrPurchaseTotal) || !strings.Contains(msg, "delete-item") {
		t.Errorf("error %q should name the user, the attribute and the fix", msg)
	}
}
