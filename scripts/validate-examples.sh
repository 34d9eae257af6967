#!/usr/bin/env bash
# Validates every example with the provider built from this tree. Terraform
# cannot reach a registry here, so the provider is served from a local
# filesystem mirror and `terraform init` installs it (and local modules)
# offline, in a copy of examples/. Examples hold documentation addresses
# (10.0.0.x): they are validated, never applied.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=0.0.1 # not a prerelease: "latest" never picks those
platform="$(go env GOOS)_$(go env GOARCH)"
mirror="$work/mirror/registry.terraform.io/tfredis/redis/$version/$platform"
mkdir -p "$mirror"
go build -o "$mirror/terraform-provider-redis_v$version" .
cat > "$work/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$work/mirror"
    include = ["registry.terraform.io/tfredis/redis"]
  }
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc"

terraform fmt -check -recursive examples

cp -r examples "$work/examples"
failed=0
while IFS= read -r dir; do
  case "$dir" in examples/modules/*) continue ;; esac # validated through their callers
  copy="$work/$dir"
  if ! grep -Eqs '^\s*required_providers\s*\{' "$copy"/*.tf; then
    cat > "$copy/zz_required_providers.tf" <<'TF'
terraform {
  required_providers {
    redis = { source = "tfredis/redis" }
  }
}
TF
  fi
  if out=$(terraform -chdir="$copy" init -backend=false -input=false -no-color 2>&1 &&
    terraform -chdir="$copy" validate -no-color 2>&1); then
    echo "ok    $dir"
  else
    echo "FAIL  $dir"
    echo "$out" | sed 's/^/      /' | tail -30
    failed=1
  fi
done < <(find examples -name '*.tf' -printf '%h\n' | sort -u)
exit $failed
