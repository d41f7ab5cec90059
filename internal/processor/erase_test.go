package processor

import (
	"testing"
	"time"

	"github.com/streamfn/streamfn/internal/aws/store"
	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
	"github.com/streamfn/streamfn/internal/dev/eventgen"
)

// eraseAndReplay applies a batch, erases one of its users, replays the
// batch (as a redrive or a replay within the stream's retention would) and
// returns the erased user and the replay's outcome.
func eraseAndReplay(t *testing.T, st store.Store) (string, Outcome) {
	t.Helper()
	ctx := t.Context()
	b := batch(31, eventgen.BatchOptions{Records: 120})
	if _, err := newProcessor(st, &queue{}).Process(ctx, b.JSON()); err != nil {
		t.Fatal(err)
	}
	user := b.Records[0].Event.UserID
	existed, err := store.Erase(ctx, st, user, time.Now(), 0)
	if err != nil || !existed {
		t.Fatalf("Erase = %v, %v; want the user's item found and erased", existed, err)
	}
	out, err := newProcessor(st, &queue{}).Process(ctx, b.JSON())
	if err != nil {
		t.Fatal(err)
	}
	return user, out
}

func checkErased(t *testing.T, st store.Store, user string, out Outcome) {
	t.Helper()
	items, err := st.Load(t.Context(), []string{user})
	if err != nil {
		t.Fatal(err)
	}
	it := items[user]
	if it == nil || it.ErasedAt == 0 || it.EventCount != 0 || len(it.CategoryCounts) != 0 || len(it.RecentProducts) != 0 || len(it.Seen) != 0 {
		t.Fatalf("after erasure and a replay the item of %s is %+v; want only its suppression record", user, it)
	}
	if out.ErasureSuppressed == 0 || out.FailedSequenceNumber != "" {
		t.Fatalf("replay outcome %+v: want the erased user's records suppressed and nothing failed", out)
	}
}

// A replay after erasure does not recreate the user: the suppression
// record drops every record that was in the stream when the user was
// erased; the other users are untouched.
func TestReplayAfterErasureDoesNotRecreateTheUser(t *testing.T) {
	st := &store.Memory{}
	user, out := eraseAndReplay(t, st)
	checkErased(t, st, user, out)
	if out.Applied != 0 || out.DuplicatesSkipped+out.ReplaysSkipped+out.ErasureSuppressed < out.Valid {
		t.Errorf("replay %+v: want nothing applied again", out)
	}
}

// Events a user sends after the erasure count again, on top of the
// suppression record, which stays so that older replays stay suppressed.
func TestEventsAfterErasureApply(t *testing.T) {
	st := &store.Memory{}
	ctx := t.Context()
	erasedAt := time.Unix(1795694400-60, 0) // kinesisDoc's records arrive a minute later
	if _, err := store.Erase(ctx, st, "u1", erasedAt, 0); err != nil {
		t.Fatal(err)
	}
	doc := kinesisDoc(t, [][]byte{[]byte(`{"eventId":"e1","userId":"u1","type":"view","productId":"p","ts":"2026-11-26T12:00:00Z"}`)})
	out, err := newProcessor(st, &queue{}).Process(ctx, doc)
	if err != nil || out.Applied != 1 || out.ErasureSuppressed != 0 {
		t.Fatalf("%+v, %v: want the new event applied", out, err)
	}
	if it := st.Item("u1"); it.EventCount != 1 || it.ErasedAt != erasedAt.Unix() {
		t.Fatalf("item %+v: want the new event counted and the suppression record kept", it)
	}
}

// The same against dynalite, through the real DynamoDB client: the
// suppression record survives the store's encoding.
func TestReplayAfterErasureDynamoDB(t *testing.T) {
	ddb := emutest.StartAll(t, emulators.DynamoDB).DynamoDB
	if err := store.CreateTable(t.Context(), ddb, "features"); err != nil {
		t.Fatal(err)
	}
	st := store.NewDynamoDB(ddb, "features", "expiresAt")
	user, out := eraseAndReplay(t, st)
	checkErased(t, st, user, out)
}
