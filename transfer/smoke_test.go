package transfer_test

import (
	"context"
	"os"
	"testing"

	"github.com/ocipack/ocipack/internal/registrytest"
	"github.com/ocipack/ocipack/layout"
	"github.com/ocipack/ocipack/pack"
	"github.com/ocipack/ocipack/transfer"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	dir := t.TempDir()
	l, err := layout.OpenOrCreate(ctx, dir+"/l")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pack.Pack(ctx, l, "v1", []pack.Input{{Path: "../testdata/example/site"}, {Path: "../testdata/example/app-1.0.tar"}}, pack.Options{}); err != nil {
		t.Fatal(err)
	}
	ref, _ := transfer.ParseReference(reg.Host + "/apps/site:v1")
	res, err := transfer.Push(ctx, l, "v1", ref, "v1", transfer.Options{PlainHTTP: true})
	t.Logf("%+v %v", res, err)
	res, err = transfer.Push(ctx, l, "v1", ref, "v1", transfer.Options{PlainHTTP: true})
	t.Logf("%+v %v", res, err)
	l2, _ := layout.OpenOrCreate(ctx, dir+"/l2")
	res, err = transfer.Pull(ctx, ref, l2, "v1", transfer.Options{PlainHTTP: true})
	t.Logf("%+v %v", res, err)
	os.WriteFile("/tmp/smoke/host", []byte(reg.Host), 0o644)
}
