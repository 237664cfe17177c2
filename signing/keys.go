package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// PEM block types of the private keys cosign writes: new keys are
// "ENCRYPTED SIGSTORE PRIVATE KEY", older ones "ENCRYPTED COSIGN PRIVATE
// KEY"; both hold a PKCS #8 key encrypted with scrypt and NaCl secretbox
// (go-securesystemslib's encrypted format).
const (
	PEMTypeSigstorePrivateKey = "ENCRYPTED SIGSTORE PRIVATE KEY"
	PEMTypeCosignPrivateKey   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// maxKeyFile bounds what is read of a key or trusted-root file.
const maxKeyFile = 4 << 20

// KeyPair is a key pair in cosign's file formats: the encrypted private key
// (NAME.key) and the PKIX public key (NAME.pub), both PEM.
type KeyPair struct {
	// PrivatePEM is the encrypted private key, as cosign writes NAME.key.
	PrivatePEM []byte
	// PublicPEM is the public key, as cosign writes NAME.pub.
	PublicPEM []byte
}

// GenerateKeyPair makes a new ECDSA P-256 key pair, as `cosign
// generate-key-pair` does, the private key encrypted with password (which
// may be empty, as cosign allows).
func GenerateKeyPair(password []byte) (*KeyPair, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return &KeyPair{
		PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: PEMTypeSigstorePrivateKey, Bytes: enc}),
		PublicPEM:  pub,
	}, nil
}

// WriteFiles writes the pair to base+".key" (mode 0600) and base+".pub"
// (mode 0644), each through a temporary file renamed into place. It refuses,
// with an error wrapping fs.ErrExist, to replace either file, and then
// writes nothing.
func (k *KeyPair) WriteFiles(base string) error {
	keyPath, pubPath := base+".key", base+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w: remove it first, or give another name", p, os.ErrExist)
		}
	}
	if err := writeFileAtomic(keyPath, k.PrivatePEM, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(pubPath, k.PublicPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	return nil
}

func writeFileAtomic(p string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, not rename: never replaces a file made meanwhile.
		err = os.Link(tmp, p)
	}
	os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// Signer is a private key loaded to sign with. It implements sigstore-go's
// sign.Keypair, so sign.Bundle takes it.
type Signer struct {
	sv   signature.SignerVerifier
	pub  crypto.PublicKey
	alg  signature.AlgorithmDetails
	hint []byte
}

// LoadPrivateKey decrypts a private key in cosign's format (see
// PEMTypeSigstorePrivateKey) with password. A wrong password fails with
// ErrWrongPassword.
func LoadPrivateKey(pemBytes, password []byte) (*Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block: not a cosign private key", ErrBadKey)
	}
	if block.Type != PEMTypeSigstorePrivateKey && block.Type != PEMTypeCosignPrivateKey {
		return nil, fmt.Errorf("%w: PEM type %q: want %q as cosign writes it", ErrBadKey, block.Type, PEMTypeSigstorePrivateKey)
	}
	der, err := encrypted.Decrypt(block.Bytes, password)
	if err != nil {
		return nil, fmt.Errorf("%w: the key does not open with this password (from COSIGN_PASSWORD or --password-stdin)", ErrWrongPassword)
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return NewSigner(pk)
}

// LoadPrivateKeyFile reads and decrypts the private key file path (see
// LoadPrivateKey).
func LoadPrivateKeyFile(path string, password []byte) (*Signer, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	s, err := LoadPrivateKey(b, password)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return s, nil
}

// NewSigner makes a Signer of an ECDSA, RSA or Ed25519 private key, with
// the algorithms cosign uses for it (Ed25519ph for Ed25519).
func NewSigner(key crypto.PrivateKey) (*Signer, error) {
	cs, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a signing key", ErrBadKey, key)
	}
	switch cs.Public().(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%w: %T keys are not supported", ErrBadKey, cs.Public())
	}
	opts := []signature.LoadOption{options.WithED25519ph()}
	alg, err := signature.GetDefaultAlgorithmDetails(cs.Public(), opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	sv, err := signature.LoadSignerVerifierFromAlgorithmDetails(key, alg, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	hint, err := keyHint(cs.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{sv: sv, pub: cs.Public(), alg: alg, hint: []byte(hint)}, nil
}

// keyHint is the key hint cosign and sigstore-go put in a bundle: the
// base64 of the SHA-256 of the PKIX DER public key.
func keyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// PublicKey returns the signer's public key, as a verifier loads it.
func (s *Signer) PublicKey() *PublicKey {
	v, _ := signature.LoadVerifierFromAlgorithmDetails(s.pub, s.alg, options.WithED25519ph())
	return &PublicKey{Name: "the signing key", Key: s.pub, Hint: string(s.hint), verifier: v}
}

// GetHashAlgorithm implements sign.Keypair.
func (s *Signer) GetHashAlgorithm() protocommon.HashAlgorithm { return s.alg.GetProtoHashType() }

// GetSigningAlgorithm implements sign.Keypair.
func (s *Signer) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return s.alg.GetSignatureAlgorithm()
}

// GetHint implements sign.Keypair: the key's hint (see keyHint).
func (s *Signer) GetHint() []byte { return s.hint }

// GetKeyAlgorithm implements sign.Keypair.
func (s *Signer) GetKeyAlgorithm() string {
	switch s.pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case *rsa.PublicKey:
		return "RSA"
	case ed25519.PublicKey:
		return "ED25519"
	}
	return ""
}

// GetPublicKey implements sign.Keypair.
func (s *Signer) GetPublicKey() crypto.PublicKey { return s.pub }

// GetPublicKeyPem implements sign.Keypair.
func (s *Signer) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(s.pub)
	return string(b), err
}

// SignData implements sign.Keypair: it signs data (hashed first, except
// for pure Ed25519) and returns the signature and what was signed.
func (s *Signer) SignData(ctx context.Context, data []byte) ([]byte, []byte, error) {
	var sum []byte
	opts := []signature.SignOption{options.WithContext(ctx)}
	if h := s.alg.GetHashType(); h != 0 {
		hh := h.New()
		hh.Write(data)
		sum = hh.Sum(nil)
		opts = append(opts, options.WithDigest(sum))
	}
	sig, err := s.sv.SignMessage(bytes.NewReader(data), opts...)
	if err != nil {
		return nil, nil, err
	}
	return sig, sum, nil
}

// PublicKey is a public key to verify with.
type PublicKey struct {
	// Name names the key in reports: its file, or what the caller set.
	Name string
	// Key is the key.
	Key crypto.PublicKey
	// Hint is the key's hint as a bundle carries it.
	Hint     string
	verifier signature.Verifier
}

// LoadPublicKey parses a PEM public key (PKIX, as cosign writes NAME.pub)
// named name in reports.
func LoadPublicKey(pemBytes []byte, name string) (*PublicKey, error) {
	if blk, _ := pem.Decode(pemBytes); blk != nil && strings.Contains(blk.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("%s: %w: this is a private key; verifying takes the public key (NAME.pub, written beside NAME.key)", name, ErrBadKey)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: not a PEM public key as cosign writes it (%v)", name, ErrBadKey, err)
	}
	v, err := signature.LoadDefaultVerifier(pub, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrBadKey, err)
	}
	hint, err := keyHint(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &PublicKey{Name: name, Key: pub, Hint: hint, verifier: v}, nil
}

// LoadPublicKeyFile reads the public key file path (see LoadPublicKey).
func LoadPublicKeyFile(path string) (*PublicKey, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	return LoadPublicKey(b, path)
}

func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s: more than %d bytes: not a key or trusted root file", path, maxKeyFile)
	}
	return b, nil
}
