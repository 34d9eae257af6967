// Copyright (c) tfredis contributors
// SPDX-License-Identifier: MPL-2.0

//go:build tools

// This file pins the documentation generator in go.mod, so that
// `go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs` (see
// generate.go) and `go tool tfplugindocs` use the version recorded there.
// The build tag keeps `go build ./...` from trying to import a program.
package tools

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)
