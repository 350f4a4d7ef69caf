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
	for _, name := range []string{"app.css", "app.js", "link.js", "favicon.svg"} {
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

func TestLinkBundleHoldsHTMXThenTheMorphExtensionThenTheLiveRegionThenTheGlue(t *testing.T) {
	a, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest(http.MethodGet, a.URL("link.js"), nil))
	body := w.Body.String()
	htmx, ext := strings.Index(body, "var htmx="), strings.Index(body, `htmx.defineExtension("morph"`)
	live, glue := strings.Index(body, "// Live region"), strings.Index(body, "// Link glue")
	if htmx < 0 || ext < htmx || live < ext || glue < live {
		t.Errorf("bundle: htmx at %d, morph extension at %d, live region at %d, glue at %d; want all four in that order", htmx, ext, live, glue)
	}
	if n := len(a.byPath); n != len(a.urls) {
		t.Errorf("%d files served for %d logical names: a bundled file is also served alone", n, len(a.urls))
	}
	if got := w.Header().Get("Content-Type"); !strings.Contains(got, "javascript") {
		t.Errorf("Content-Type %q, want javascript", got)
	}
}
