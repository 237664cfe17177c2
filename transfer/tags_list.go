package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// ErrRepositoryNotFound means the registry answered 404 to the tag list of
// a repository: it does not know the repository, or (as Distribution
// answers) the repository holds no tag.
var ErrRepositoryNotFound = errors.New("no such repository")

// ListTags returns the tags of the registry repository repo (a reference
// without a tag or digest), in the order the registry lists them, reading
// the list page by page as the registry paginates it. It fails with
// ErrTooManyPages when the registry returns more than MaxTagPages pages or
// more than MaxTags tags, and with ErrRepositoryNotFound when it answers
// that it does not know the repository. A repository without tags has an
// empty list, or, from registries that answer so, ErrRepositoryNotFound.
func ListTags(ctx context.Context, repo registry.Reference, opts ConnectionOptions) ([]string, error) {
	if repo.Reference != "" {
		return nil, fmt.Errorf("%w: %s: listing tags needs a repository without a tag or digest", ErrInvalidReference, repo)
	}
	r, err := NewRepository(repo, opts)
	if err != nil {
		return nil, err
	}
	defer closeIdleConnections(r.Client)
	tags, err := listAllTags(ctx, r, "list the tags you need by name")
	if tags == nil && err == nil {
		tags = []string{}
	}
	return tags, err
}

// listTags lists the tags of repo for PullTags and CopyTags (verb is "pull"
// or "copy"): a repository without tags is an error there, there being
// nothing to copy.
func listTags(ctx context.Context, repo *remote.Repository, verb string) ([]string, error) {
	tags, err := listAllTags(ctx, repo, verb+" the tags you need by name")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("%s/%s has no tags: nothing to %s", repo.Reference.Registry, repo.Reference.Repository, verb)
	}
	return tags, nil
}

// listAllTags reads every page of repo's tag list, within MaxTagPages and
// MaxTags; advice ends the error of a listing that goes on too long.
func listAllTags(ctx context.Context, repo *remote.Repository, advice string) ([]string, error) {
	repo.TagListPageSize = tagListPageSize
	var tags []string
	name := repo.Reference.Registry + "/" + repo.Reference.Repository
	err := repo.Tags(ctx, "", func(page []string) error {
		if len(page) > MaxTags-len(tags) {
			return tooMany("registry %s lists more than %d tags for %s; refusing to list more: %s",
				repo.Reference.Registry, MaxTags, repo.Reference.Repository, advice)
		}
		tags = append(tags, page...)
		return nil
	})
	if errors.Is(err, errdef.ErrTooManyPages) {
		// oras-go stopped at TagListMaxPages (set by NewRepository).
		return nil, tooMany("registry %s keeps returning more tag pages for %s after %d pages; refusing to list more: %s",
			repo.Reference.Registry, repo.Reference.Repository, MaxTagPages, advice)
	}
	if errors.Is(err, ErrTooManyPages) {
		return nil, err
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) && resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("list the tags of %s: %w: registry %s has no repository %s, or no tag in it (%v)", name, ErrRepositoryNotFound, repo.Reference.Registry, repo.Reference.Repository, err)
	}
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", name, explain(err, repo.Reference.Registry))
	}
	return tags, nil
}
