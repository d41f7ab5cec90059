package store

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamfn/streamfn/internal/features"
)

// MaxItemBytes is DynamoDB's item size limit, names and values together.
const MaxItemBytes = 400 * 1024

// ItemBytes is the size of a user's item as DynamoDB counts it against the
// 400 KB limit and bills writes: a write costs one write unit per started
// KB (WriteUnits).
func ItemBytes(it *features.Item, ttlAttribute string) int {
	return attributesBytes(marshalItem(it, it.Version+1, ttlAttribute))
}

// WriteUnits is what one standard write of an item of n bytes costs.
func WriteUnits(n int) int { return max(1, (n+1023)/1024) }

// attributesBytes follows "Item sizes and formats"
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
// each attribute's name plus its value; a string is its UTF-8 bytes, a
// binary its bytes, a number about one byte per two significant digits plus
// one, a map or list 3 bytes plus one per element plus the elements.
func attributesBytes(attrs map[string]types.AttributeValue) int {
	n := 0
	for name, v := range attrs {
		n += len(name) + valueBytes(v)
	}
	return n
}

func valueBytes(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(v.Value), "0")
		return (len(digits)+1)/2 + 1
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		n := 3
		for name, e := range v.Value {
			n += 1 + len(name) + valueBytes(e)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueBytes(e)
		}
		return n
	}
	return 0
}
