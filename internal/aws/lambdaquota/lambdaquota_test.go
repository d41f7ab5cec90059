package lambdaquota

import "testing"

// The quota is the number Lambda enforces, not the decimal 6 MB the quotas
// page might suggest: Invoke refuses a request with exactly this text.
func TestSyncInvocationPayloadIsWhatInvokeEnforces(t *testing.T) {
	if SyncInvocationPayloadBytes != 6291456 {
		t.Errorf("SyncInvocationPayloadBytes = %d, want 6291456 (6 MiB), the number in Invoke's RequestTooLargeException", SyncInvocationPayloadBytes)
	}
	const want = "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
	if RequestTooLargeMessage != want {
		t.Errorf("RequestTooLargeMessage = %q, want Lambda's %q", RequestTooLargeMessage, want)
	}
}
