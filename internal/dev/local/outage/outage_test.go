package outage

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamfn/streamfn/internal/dev/emulators"
	"github.com/streamfn/streamfn/internal/dev/emulators/emutest"
)

// Through the proxy, the SDK's writes fail with DynamoDB's
// InternalServerError while the outage lasts and pass before and after
// it; reads always pass.
func TestWritesFailOnlyDuringTheOutage(t *testing.T) {
	srv := emutest.Start(t, emulators.DynamoDB)
	ctx := t.Context()
	p, err := Start(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	cfg := emutest.Config(srv)
	cfg.BaseEndpoint = aws.String(p.Endpoint())
	cfg.RetryMaxAttempts = 1
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("table"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
	}); err != nil {
		t.Fatal(err)
	}
	put := func(k string) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("table"), Item: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: k}}})
		return err
	}
	if err := put("before"); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	p.Set(time.Now(), 300*time.Millisecond)
	err = put("during")
	if err == nil || !strings.Contains(err.Error(), "InternalServerError") {
		t.Fatalf("during the outage: %v, want InternalServerError", err)
	}
	if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("table"), Key: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "before"}}}); err != nil {
		t.Fatalf("a read during the outage: %v", err)
	}
	if p.Refused() != 1 {
		t.Fatalf("refused %d writes, want 1", p.Refused())
	}
	time.Sleep(350 * time.Millisecond)
	if err := put("after"); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}
