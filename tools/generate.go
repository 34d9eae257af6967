// Copyright (c) tfredis contributors
// SPDX-License-Identifier: MPL-2.0

// Package tools holds the code generators of terraform-provider-redis in a
// module of their own, so the provider's go.mod stays free of them. Run
// `make generate` (or `cd tools && go generate ./...`) from the repository root.
//
// These directives live in a file without a build tag so that a plain
// `go generate ./...` sees them.
package tools

// Format the examples, which the generated documentation embeds.
//go:generate terraform fmt -recursive ../examples/

// Build the provider, read its schema through the terraform binary on PATH
// (never pass --tf-version: that downloads Terraform), and render docs/ from
// templates/ and examples/.
//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-dir .. --provider-name redis
