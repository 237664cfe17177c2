package signing_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/signing"
)

// Sign an entry of a layout with a new cosign key pair, then verify it
// with the public key, as the far side of an air gap does.
func ExampleVerify() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ocipack-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	l, err := layout.OpenOrCreate(ctx, filepath.Join(tmp, "bundle"))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	// An entry to sign: here a manifest stored and tagged by hand.
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`)
	if _, err := l.Ingest(ctx, "application/vnd.oci.empty.v1+json", bytesReader(`{}`)); err != nil {
		log.Fatal(err)
	}
	desc, err := l.Ingest(ctx, "application/vnd.oci.image.manifest.v1+json", bytesReader(string(m)))
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Tag(ctx, desc, "v1"); err != nil {
		log.Fatal(err)
	}

	kp, err := signing.GenerateKeyPair([]byte("password"))
	if err != nil {
		log.Fatal(err)
	}
	signer, err := signing.LoadPrivateKey(kp.PrivatePEM, []byte("password"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := signing.Sign(ctx, l, desc, "v1", signer, signing.SignOptions{}); err != nil {
		log.Fatal(err)
	}

	pub, err := signing.LoadPublicKey(kp.PublicPEM, "cosign.pub")
	if err != nil {
		log.Fatal(err)
	}
	res, err := signing.Verify(ctx, l, desc, "v1", &signing.Policy{Keys: []*signing.PublicKey{pub}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.OK(), res.SignedBy)
	// Output: true [key cosign.pub]
}
