#!/bin/sh
# Bootstrap and deploy the fanout stack to LocalStack with the plain aws-cdk CLI
# (what cdklocal does, without its extra package): AWS_ENDPOINT_URL points every
# SDK client at LocalStack, and the CLI switches S3 to path-style for a loopback endpoint.
#   LOCALSTACK_ENDPOINT  default http://localhost:4566
#   extra arguments go to `cdk deploy`, e.g. -c analysis=row-sums -c frameRows=50
set -eu
cd "$(dirname "$0")/.."
export AWS_ENDPOINT_URL="${LOCALSTACK_ENDPOINT:-http://localhost:4566}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export CDK_DISABLE_CLI_TELEMETRY=true
# No account given: the CLI asks the endpoint's STS (LocalStack answers 000000000000).
npx cdk bootstrap --no-notices
# destroyOnRemoval: a LocalStack stack is throwaway, so its bucket goes with it.
npx cdk deploy FanoutStack --no-notices --require-approval never -c destroyOnRemoval=true \
  --outputs-file cdk.out/localstack-outputs.json "$@"
