package signing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ocipack/ocipack/internal/testkit"
	"github.com/ocipack/ocipack/signing"
)

// TestOtherSignerNoProblem: an entry signed by A and by B verifies with A's
// key alone, and B's signature is no problem: it is listed as unverified.
func TestOtherSignerNoProblem(t *testing.T) {
	l := testkit.NewLayout(t)
	d := entry(t, l, "v1", "hello")
	sa, pubA := keys(t, "a")
	sb, _ := keys(t, "b")
	for _, s := range []*signing.Signer{sa, sb} {
		if _, err := signing.Sign(ctx, l, d, "v1", s, signing.SignOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := verifyKey(t, l, d, "v1", pubA)
	if !r.OK() || len(r.SignedBy) != 1 {
		t.Fatalf("signed by A and B, verified with A: %v %+v", r.Err, r.SignedBy)
	}
	if len(r.Problems) != 0 {
		t.Errorf("B's signature listed as a problem: %q", r.Problems)
	}
	if len(r.Unverified) != 1 || !strings.Contains(r.Unverified[0], "not made by") {
		t.Errorf("Unverified = %q, want B's signature", r.Unverified)
	}
	// Only B's signature left to judge with A's key: refused, with the reason.
	l2 := testkit.NewLayout(t)
	d2 := entry(t, l2, "v1", "hello")
	if _, err := signing.Sign(ctx, l2, d2, "v1", sb, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	r = verifyKey(t, l2, d2, "v1", pubA)
	if r.OK() || len(r.Problems) != 1 || len(r.Unverified) != 0 {
		t.Errorf("only B's: %v problems %q unverified %q", r.Err, r.Problems, r.Unverified)
	}
}

// TestRequireSignedNames names each entry refused, and passes signed ones.
func TestRequireSignedNames(t *testing.T) {
	l := testkit.NewLayout(t)
	a := entry(t, l, "a", "aaa")
	entry(t, l, "b", "bbb")
	entry(t, l, "c", "ccc")
	s, pub := keys(t, "pw")
	if _, err := signing.Sign(ctx, l, a, "a", s, signing.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	pol := &signing.Policy{Keys: []*signing.PublicKey{pub}}
	if err := signing.RequireSignedNames(ctx, l, []string{"a"}, pol); err != nil {
		t.Fatalf("signed entry refused: %v", err)
	}
	err := signing.RequireSignedNames(ctx, l, []string{"a", "b", "c"}, pol)
	var fe *signing.FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 2 || fe.Failed[0].Name != "b" || fe.Failed[1].Name != "c" {
		t.Fatalf("RequireSignedNames = %v", err)
	}
	if !errors.Is(err, signing.ErrUnsigned) || !strings.Contains(err.Error(), "2 entries without a valid signature") {
		t.Errorf("error: %v", err)
	}
	if err := signing.RequireSignedNames(ctx, l, []string{"nope"}, pol); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown name: %v", err)
	}
	if err := signing.RequireSignedNames(ctx, l, []string{"a"}, &signing.Policy{}); !errors.Is(err, signing.ErrNoPolicy) {
		t.Errorf("empty policy: %v", err)
	}
}
