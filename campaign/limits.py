"""Every documented limit, defined once. The README's "Limits" table quotes these values."""

# Lambda's synchronous invoke payload is 6,291,456 bytes; API Gateway base64-encodes a multipart body
# (x 4/3) and wraps it in a JSON event with headers. 4,500,000 raw bytes encode to 6,000,000, which
# leaves about 290 kB for the event envelope and the multipart framing.
MAX_UPLOAD_BYTES = 4_500_000
# Data rows per direct upload. Parsing and validating 50,000 rows takes ~1.6 s on one core here (~3 s
# at the ingestor's 1024 MB), and queueing them ~13 s at AWS latencies with INGEST_CONCURRENCY steps in
# flight: inside API Gateway's 30 s with room to spare. A 4.5 MB file of very short rows could hold
# ~90,000, which would not be.
MAX_UPLOAD_ROWS = 50_000

# The whole multipart request may carry a little framing on top of the file itself.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024

MAX_SUBJECT_CHARS = 200
# A practical cap for one email body; a body larger than a send row may hold is stored once per batch
# in an item of its own (DynamoDB caps items at 400 KB), never in an index.
MAX_CONTENT_BYTES = 100_000
# The upload answer and the stored batch summary list at most this many skipped rows, and as many
# rows already accepted by earlier uploads.
SKIPPED_ROWS_CAP = 100
# A report echoes at most this many characters of a cell (an address, mostly): a 450 KB cell must not
# make the stored batch summary (or the streaming ingest's checkpoint) outgrow DynamoDB's 400 KB item.
ECHO_MAX_CHARS = 100
# RFC 5321 caps an address at 254 octets; a longer cell is refused before any parsing.
MAX_EMAIL_CHARS = 254

# GraphQL listEmailStatus page size.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# A page of listEmailStatus ends early, with a cursor, before its JSON would pass this many bytes:
# Lambda's synchronous response is capped at 6,291,456 bytes, and GraphQL's envelope and headers need
# some room.
MAX_PAGE_RESPONSE_BYTES = 5_000_000
# Batch summaries a global listing reads per page to find its batches (one item each); a walk over
# small batches doubles it page after page, up to the maximum.
LISTING_BATCHES_PER_PAGE = 3
MAX_LISTING_BATCHES_PER_PAGE = 48

# Receives of a send message before SQS moves it to the DLQ (the queue's redrive maxReceiveCount), and
# the worker's MAX_RECEIVE_COUNT unless set: AWS advises at least 5 with partial batch responses.
DEFAULT_MAX_RECEIVE_COUNT = 5
# AWS API batch limits.
DYNAMODB_BATCH_WRITE_MAX = 25
DYNAMODB_BATCH_GET_MAX = 100
DYNAMODB_TRANSACT_MAX = 100
DYNAMODB_TRANSACT_MAX_BYTES = 4_000_000
SQS_SEND_BATCH_MAX = 10
# Messages one ReceiveMessage returns, and one DeleteMessageBatch deletes, at most.
SQS_RECEIVE_MAX = 10
# A send row that stays within one write unit keeps its body inline (and in the listing index); a
# larger body goes to an item of its own, so that status changes stay one-unit writes.
WRITE_UNIT_BYTES = 1024
# Each batch's counts are also kept per stretch of its file (this many equal stretches), so that a
# listing can size its position ranges where a campaign's statuses are unevenly spread.
HISTOGRAM_BUCKETS = 16
# The listing index spreads each batch's rows over this many partitions per status class, by position
# (seq mod stripes): an ingest writes ~3,800 rows/s and one index partition takes about 1,000.
LISTING_STRIPES = 8
# Defaults of the retention settings (campaign/config.py): how long a message key blocks a second
# send of the same message, and how long rows, bodies and batches are kept (DynamoDB TTL).
DEFAULT_DEDUPE_WINDOW_DAYS = 30
DEFAULT_RETENTION_DAYS = 90

# Ingest steps (100 rows: 10 SendMessageBatch + 4 BatchWriteItem) in flight at once. A 4.5 MB file
# can hold ~90,000 short rows, ~12,600 calls: one after another at ~15 ms each that is over three
# minutes, far past API Gateway's 30 s; eight at a time brings it near 25 s at worst.
INGEST_CONCURRENCY = 8

