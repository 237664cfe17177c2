package serve_test

import (
	"context"

	"github.com/ocipack/ocipack/archive"
	"github.com/ocipack/ocipack/layout"
)

func exportTar(l *layout.Layout, path string) error {
	_, err := archive.ExportFile(context.Background(), l, nil, path, archive.ExportOptions{})
	return err
}
