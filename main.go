package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/tfredis/terraform-provider-redis/internal/provider"
)

// Set by goreleaser: -X main.version=... -X main.commit=...
var (
	version = "dev"
	commit  = "none"
)

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	if debug {
		log.Printf("terraform-provider-redis %s (commit %s)", version, commit)
	}
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/tfredis/redis",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