# How long a batch ingest holds its lease: longer than the API Lambda's 29 s integration timeout, so
# a lease can only lapse when its holder is dead.
INGEST_LEASE_SECONDS = 60

# The worker Lambda's timeout (terraform/locals.tf must equal it). A claim older than twice this
# belongs to a worker that died between claiming a send and recording its result. A batch claims its
# rows first, reads the suppression list once, then sends one row after another: a row is sent only
# while more than WORKER_SEND_MARGIN_SECONDS are left, which covers one SES call at its slowest (connect
# and read timeouts, campaign/aws/clients.py), its result and giving the remaining claims back, so a
# batch that runs short of time never leaves a claim behind.
WORKER_TIMEOUT_SECONDS = 30
CLAIM_STALE_AFTER_SECONDS = 2 * WORKER_TIMEOUT_SECONDS
WORKER_SEND_MARGIN_SECONDS = 15
# SQS hides each new message this long, so that the ingest records its row (written right after the
# send) before any worker can see the message. A worker that is still early retries later.
ENQUEUE_DELAY_SECONDS = 2
# Partial-batch retries (DynamoDB UnprocessedItems, SQS Failed entries) on top of botocore's own.
PARTIAL_RETRY_ATTEMPTS = 6
PARTIAL_RETRY_BASE_SECONDS = 0.05

# The worker's SQS event source mapping batch size (Terraform and the local poller use it). The worker
# reads the suppression list once per batch: 100 rows make that read 0.01 requests per sent row (10
# would make it 0.1). Above 10 the mapping needs a batching window of at least a second (variables.tf).
WORKER_BATCH_SIZE = 100

# Large uploads (POST /uploads → S3 → streaming ingest). A million rows of typical size is 200 MB to
# 1 GB; S3 takes up to 5 GB in one PUT. The row cap keeps one file inside one ingest's budget.
MAX_LARGE_UPLOAD_BYTES = 1_000_000_000
MAX_LARGE_UPLOAD_ROWS = 1_000_000
# How long a pre-signed upload URL stays valid.
UPLOAD_URL_TTL_SECONDS = 900
# The streaming ingest queues rows a window at a time and checkpoints after each: a window is at
# most this many rows or this much row text, so memory stays flat whatever the file's size.
STREAM_WINDOW_ROWS = 4_000
STREAM_WINDOW_BYTES = 16 * 1024 * 1024
# The streaming ingest's Lambda timeout, and the time it keeps in hand: with less left than this it
# checkpoints and continues in a new invocation (a window takes a few seconds at AWS latencies).
STREAM_INGEST_TIMEOUT_SECONDS = 900
STREAM_CONTINUE_MARGIN_SECONDS = 60
# The first pass (checks and hash, no writes) renews the lease every this many records.
STREAM_LEASE_RENEW_RECORDS = 50_000

# Sends one worker invocation has in flight at once (claims, sends and results alike): with SES
# answering in ~60 ms and DynamoDB in ~10 ms, one instance can then keep a few hundred sends a second
# moving, where one after another it managed about ten.
WORKER_SEND_CONCURRENCY = 16
# The send rate one worker instance is counted on for when Terraform derives the event source
# mapping's maximum concurrency from the fleet's rate (terraform/locals.tf must equal it): well under
# what one instance reaches, so that the fleet can always fill its rate.
WORKER_INSTANCE_SENDS_PER_SECOND = 50
# The fleet paces itself at this share of its rate (the account's MaxSendRate, or the configured one):
# sends reach SES a few milliseconds off their slots (network, scheduling), and a fleet aimed exactly
# at the limit would cross it whenever several arrive late together and the next ones on time.
SEND_RATE_HEADROOM = 0.98
# SQS delays a message at most this long (DelaySeconds): a deferral never asks for more.
SQS_MAX_DELAY_SECONDS = 900

# Circuit breakers, one per provider, shared by every worker (campaign/domain/breaker.py): this many
# transient failures within the window open it; while open its sends go to the next provider; after
# the cooldown one send probes it (half-open), and a success closes it.
BREAKER_FAILURES_TO_OPEN = 5
BREAKER_WINDOW_SECONDS = 60
BREAKER_COOLDOWN_SECONDS = 30
