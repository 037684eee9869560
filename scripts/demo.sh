#!/usr/bin/env bash
# Demo: upload example_csv/campaign.csv, then poll GraphQL until every row is final.
# Usage: scripts/demo.sh [BASE_URL]   (default http://127.0.0.1:8000, i.e. `make run`)
# For a deployed stage, pass its API URL (terraform output api_url).
set -euo pipefail
BASE="${1:-http://127.0.0.1:8000}"
BASE="${BASE%/}"
CSV="${CSV:-$(dirname "$0")/../example_csv/campaign.csv}"
AUTH=()
if [ -n "${API_KEY:-}" ]; then AUTH=(-H "x-api-key: ${API_KEY}"); fi
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'d': d}))" "$1"; }

echo "== POST $BASE/upload ($CSV)"
upload=$(curl -sS --fail-with-body "${AUTH[@]}" -F "file=@${CSV};type=text/csv" "$BASE/upload")
echo "$upload"
batch=$(echo "$upload" | json 'd["batchId"]')

query='query($b: String!) { batch(batchId: $b) { total enqueued skipped counts { pending queued sent error } } }'
payload=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": {"b": sys.argv[2]}}))' "$query" "$batch")
for _ in $(seq 1 60); do
  counts=$(curl -sS --fail-with-body "${AUTH[@]}" -H 'content-type: application/json' -d "$payload" "$BASE/graphql")
  open=$(echo "$counts" | json 'd["data"]["batch"]["counts"]["pending"] + d["data"]["batch"]["counts"]["queued"]')
  echo "== batch $batch: $(echo "$counts" | json 'd["data"]["batch"]["counts"]')"
  [ "$open" = "0" ] && break
  sleep 1
done

list='query($b: String!) { listEmailStatus(batchId: $b, first: 5) { items { email status attempts providerMessageId updatedAt } nextCursor } }'
payload=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": {"b": sys.argv[2]}}))' "$list" "$batch")
echo "== listEmailStatus (first 5)"
curl -sS --fail-with-body "${AUTH[@]}" -H 'content-type: application/json' -d "$payload" "$BASE/graphql" | python3 -m json.tool
[ "$open" = "0" ] || { echo "rows still open after 60 s" >&2; exit 1; }
