package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAssetsServeGzipToBrowsersThatAcceptIt(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.css", "app.js", "link.js", "htmx.js", "favicon.svg"} {
		t.Run(name, func(t *testing.T) {
			get := func(acceptEncoding string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodGet, a.URL(name), nil)
				if acceptEncoding != "" {
					r.Header.Set("Accept-Encoding", acceptEncoding)
				}
				w := httptest.NewRecorder()
				a.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Fatalf("GET %s: status %d, want 200", a.URL(name), w.Code)
				}
				return w
			}
			plain := get("")
			if got := plain.Header().Get("Content-Encoding"); got != "" {
				t.Errorf("without Accept-Encoding: Content-Encoding %q, want none", got)
			}
			if got := get("gzip;q=0").Header().Get("Content-Encoding"); got != "" {
				t.Errorf("with gzip;q=0: Content-Encoding %q, want none", got)
			}
			zipped := get("gzip, deflate, br, zstd")
			if got := zipped.Header().Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip", got)
			}
			if got := zipped.Header().Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary %q, want Accept-Encoding", got)
			}
			if zipped.Body.Len() >= plain.Body.Len() {
				t.Errorf("gzip body %d bytes, plain %d: not smaller", zipped.Body.Len(), plain.Body.Len())
			}
			zr, err := gzip.NewReader(bytes.NewReader(zipped.Body.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, plain.Body.Bytes()) {
				t.Errorf("gunzipped body differs from the plain one")
			}
		})
	}
}

func TestHTMXBundleHoldsHTMXThenTheMorphExtension(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest(http.MethodGet, a.URL("htmx.js"), nil))
	body := w.Body.String()
	htmx, ext := strings.Index(body, "var htmx="), strings.Index(body, `htmx.defineExtension("morph"`)
	if htmx < 0 || ext < 0 || ext < htmx {
		t.Errorf("bundle: htmx at %d, morph extension at %d; want both, htmx first", htmx, ext)
	}
	if got := w.Header().Get("Content-Type"); !strings.Contains(got, "javascript") {
		t.Errorf("Content-Type %q, want javascript", got)
	}
}
