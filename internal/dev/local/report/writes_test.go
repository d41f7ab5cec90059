package report

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProcessorWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "processor.log")
	log := `START RequestId: 1 Version: $LATEST
{"time":"x","level":"INFO","msg":"batch processed","writes":3}
{"FunctionName":"p","Valid":100,"Writes":40,"WriteUnits":80,"ItemBytes":82000,"_aws":{"Timestamp":1}}
{"FunctionName":"p","Valid":50,"Writes":20,"WriteUnits":40,"ItemBytes":38000,"_aws":{"Timestamp":2}}
{"FunctionName":"ingest","Accepted":5,"_aws":{"Timestamp":3}}
not json "_aws" "Writes"
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := ProcessorWrites(path)
	if err != nil {
		t.Fatal(err)
	}
	if w.Invocations != 2 || w.Events != 150 || w.Writes != 60 || w.WriteUnits != 120 || w.WritesPerEvent != 0.4 || w.MeanItemBytes != 2000 {
		t.Errorf("writes = %+v", w)
	}
}
