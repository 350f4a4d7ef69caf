// Package static owns the portal's CSS and JavaScript: embedded in the binary,
// served under content-hashed names so browsers may cache them forever.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
)

//go:embed files
var files embed.FS

// vendor holds third-party browser libraries, copied from their npm packages
// (which ones, their versions and how to update them: vendor/README.md).
//
//go:embed vendor/*.js
var vendor embed.FS

// bundles are assets made of files concatenated in order, so a page pays one
// request for them: the Link glue ships with htmx and idiomorph, which run the
// live refresh of the pages that load it (files/live.js). A bundle takes its
// logical name from a file of files/; the files of files/ in a bundle are
// served only inside it.
var bundles = []struct {
	name  string
	parts []string
}{
	{"link.js", []string{"vendor/htmx.min.js", "vendor/idiomorph-ext.min.js", "files/live.js", "files/link.js"}},
}

func readPart(p string) ([]byte, error) {
	if strings.HasPrefix(p, "vendor/") {
		return vendor.ReadFile(p)
	}
	return files.ReadFile(p)
}

func bundled(name string) bool {
	for _, b := range bundles {
		if slices.Contains(b.parts, "files/"+name) {
			return true
		}
	}
	return false
}

// Prefix is where assets are served.
const Prefix = "/static/"

type asset struct {
	body        []byte
	gzipped     []byte // nil when compressing does not pay (images)
	contentType string
	etag        string
}

// Assets maps logical names ("app.css") to hashed URLs and serves them.
type Assets struct {
	urls   map[string]string // logical name -> URL path
	byPath map[string]asset  // hashed file name -> content
}

// Load hashes (and compresses) every embedded file and bundle once.
func Load() (*Assets, error) {
	a := &Assets{urls: map[string]string{}, byPath: map[string]asset{}}
	err := fs.WalkDir(files, "files", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "files/")
		if bundled(name) {
			return nil
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return a.add(name, body)
	})
	if err != nil {
		return nil, err
	}
	for _, b := range bundles {
		var body []byte
		for _, p := range b.parts {
			part, err := readPart(p)
			if err != nil {
				return nil, err
			}
			body = append(append(body, part...), '\n')
		}
		if err := a.add(b.name, body); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// add registers one asset under its hashed name, with a gzip copy for text,
// made once here so no request pays for compression.
func (a *Assets) add(name string, body []byte) error {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])[:12]
	ext := path.Ext(name)
	hashed := strings.TrimSuffix(name, ext) + "." + h + ext
	f := asset{body: body, contentType: mime.TypeByExtension(ext), etag: `"` + h + `"`}
	if compressible(f.contentType) {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(body); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if buf.Len() < len(body) {
			f.gzipped = buf.Bytes()
		}
	}
	a.urls[name] = Prefix + hashed
	a.byPath[hashed] = f
	return nil
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.Contains(contentType, "javascript") ||
		strings.HasPrefix(contentType, "image/svg")
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
	if f.gzipped != nil {
		h.Set("Vary", "Accept-Encoding")
	}
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if f.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		w.Write(f.gzipped)
		return
	}
	w.Write(f.body)
}

// acceptsGzip reads an Accept-Encoding header: gzip listed and not refused with q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
