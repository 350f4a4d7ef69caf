// Package static owns the portal's CSS and JavaScript: embedded in the binary,
// served under content-hashed names so browsers may cache them forever.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed files
var files embed.FS

// Prefix is where assets are served.
const Prefix = "/static/"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Assets maps logical names ("app.css") to hashed URLs and serves them.
type Assets struct {
	urls   map[string]string // logical name -> URL path
	byPath map[string]asset  // hashed file name -> content
}

// Load hashes every embedded file once.
func Load() (*Assets, error) {
	a := &Assets{urls: map[string]string{}, byPath: map[string]asset{}}
	err := fs.WalkDir(files, "files", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:12]
		name := strings.TrimPrefix(p, "files/")
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + h + ext
		a.urls[name] = Prefix + hashed
		a.byPath[hashed] = asset{body: body, contentType: mime.TypeByExtension(ext), etag: `"` + h + `"`}
		return nil
	})
	return a, err
}

// URL returns the hashed URL of a logical asset name; it panics on an unknown
// name because that is a programming error caught by any test that renders a page.
func (a *Assets) URL(name string) string {
	u, ok := a.urls[name]
	if !ok {
		panic("static: unknown asset " + name)
	}
	return u
}

// ServeHTTP serves a hashed asset with immutable caching; r.URL.Path is the hashed name.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.byPath[strings.TrimPrefix(r.URL.Path, Prefix)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", f.etag)
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(f.body)
}
