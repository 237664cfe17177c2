package serve

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// readHtpasswd reads an htpasswd file of bcrypt entries (user:$2y$...).
func readHtpasswd(path string) (map[string][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, h, ok := strings.Cut(line, ":")
		if !ok || u == "" || !strings.HasPrefix(h, "$2") {
			return nil, fmt.Errorf("htpasswd %s line %d: not a user:bcrypt-hash entry", path, n)
		}
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return nil, fmt.Errorf("htpasswd %s line %d: %v", path, n, err)
		}
		users[u] = []byte(h)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("htpasswd %s: no user", path)
	}
	return users, nil
}

// authorized checks r's basic credentials.
func (s *Server) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	h, known := s.users[u]
	if !known {
		return false
	}
	return bcrypt.CompareHashAndPassword(h, []byte(p)) == nil
}
