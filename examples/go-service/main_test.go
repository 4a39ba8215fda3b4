package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	newMux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: not JSON: %q", path, rec.Body.String())
	}
	return rec.Code, body
}

func TestHealth(t *testing.T) {
	if code, body := get(t, "/health"); code != 200 || body["status"] != "ok" {
		t.Fatalf("GET /health = %d %v", code, body)
	}
}

func TestConvertEndpoint(t *testing.T) {
	if code, body := get(t, "/convert?value=3&from=ft&to=in"); code != 200 || body["result"] != 36.0 {
		t.Fatalf("GET /convert = %d %v", code, body)
	}
}

func TestConvertRefusesBadInput(t *testing.T) {
	for _, path := range []string{"/convert?value=x&from=m&to=m", "/convert?value=1&from=m&to=furlong"} {
		if code, _ := get(t, path); code != 400 {
			t.Errorf("GET %s = %d, want 400", path, code)
		}
	}
}
