package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles is a test PKI: a CA, a node certificate (used by every node as its server
// certificate, and as its client certificate on the cluster bus and for replication) and a
// client certificate for Terraform, each as PEM text and as a file. Make one with NewTLSFiles
// and pass it as Options.TLS.
//
// The node certificate is valid for "localhost", ::1 and every address 127.0.0.1-127.0.0.254, so
// clients verify it when dialing any loopback address (DistinctHosts included) or localhost.
type TLSFiles struct {
	// Dir holds the files; it is removed when the test ends.
	Dir string

	CAFile, CertFile, KeyFile     string // CA certificate; node certificate and key
	ClientCertFile, ClientKeyFile string // client certificate and key (CN "terraform")
	CA, Cert, Key                 string // PEM text of the files above
	ClientCert, ClientKey         string
	caCert                        *x509.Certificate
	caKey                         *ecdsa.PrivateKey
	clientKeyPair, serverKeyPair  tls.Certificate
	caPool                        *x509.CertPool
}

// NewTLSFiles generates a fresh CA with a node and a client certificate (ECDSA P-256, valid
// from an hour ago for a day) and writes them to a directory removed when the test ends.
// Two calls make two unrelated CAs: one can play the wrong CA for the other.
func NewTLSFiles(t testing.TB) *TLSFiles {
	t.Helper()
	f, err := newTLSFiles()
	if err != nil {
		t.Fatalf("redistest: generating TLS certificates: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(f.Dir) })
	return f
}

func newTLSFiles() (*TLSFiles, error) {
	dir, err := os.MkdirTemp("", "redistest-tls-")
	if err != nil {
		return nil, err
	}
	f := &TLSFiles{Dir: dir}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "redistest CA " + serial().Text(36)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	f.caCert, err = x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	f.caKey = caKey
	f.CA = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	f.caPool = x509.NewCertPool()
	f.caPool.AddCert(f.caCert)

	ips := []net.IP{net.IPv6loopback}
	for i := 1; i <= 254; i++ {
		ips = append(ips, net.IPv4(127, 0, 0, byte(i)))
	}
	f.Cert, f.Key, err = f.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "redistest node"},
		DNSNames:    []string{"localhost"},
		IPAddresses: ips,
		// Nodes present it to clients, and to each other on the bus and for replication.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	f.ClientCert, f.ClientKey, err = f.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "terraform"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	if f.serverKeyPair, err = tls.X509KeyPair([]byte(f.Cert), []byte(f.Key)); err != nil {
		return nil, err
	}
	if f.clientKeyPair, err = tls.X509KeyPair([]byte(f.ClientCert), []byte(f.ClientKey)); err != nil {
		return nil, err
	}
	files := []struct {
		path *string
		name string
		data string
	}{
		{&f.CAFile, "ca.crt", f.CA},
		{&f.CertFile, "node.crt", f.Cert},
		{&f.KeyFile, "node.key", f.Key},
		{&f.ClientCertFile, "client.crt", f.ClientCert},
		{&f.ClientKeyFile, "client.key", f.ClientKey},
	}
	for _, x := range files {
		*x.path = filepath.Join(dir, x.name)
		if err := os.WriteFile(*x.path, []byte(x.data), 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// issue signs tmpl with the CA and returns certificate and PKCS #8 key as PEM.
func (f *TLSFiles) issue(tmpl *x509.Certificate) (certPEM, keyPEM string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.caCert, &key.PublicKey, f.caKey)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(fmt.Sprintf("redistest: crypto/rand: %v", err))
	}
	return n
}

// ClientConfig is the TLS configuration a client of the nodes uses: the CA as the only root
// and the client certificate (nodes start with tls-auth-clients as Options.TLSAuthClients
// says, by default "yes").
func (f *TLSFiles) ClientConfig() *tls.Config {
	return &tls.Config{
		RootCAs:      f.caPool,
		Certificates: []tls.Certificate{f.clientKeyPair},
		MinVersion:   tls.VersionTLS12,
	}
}

// args are the redis-server arguments that make a node serve TLS only, on port, with the
// cluster bus and replication over TLS too.
func (f *TLSFiles) args(port int, authClients string) []string {
	a := []string{
		"--port", "0",
		"--tls-port", fmt.Sprint(port),
		"--tls-cluster", "yes",
		"--tls-replication", "yes",
		"--tls-cert-file", f.CertFile,
		"--tls-key-file", f.KeyFile,
		"--tls-ca-cert-file", f.CAFile,
	}
	if authClients != "" {
		a = append(a, "--tls-auth-clients", authClients)
	}
	return a
}
