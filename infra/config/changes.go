package config

// ChangeKind says what changing a key does to a running stack.
type ChangeKind string

const (
	// InPlace keys are applied by an update of the existing resources.
	InPlace ChangeKind = "in place"
	// Replaces keys create a new resource and delete the old one.
	Replaces ChangeKind = "replaces"
	// Steps keys need more than one `pulumi up`, or something done by hand first.
	Steps ChangeKind = "steps"
)

// Change is what changing one key does, for the README's "Changing a running stack".
type Change struct {
	Kind ChangeKind
	What string
}

// Changes covers every key Load reads; a test holds it and the README's table equal.
var Changes = map[string]Change{
	RegionKey: {Replaces, "every resource is created anew in the other region and the old ones deleted, records and features included; refused while `protectData` is true"},

	Key("streamMode"):       {InPlace, "UpdateStreamMode; Kinesis allows two switches per stream in 24 hours. Going to PROVISIONED also checks `shardCount` against the stream's open shards"},
	Key("shardCount"):       {Steps, "UpdateShardCount takes at most double or half the open shards per call and 10 calls per 24 h; preview refuses a bigger step and lists the runs (1 → 8 is 2, 4, 8)"},
	Key("retentionHours"):   {InPlace, "raising is immediate; lowering drops records older than the new period"},
	Key("kmsKeyId"):         {Steps, "records keep the key that wrote them until they expire, so moving away from a customer key needs it in `retiredKmsKeyIds` for `retentionHours`; preview refuses the change otherwise and gives the command"},
	Key("retiredKmsKeyIds"): {InPlace, "the processor's policy gains or loses kms:Decrypt on the keys"},
	Key("protectData"):      {InPlace, "Pulumi's protect flag and DynamoDB deletion protection; set false and `pulumi up` before destroying on purpose"},

	Key("batchSize"):                 {InPlace, "UpdateEventSourceMapping; the read position is kept"},
	Key("batchWindowSeconds"):        {InPlace, "UpdateEventSourceMapping"},
	Key("parallelizationFactor"):     {InPlace, "UpdateEventSourceMapping; keep `processorConcurrency` at shards × factor or more"},
	Key("startingPosition"):          {Replaces, "the mapping is deleted, then created again (delete-before-replace); the new one starts at the new position, not where the old one stopped"},
	Key("startingPositionTimestamp"): {Replaces, "as `startingPosition`: the new mapping starts at the new time"},
	Key("maxRetryAttempts"):          {InPlace, "UpdateEventSourceMapping"},
	Key("maxRecordAgeSeconds"):       {InPlace, "UpdateEventSourceMapping"},
	Key("bisectOnError"):             {InPlace, "UpdateEventSourceMapping"},
	Key("failureDestination"):        {InPlace, "UpdateEventSourceMapping; batches given up before the change stay where they went (replay them first: make redrive)"},
	Key("failureRetentionDays"):      {InPlace, "the bucket's lifecycle rule; objects already there follow the new rule"},
	Key("tumblingWindowSeconds"):     {InPlace, "UpdateEventSourceMapping"},
	Key("mappingEnabled"):            {InPlace, "UpdateEventSourceMapping; false pauses reading and keeps the position"},
	Key("mappingMetrics"):            {InPlace, "UpdateEventSourceMapping (metricsConfig); the dashboard follows"},
	Key("consumer"):                  {Replaces, "the mapping's source changes between the stream and the consumer, so the mapping is deleted and created again at `startingPosition`; the consumer is registered or deregistered"},
	Key("mappingFilters"):            {InPlace, "UpdateEventSourceMapping (filterCriteria); records written while a filter drops them are not read again"},
	Key("mappingFilterQuota"):        {InPlace, "only checks `mappingFilters`"},

	Key("processorMemoryMb"):       {InPlace, "UpdateFunctionConfiguration"},
	Key("processorTimeoutSeconds"): {InPlace, "UpdateFunctionConfiguration"},
	Key("processorConcurrency"):    {InPlace, "PutFunctionConcurrency; the account must have the quota (the plan prints how much)"},
	Key("featureTtlDays"):          {InPlace, "new writes get the new expiry; items keep the expiry of their last write"},
	Key("dedupHorizonSeconds"):     {InPlace, "the processor's environment; each item keeps the eventIds of the new span from its next write on"},

	Key("ingestMemoryMb"):               {InPlace, "UpdateFunctionConfiguration; with provisioned concurrency a new version is published"},
	Key("ingestTimeoutSeconds"):         {InPlace, "UpdateFunctionConfiguration"},
	Key("ingestConcurrency"):            {InPlace, "PutFunctionConcurrency; the account must have the quota (the plan prints how much)"},
	Key("ingestProvisionedConcurrency"): {Steps, "change it in an `up` of its own, not with new code: Lambda re-allocates the alias for a new version and answers 409 to a concurrent PutProvisionedConcurrencyConfig. Between 0 and more, the URL moves to or from the `live` alias and gets a new address"},
	Key("poisonRetentionDays"):          {InPlace, "SetQueueAttributes (MessageRetentionPeriod); messages already in the queue follow the new period"},
	Key("ingestAuth"):                   {InPlace, "UpdateFunctionUrlConfig; the public permission is added or removed"},
	Key("ingestThrottleRetryMs"):        {InPlace, "UpdateFunctionConfiguration (ingest's environment)"},

	Key("architecture"):     {InPlace, "both functions are rebuilt and their code and architecture updated"},
	Key("logRetentionDays"): {InPlace, "PutRetentionPolicy"},
	Key("logLevel"):         {InPlace, "UpdateFunctionConfiguration; metrics keep flowing at every level"},
	Key("systemLogLevel"):   {InPlace, "UpdateFunctionConfiguration"},
	Key("metricsNamespace"): {InPlace, "new metrics go to the new namespace; the dashboard follows, old data stays in the old one"},

	Key("iteratorAgeAlarmSeconds"): {InPlace, "PutMetricAlarm"},
	Key("alarmEmail"):              {InPlace, "the subscription is replaced; the new address must confirm AWS's e-mail"},
	Key("tags"):                    {InPlace, "tags are updated on every resource"},
}
