package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

func TestScratchTLS(t *testing.T) {
	f := redistest.NewTLSFiles(t)
	other := redistest.NewTLSFiles(t)
	n := redistest.Start(t, 1, redistest.Options{TLS: f})[0]
	plainNode := redistest.Start(t, 1, redistest.Options{})[0]
	pw := n.Password()
	try := func(name string, addr string, tc *tls.Config) {
		p := NewPool(PoolConfig{Credentials: Credentials{Password: pw}, TLS: tc, DialTimeout: time.Second})
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := p.Client(addr).Ping(ctx).Err()
		kind := ""
		if err != nil {
			kind = classify(err).String()
		}
		fmt.Printf("%-20s err=%T %v\n     kind=%s\n", name, err, err, kind)
	}
	good := f.ClientConfig()
	try("good", n.Addr(), good)
	wrongCA := f.ClientConfig()
	wrongCA.RootCAs = other.ClientConfig().RootCAs
	try("wrongCA", n.Addr(), wrongCA)
	noCert := f.ClientConfig()
	noCert.Certificates = nil
	try("noClientCert", n.Addr(), noCert)
	noCert12 := noCert.Clone()
	noCert12.MaxVersion = tls.VersionTLS12
	try("noClientCert12", n.Addr(), noCert12)
	otherCert := f.ClientConfig()
	otherCert.Certificates = other.ClientConfig().Certificates
	try("clientCertOtherCA", n.Addr(), otherCert)
	sn := f.ClientConfig()
	sn.ServerName = "wrong.example"
	try("serverName", n.Addr(), sn)
	try("plainToTLS", n.Addr(), nil)
	try("tlsToPlain", plainNode.Addr(), good)
}
