package signing_test

import (
	"crypto"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/ocipack/ocipack/signing"
)

func x509MarshalPKIX(pub *signing.PublicKey) ([]byte, error) {
	return x509.MarshalPKIXPublicKey(pub.Key)
}

func loadECDSAPub(t *testing.T, k crypto.PublicKey) *signing.PublicKey {
	t.Helper()
	p, err := cryptoutils.MarshalPublicKeyToPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKey(p, "legacy.pub")
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }
